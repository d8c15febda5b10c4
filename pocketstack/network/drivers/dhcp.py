"""The DHCP agent's kernel side: one namespace and one dnsmasq per network (Neutron's
``neutron.agent.linux.dhcp.Dnsmasq``, static leases only).

For each network in the host state's ``dhcp`` list (docs/network-dataplane.md):

- namespace ``qdhcp-<network_id>``, ``lo`` up;
- the DHCP port as a veth pair: ``ns-<port_id[:11]>`` inside (the port's MAC, fixed IPs and
  the network's MTU), ``tap<port_id[:11]>`` in the host namespace (``netns``), enslaved to
  ``brq<network_id[:11]>`` when that bridge already exists (the L2 agent enslaves it
  otherwise: both do it idempotently);
- one dnsmasq bound to ``ns-`` with one static ``--dhcp-range`` per IPv4 subnet tagged
  ``subnet-<subnet_id>``; per subnet, forced options MTU (26), router (3: the gateway, or
  none), dns-server (6: ``dns_nameservers``; dnsmasq itself when empty) and classless static
  routes (121: ``host_routes`` plus the default route through the gateway);
- IPv6 subnets as Neutron's ``Dnsmasq`` serves them: ``dhcpv6-stateful`` (or no mode at all)
  a static range ``<prefix>,static,<prefixlen>`` whose hosts get their address by MAC,
  ``dhcpv6-stateless`` the same range answering options only (no host address), ``slaac``
  none; the IPv6 ``dns_nameservers`` as option6 ``dns-server``. Router advertisements come
  from this dnsmasq too (``--enable-ra``; Neutron runs radvd in the router namespace) for a
  subnet with an ``ipv6_ra_mode`` that a router interface sits on (``router_attached``):
  ``slaac`` ``ra-only`` (A flag), ``dhcpv6-stateless`` ``ra-stateless`` (A and O flags),
  ``dhcpv6-stateful`` the static range (M flag); their router lifetime is 0 (``--ra-param``),
  as this namespace forwards nothing: guests get their addresses and the on-link prefix,
  not a default route;
- files under ``<state_dir>/dhcp/<network_id>/``: ``host`` (``<mac>,<hostname>,<ip>``, ``[<ipv6>]``,
  ``set:port-<mac>`` for hosts with ``extra_dhcp_opts``), ``opts`` (those options),
  ``addn_hosts`` (``<ip> <hostname>``), ``leases``, ``pid``.

A change of hosts or options rewrites the files and sends dnsmasq SIGHUP (it re-reads them);
a change of its command line (subnets, MTU, the port) restarts it, and so does a host entry
whose address is still leased to another MAC (a deleted port's: dnsmasq would refuse it;
the restart drops leases that are no host entry any more, where Neutron uses
``dhcp_release``).

A network is ours when its directory exists under ``<state_dir>/dhcp/``: networks no longer
wanted lose their dnsmasq (killed by pid file, after checking ``/proc/<pid>/cmdline`` names
the network), their namespace and their directory; other ``qdhcp-`` namespaces are left
alone.

dnsmasq runs as root (``--user=root``): after dropping to ``nobody`` it could not re-read its
files on SIGHUP, the state directory being private to root.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Iterable
from typing import Any

from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriverError

LOG = logging.getLogger(__name__)

#: seconds to wait for dnsmasq to write its pid file, or to exit once signalled
PROCESS_WAIT = 5.0
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_OPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


def namespace_name(network_id: str) -> str:
    """``qdhcp-<network_id>``: the network's DHCP namespace (Neutron's name)."""
    return "qdhcp-" + network_id


def _check_id(value: Any, what: str) -> str:
    text = str(value)
    if not _SAFE_ID.match(text):
        raise NetworkDriverError(f"invalid {what} {text!r}")
    return text


class DnsmasqDhcp:
    """Serve DHCP for the networks of a host state's ``dhcp`` list, one dnsmasq each.

    Args:
        conf: the Config; reads ``dhcp_lease_duration`` (seconds).
        netns: the host's namespace, where the ``tap`` ends and ``brq`` bridges live (the
            lab host's); None for the current one.
        state_dir: where ``dhcp/<network_id>/`` goes (default ``conf.state_dir``).
    """

    def __init__(self, conf: Any, netns: str | None = None, state_dir: str | None = None):
        self.conf = conf
        self.netns = netns
        self.root = os.path.join(state_dir or conf.state_dir, "dhcp")

    # --- the contract --------------------------------------------------------------------

    def sync(self, dhcp_networks: Iterable[dict[str, Any]]) -> dict[str, str]:
        """Make the kernel serve exactly ``dhcp_networks`` (the host state's ``dhcp`` items:
        ``{"network_id", "mtu", "port": {"id", "mac_address", "fixed_ips"}, "subnets": [...],
        "hosts": [...]}``).

        Every network is handled even when another fails.

        Returns:
            ``{network_id: action}`` for networks touched, action one of ``started``,
            ``restarted``, ``reloaded`` (SIGHUP), ``unchanged``, ``removed``.

        Raises:
            NetworkDriverError: one or more networks failed (the message names each); the
                others were synced.
        """
        done: dict[str, str] = {}
        errors: list[str] = []
        wanted: set[str] = set()
        for network in dhcp_networks:
            network_id = str(network.get("network_id"))
            wanted.add(network_id)
            try:
                done[network_id] = self._sync_network(network)
            except (NetworkDriverError, OSError, KeyError, TypeError, ValueError) as exc:
                LOG.warning("DHCP for network %s failed: %s", network_id, exc)
                errors.append(f"{network_id}: {exc}")
        for network_id in sorted(self.networks() - wanted):
            try:
                self._remove_network(network_id)
                done[network_id] = "removed"
            except (NetworkDriverError, OSError) as exc:
                errors.append(f"{network_id}: {exc}")
        if errors:
            raise NetworkDriverError("DHCP sync failed for " + "; ".join(errors))
        return done

    def cleanup(self) -> None:
        """Kill every dnsmasq of ours and remove its namespace and files.

        Raises:
            NetworkDriverError: something could not be removed.
        """
        self.sync([])

    def networks(self) -> set[str]:
        """Ids of the networks this driver serves (its directories under the state dir)."""
        if not os.path.isdir(self.root):
            return set()
        return {name for name in os.listdir(self.root) if _SAFE_ID.match(name)}

    def pid(self, network_id: str) -> int | None:
        """The pid of the network's running dnsmasq, or None when none runs."""
        return _running_pid(self._path(network_id, "pid"), network_id)

    # --- one network ---------------------------------------------------------------------

    def _path(self, network_id: str, name: str = "") -> str:
        return os.path.join(self.root, network_id, name)

    def _sync_network(self, network: dict[str, Any]) -> str:
        network_id = _check_id(network["network_id"], "network id")
        port = network["port"]
        interface = "ns-" + _check_id(port["id"], "port id")[:11]
        mtu = int(network.get("mtu") or 1500)
        subnets = list(network.get("subnets") or [])
        hosts = list(network.get("hosts") or [])
        # the directory first: it is what marks the namespace as ours
        os.makedirs(self._path(network_id), mode=0o700, exist_ok=True)
        replugged = self._plug(network_id, port, interface, mtu, subnets)
        files_changed = self._write_files(network_id, hosts, subnets)
        argv = self._command(network_id, interface, mtu, subnets)
        return self._converge(network_id, argv, replugged, files_changed, _host_pairs(hosts))

    def _plug(
        self,
        network_id: str,
        port: dict[str, Any],
        interface: str,
        mtu: int,
        subnets: list[dict[str, Any]],
    ) -> bool:
        """The namespace and the DHCP port's veth with its addresses; True when either had
        to be made (a dnsmasq already running is bound to what was there before)."""
        namespace = namespace_name(network_id)
        made = not ip_lib.netns_exists(namespace)
        ip_lib.ensure_netns(namespace)
        for info in ip_lib.links(namespace):
            name = str(info.get("ifname", ""))
            if name.startswith("ns-") and name != interface:
                ip_lib.delete_link(name, namespace)
        made |= ip_lib.plug_veth(
            ip_lib.tap_name(str(port["id"])),
            interface,
            namespace,
            str(port["mac_address"]),
            mtu,
            netns=self.netns,
            bridge=ip_lib.bridge_name(network_id),
        )
        ip_lib.set_addresses(interface, _port_cidrs(port, subnets), namespace)
        return made

    def _converge(
        self,
        network_id: str,
        argv: list[str],
        replugged: bool,
        files_changed: bool,
        pairs: set[tuple[str, str]],
    ) -> str:
        """Start, restart, SIGHUP or leave the network's dnsmasq; the action taken."""
        namespace = namespace_name(network_id)
        leases = self._path(network_id, "leases")
        pid = self.pid(network_id)
        # a new namespace or interface (deleted behind our back) needs a dnsmasq bound to it;
        # an address still leased to another MAC (a deleted port's) is refused after SIGHUP
        # until its lease is gone from dnsmasq's memory
        if pid is not None and (
            replugged
            or _cmdline(pid)[1:] != argv[1:]
            or (files_changed and _lease_conflicts(leases, pairs))
        ):
            self._stop(pid)
            _prune_leases(leases, pairs)
            self._start(network_id, namespace, argv)
            return "restarted"
        if pid is None:
            _prune_leases(leases, pairs)
            self._start(network_id, namespace, argv)
            return "started"
        if files_changed:
            os.kill(pid, signal.SIGHUP)
            return "reloaded"
        return "unchanged"

    def _remove_network(self, network_id: str) -> None:
        pid = self.pid(network_id)
        if pid is not None:
            self._stop(pid)
        ip_lib.delete_netns(namespace_name(network_id))
        shutil.rmtree(self._path(network_id), ignore_errors=True)

    def _write_files(
        self, network_id: str, hosts: list[dict[str, Any]], subnets: list[dict[str, Any]]
    ) -> bool:
        host_lines, opt_lines, addn_lines = _render_hosts(hosts, _stateful_v6(subnets))
        changed = False
        for name, lines in (("host", host_lines), ("opts", opt_lines), ("addn_hosts", addn_lines)):
            changed |= _write_if_changed(self._path(network_id, name), lines)
        return changed

    def _command(
        self, network_id: str, interface: str, mtu: int, subnets: list[dict[str, Any]]
    ) -> list[str]:
        lease = int(self.conf.dhcp_lease_duration)
        argv = [
            "dnsmasq",
            "--no-hosts",
            "--no-resolv",
            "--strict-order",
            "--except-interface=lo",
            "--conf-file=/dev/null",
            "--user=root",
            f"--pid-file={self._path(network_id, 'pid')}",
            f"--dhcp-hostsfile={self._path(network_id, 'host')}",
            f"--dhcp-optsfile={self._path(network_id, 'opts')}",
            f"--addn-hosts={self._path(network_id, 'addn_hosts')}",
            f"--dhcp-leasefile={self._path(network_id, 'leases')}",
            f"--interface={interface}",
            "--bind-interfaces",
        ]
        size = 0
        advertise = False
        for subnet in subnets:
            cidr = ipaddress.ip_network(str(subnet["cidr"]), strict=False)
            if isinstance(cidr, ipaddress.IPv6Network):
                v6 = _subnet_v6_options(subnet, cidr, lease)
                argv += v6
                advertise |= _advertised(subnet)
                size += 1 << 16 if v6 else 0
                continue
            size += cidr.num_addresses
            argv += _subnet_options(subnet, cidr, mtu, lease)
        if advertise:
            # the router lifetime 0: this namespace is no router (see the module's doc)
            argv += ["--enable-ra", f"--ra-param={interface},mtu:{mtu},10,0"]
        argv.append(f"--dhcp-lease-max={max(min(size, 1 << 20), 1)}")
        return argv

    def _start(self, network_id: str, namespace: str, argv: list[str]) -> None:
        pid_file = self._path(network_id, "pid")
        if os.path.exists(pid_file):
            os.unlink(pid_file)
        ip_lib.run(argv, namespace)
        deadline = time.monotonic() + PROCESS_WAIT
        while _running_pid(pid_file, network_id) is None:
            if time.monotonic() > deadline:
                raise NetworkDriverError(f"dnsmasq for network {network_id} did not start")
            time.sleep(0.02)

    def _stop(self, pid: int) -> None:
        for sig, wait in ((signal.SIGTERM, PROCESS_WAIT), (signal.SIGKILL, PROCESS_WAIT)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.02)
        raise NetworkDriverError(f"dnsmasq {pid} does not exit")


# --- rendering ---------------------------------------------------------------------------


def _port_cidrs(port: dict[str, Any], subnets: list[dict[str, Any]]) -> list[str]:
    """The DHCP port's fixed IPs with their subnets' prefix lengths (``10.0.0.2/24``)."""
    prefix = {
        str(s["id"]): ipaddress.ip_network(str(s["cidr"]), strict=False).prefixlen for s in subnets
    }
    cidrs = []
    for fixed in port.get("fixed_ips") or []:
        subnet_id = str(fixed.get("subnet_id"))
        if subnet_id in prefix:
            address = ipaddress.ip_address(str(fixed["ip_address"]))
            cidrs.append(f"{address}/{prefix[subnet_id]}")
    return cidrs


def _subnet_options(
    subnet: dict[str, Any],
    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network,
    mtu: int,
    lease: int,
) -> list[str]:
    """dnsmasq arguments of one IPv4 subnet: its static range and its forced options."""
    tag = "tag:subnet-" + _check_id(subnet["id"], "subnet id")
    args = [
        f"--dhcp-range=set:subnet-{subnet['id']},{cidr.network_address},static,"
        f"{cidr.netmask},{lease}s",
        f"--dhcp-option-force={tag},option:mtu,{mtu}",
    ]
    gateway = subnet.get("gateway_ip")
    if gateway:
        args.append(f"--dhcp-option-force={tag},option:router,{ipaddress.ip_address(gateway)}")
    else:
        # an empty router option tells dnsmasq to send none (not its own address)
        args.append(f"--dhcp-option={tag},option:router")
    # IPv4 servers and routes only: dnsmasq refuses to start on a v6 address in a v4
    # option, which would stop DHCP for every subnet of the network (as the v6 path filters)
    servers = [
        str(ipaddress.ip_address(s))
        for s in subnet.get("dns_nameservers") or []
        if ipaddress.ip_address(s).version == 4
    ]
    if servers:
        args.append(f"--dhcp-option-force={tag},option:dns-server,{','.join(servers)}")
    routes = []
    for route in subnet.get("host_routes") or []:
        destination = ipaddress.ip_network(str(route["destination"]), strict=False)
        nexthop = ipaddress.ip_address(str(route["nexthop"]))
        if destination.version != 4 or nexthop.version != 4:
            continue
        routes.append(f"{destination},{nexthop}")
    if routes:
        # a client given option 121 ignores option 3 (RFC 3442): repeat the default route
        if gateway and not any(r.startswith("0.0.0.0/0,") for r in routes):
            routes.append(f"0.0.0.0/0,{gateway}")
        args.append(f"--dhcp-option-force={tag},option:classless-static-route,{','.join(routes)}")
    return args


def _advertised(subnet: dict[str, Any]) -> bool:
    """Whether the subnet gets router advertisements: an ``ipv6_ra_mode`` and a router."""
    return bool(subnet.get("ipv6_ra_mode")) and bool(subnet.get("router_attached"))


def _stateful_v6(subnets: list[dict[str, Any]]) -> list[ipaddress.IPv6Network]:
    """The IPv6 subnets whose hosts get their address over DHCPv6: ``dhcpv6-stateful``, or
    no mode at all (Neutron's "static" default)."""
    found = []
    for subnet in subnets:
        cidr = ipaddress.ip_network(str(subnet["cidr"]), strict=False)
        address_mode = subnet.get("ipv6_address_mode")
        ra_mode = subnet.get("ipv6_ra_mode")
        if isinstance(cidr, ipaddress.IPv6Network) and (
            address_mode == "dhcpv6-stateful" or not (address_mode or ra_mode)
        ):
            found.append(cidr)
    return found


def _subnet_v6_options(
    subnet: dict[str, Any], cidr: ipaddress.IPv6Network, lease: int
) -> list[str]:
    """dnsmasq arguments of one IPv6 subnet (see the module's doc): its range, with the RA
    mode when advertised, and its DNS servers; none for a SLAAC subnet nobody advertises."""
    tag = "subnet-" + _check_id(subnet["id"], "subnet id")
    address_mode = subnet.get("ipv6_address_mode") or subnet.get("ipv6_ra_mode")
    prefix = f"{cidr.network_address},"
    if address_mode == "slaac":
        if not _advertised(subnet):
            return []
        args = [f"--dhcp-range=set:{tag},{prefix}ra-only,{cidr.prefixlen},{lease}s"]
    elif address_mode == "dhcpv6-stateless" and _advertised(subnet):
        args = [f"--dhcp-range=set:{tag},{prefix}ra-stateless,{cidr.prefixlen},{lease}s"]
    else:  # stateful, stateless without RA, or no mode: Neutron's "static"
        args = [f"--dhcp-range=set:{tag},{prefix}static,{cidr.prefixlen},{lease}s"]
    servers = [
        f"[{ipaddress.ip_address(s)}]"
        for s in subnet.get("dns_nameservers") or []
        if ipaddress.ip_address(s).version == 6
    ]
    if servers and address_mode != "slaac":
        args.append(f"--dhcp-option-force=tag:{tag},option6:dns-server,{','.join(servers)}")
    return args


def _render_hosts(
    hosts: list[dict[str, Any]], stateful: list[ipaddress.IPv6Network] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """The ``host``, ``opts`` and ``addn_hosts`` lines of a network's hosts: IPv4 ones, and
    IPv6 ones on the ``stateful`` subnets (``[<ipv6>]``: DHCPv6 gives them by MAC).

    Hostnames that are not DNS labels become ``host-<ip with dashes>``; extra DHCP options
    whose name or value could break a line of dnsmasq's files are dropped.
    """
    host_lines: list[str] = []
    opt_lines: list[str] = []
    addn_lines: list[str] = []
    tagged: set[str] = set()
    for host in hosts:
        address = ipaddress.ip_address(str(host["ip_address"]))
        if address.version != 4 and not any(address in net for net in stateful or []):
            continue
        shown = f"[{address}]" if address.version == 6 else str(address)
        mac = str(host["mac_address"]).lower()
        if not re.match(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", mac):
            continue
        hostname = str(host.get("hostname") or "")
        if not _HOSTNAME.match(hostname):
            hostname = "host-" + str(address).replace(".", "-").replace(":", "-")
        tag = "port-" + mac.replace(":", "")
        options = [
            f"tag:{tag},{_option_key(str(opt['opt_name']))},{opt['opt_value']}"
            for opt in host.get("extra_dhcp_opts") or []
            if _usable_option(opt)
        ]
        if options:
            host_lines.append(f"{mac},set:{tag},{hostname},{shown}")
            if tag not in tagged:  # a dual-stack port: a host entry per address, options once
                opt_lines += options
                tagged.add(tag)
        else:
            host_lines.append(f"{mac},{hostname},{shown}")
        addn_lines.append(f"{address}\t{hostname}")
    return host_lines, opt_lines, addn_lines


def _host_pairs(hosts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """``(mac, ip)`` of every IPv4 host entry, normalised as dnsmasq's lease file has them."""
    pairs = set()
    for host in hosts:
        address = ipaddress.ip_address(str(host["ip_address"]))
        if address.version == 4:
            pairs.add((str(host["mac_address"]).lower(), str(address)))
    return pairs


def _read_leases(path: str) -> list[tuple[str, str, str]]:
    """``(line, mac, ip)`` of each IPv4 lease in dnsmasq's lease file
    (``<expiry> <mac> <ip> <hostname> <client-id>``); other lines as ``(line, "", "")``."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and re.match(r"^\d+\.\d+\.\d+\.\d+$", parts[2]):
            found.append((line, parts[1].lower(), parts[2]))
        else:
            found.append((line, "", ""))
    return found


def _lease_conflicts(path: str, pairs: set[tuple[str, str]]) -> bool:
    """Whether an address of ``pairs`` is leased to another MAC."""
    wanted = {ip: mac for mac, ip in pairs}
    return any(ip in wanted and wanted[ip] != mac for _, mac, ip in _read_leases(path) if ip)


def _prune_leases(path: str, pairs: set[tuple[str, str]]) -> None:
    """Drop the IPv4 leases that are not a current host entry (dnsmasq must not run)."""
    entries = _read_leases(path)
    kept = [line for line, mac, ip in entries if not ip or (mac, ip) in pairs]
    if len(kept) != len(entries):
        _write_if_changed(path, kept)


def _option_key(name: str) -> str:
    return name if name.isdigit() else "option:" + name


def _usable_option(opt: dict[str, Any]) -> bool:
    if str(opt.get("ip_version", 4)) == "6":
        return False
    name, value = str(opt.get("opt_name", "")), str(opt.get("opt_value", ""))
    return bool(_OPT_NAME.match(name)) and not any(c in value for c in "\n\r\0")


def _write_if_changed(path: str, lines: list[str]) -> bool:
    text = "".join(line + "\n" for line in lines)
    try:
        with open(path) as current:
            if current.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as out:
        out.write(text)
    os.replace(tmp, path)
    return True


# --- processes ---------------------------------------------------------------------------


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _running_pid(pid_file: str, network_id: str) -> int | None:
    """The pid in ``pid_file`` if that process runs and its command line names the
    network (a recycled pid does not)."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    cmdline = _cmdline(pid)
    if not cmdline or "dnsmasq" not in os.path.basename(cmdline[0]):
        return None
    if not any(network_id in arg for arg in cmdline):
        return None
    return pid
