"""Thin, typed wrappers over the kernel's networking tools (``ip``, ``bridge``, ``nft``,
``sysctl`` files), each run in an optional network namespace.

Every network data-plane driver (linuxbridge, firewall, DHCP, L3) runs its commands through
this module so that the ``netns`` parameter of docs/network-dataplane.md means the same thing
everywhere: ``None`` acts in the current namespace, a name acts inside that namespace
(``ip -n <ns> ...`` for iproute2, ``ip netns exec <ns> ...`` for anything else).

Errors: a command that exits non-zero raises ``NetworkDriverError`` whose message carries the
command line and its stderr (as Neutron's ``ip_lib`` raises with the tool's output). A tool
that is not installed raises the same error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from pocketstack.network.drivers.base import NetworkDriverError

#: seconds any single command may take before it counts as failed
COMMAND_TIMEOUT = 30.0


def run(
    args: Sequence[str],
    netns: str | None = None,
    check: bool = True,
    input: str | None = None,
) -> str:
    """Run ``args`` (argv list), inside ``netns`` when given (``ip netns exec``).

    Args:
        args: the command and its arguments, e.g. ``["nft", "-f", "-"]``.
        netns: a network namespace name, or None for the current namespace.
        check: raise on a non-zero exit status (False: return stdout regardless).
        input: text fed to the command's stdin.

    Returns:
        the command's stdout (text).

    Raises:
        NetworkDriverError: the command exited non-zero (with ``check``), timed out or does
            not exist; the message holds the command line and its stderr.
    """
    argv = list(args)
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    try:
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkDriverError(f"{' '.join(argv)}: {exc}") from exc
    if check and proc.returncode != 0:
        raise NetworkDriverError(
            f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}"
        )
    return proc.stdout


def ip(args: Sequence[str], netns: str | None = None, check: bool = True) -> str:
    """Run ``ip <args>`` in ``netns`` (``ip -n <netns> <args>``, no extra process).

    Raises:
        NetworkDriverError: as ``run``.
    """
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    return run(argv, check=check)


def bridge(args: Sequence[str], netns: str | None = None, check: bool = True) -> str:
    """Run ``bridge <args>`` in ``netns`` (``bridge -n <netns> <args>``).

    Raises:
        NetworkDriverError: as ``run``.
    """
    argv = ["bridge", *(["-n", netns] if netns else []), *args]
    return run(argv, check=check)


def netns_exec(args: Sequence[str], netns: str | None, check: bool = True) -> str:
    """Run any command inside ``netns`` (``ip netns exec``); the current namespace if None.

    Raises:
        NetworkDriverError: as ``run``.
    """
    return run(args, netns=netns, check=check)


def _json(text: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        return []
    data = json.loads(text)
    return data if isinstance(data, list) else [data]


# --- kernel names (docs/network-dataplane.md, "Kernel names"; 15 bytes max, IFNAMSIZ) ------


def bridge_name(network_id: str) -> str:
    """The bridge of a network on a host: ``brq`` + network_id[:11] (Neutron's)."""
    return "brq" + network_id[:11]


def vxlan_name(vni: int) -> str:
    """The VXLAN device of a tenant network: ``vxlan-<vni>``."""
    return f"vxlan-{vni}"


def tap_name(port_id: str) -> str:
    """The host-side device of a port: ``tap`` + port_id[:11]."""
    return "tap" + port_id[:11]


# --- namespaces -------------------------------------------------------------------------


def netns_exists(name: str) -> bool:
    """Whether the named network namespace exists (``/run/netns/<name>``)."""
    return os.path.exists(os.path.join("/run/netns", name))


def list_netns() -> list[str]:
    """Names of the named network namespaces (``ip -j netns list``)."""
    return [entry["name"] for entry in _json(run(["ip", "-j", "netns", "list"]))]


def ensure_netns(name: str) -> None:
    """Create network namespace ``name`` unless it exists, and bring its ``lo`` up.

    Raises:
        NetworkDriverError: ``ip netns add`` failed.
    """
    if not netns_exists(name):
        run(["ip", "netns", "add", name])
    ip(["link", "set", "lo", "up"], netns=name)


def netns_pids(name: str) -> list[int]:
    """The ids of the processes whose network namespace is ``name`` (``ip netns pids``);
    empty when the namespace does not exist."""
    if not netns_exists(name):
        return []
    return [int(pid) for pid in run(["ip", "netns", "pids", name], check=False).split()]


def delete_netns(name: str) -> None:
    """Delete network namespace ``name``; succeeds if it is already gone.

    Devices inside are destroyed by the kernel (veth peers elsewhere go with them).

    Raises:
        NetworkDriverError: ``ip netns delete`` failed for another reason.
    """
    if netns_exists(name):
        run(["ip", "netns", "delete", name])


# --- links ------------------------------------------------------------------------------


def links(netns: str | None = None) -> list[dict[str, Any]]:
    """Every link of ``netns`` as iproute2's JSON (``ip -j -d link show``).

    Each dict has at least ``ifname``, ``ifindex``, ``mtu``, ``operstate``, ``flags``,
    ``address`` and, for enslaved ports, ``master``; ``linkinfo.info_kind`` gives the
    type (``bridge``, ``vxlan``, ``veth``) and ``linkinfo.info_data`` its details (for vxlan:
    ``id``, ``local``, ``port``, ``learning``).
    """
    return _json(ip(["-j", "-d", "link", "show"], netns))


def link(name: str, netns: str | None = None) -> dict[str, Any] | None:
    """The JSON dict (as ``links``) of the link ``name``, or None if it does not exist."""
    try:
        found = _json(ip(["-j", "-d", "link", "show", "dev", name], netns))
    except NetworkDriverError:
        return None
    return found[0] if found else None


def link_exists(name: str, netns: str | None = None) -> bool:
    """Whether a link called ``name`` exists in ``netns``."""
    return link(name, netns) is not None


def link_kind(info: dict[str, Any]) -> str | None:
    """The ``info_kind`` (``bridge``, ``vxlan``, ``veth``...) of a link dict, or None."""
    kind = info.get("linkinfo", {}).get("info_kind")
    return str(kind) if kind else None


def set_link(name: str, netns: str | None = None, **attrs: Any) -> None:
    """``ip link set dev <name> <key> <value>...``; ``up=True`` / ``up=False`` for state,
    ``master=None`` for nomaster, other keys as iproute2 spells them (``mtu=1450``).

    Raises:
        NetworkDriverError: the link does not exist or the kernel refused.
    """
    args = ["link", "set", "dev", name]
    for key, value in attrs.items():
        if key == "up":
            args.append("up" if value else "down")
        elif key == "master" and value is None:
            args.append("nomaster")
        else:
            args += [key.replace("_", "-"), str(value)]
    ip(args, netns)


def delete_link(name: str, netns: str | None = None) -> None:
    """Delete link ``name``; succeeds if it is already gone.

    Raises:
        NetworkDriverError: the link exists and could not be deleted.
    """
    if link_exists(name, netns):
        ip(["link", "del", "dev", name], netns)


def add_veth(name: str, peer: str, netns: str | None = None, peer_netns: str | None = None) -> None:
    """Create the veth pair ``name`` (in ``netns``) <-> ``peer`` (in ``peer_netns``, default
    the same namespace as ``name``).

    Raises:
        NetworkDriverError: a name is taken or a namespace does not exist.
    """
    args = ["link", "add", name, "type", "veth", "peer", "name", peer]
    if peer_netns:
        args += ["netns", peer_netns]
    ip(args, netns)


def ensure_tap(name: str, mtu: int | None = None, netns: str | None = None) -> bool:
    """Make the persistent tap device ``name`` exist in ``netns`` (``ip tuntap add mode
    tap``), at ``mtu`` when given, and up; a hypervisor opens it by name (QEMU's
    ``-netdev tap,ifname=``). A link of that name that is not a tap is replaced.

    Returns:
        True when the tap was created now.

    Raises:
        NetworkDriverError: the kernel refused (no /dev/net/tun, a namespace missing).
    """
    current = link(name, netns)
    created = False
    if current is not None and link_kind(current) != "tun":
        delete_link(name, netns)
        current = None
    if current is None:
        ip(["tuntap", "add", "dev", name, "mode", "tap"], netns)
        created = True
    if mtu and (current or {}).get("mtu") != mtu:
        set_link(name, netns, mtu=mtu)
    set_link(name, netns, up=True)
    return created


def taps(netns: str | None = None) -> list[str]:
    """Names of the tap (tun-kind) devices of ``netns`` called ``tap...``."""
    return [
        str(info["ifname"])
        for info in links(netns)
        if link_kind(info) == "tun" and str(info.get("ifname", "")).startswith("tap")
    ]


def move_link(name: str, to_netns: str, netns: str | None = None) -> None:
    """Move link ``name`` from ``netns`` into ``to_netns``.

    Raises:
        NetworkDriverError: as ``ip link set netns``.
    """
    ip(["link", "set", "dev", name, "netns", to_netns], netns)


def plug_veth(
    device: str,
    inner: str,
    inner_netns: str,
    mac: str,
    mtu: int,
    netns: str | None = None,
    bridge: str | None = None,
) -> bool:
    """Make the veth pair ``device`` (bridge side, in ``netns``) <-> ``inner`` (inside
    ``inner_netns``, with ``mac``) exist, both ends up at ``mtu``; Neutron's way of putting a
    DHCP or router port into its namespace.

    ``device`` is enslaved to ``bridge`` when that bridge exists in ``netns`` (else it is
    left for the L2 agent). A stale ``device`` without its ``inner`` end is replaced.

    Returns:
        True when the pair was created now, False when it was already there.

    Raises:
        NetworkDriverError: a namespace is missing or the kernel refused.
    """
    created = False
    if not link_exists(inner, inner_netns):
        delete_link(device, netns)
        add_veth(device, inner, netns=netns, peer_netns=inner_netns)
        created = True
    current = link(inner, inner_netns) or {}
    if str(current.get("address", "")).lower() != mac.lower() or current.get("mtu") != mtu:
        set_link(inner, inner_netns, address=mac, mtu=mtu)
    set_link(inner, inner_netns, up=True)
    outer = link(device, netns) or {}
    if outer.get("mtu") != mtu:
        set_link(device, netns, mtu=mtu)
    if bridge and outer.get("master") != bridge and link_exists(bridge, netns):
        set_link(device, netns, master=bridge)
    set_link(device, netns, up=True)
    return created


# --- addresses and routes ---------------------------------------------------------------


def addresses(name: str, netns: str | None = None) -> list[str]:
    """The addresses of link ``name`` as ``"ip/prefixlen"``, global scope, v4 and v6."""
    found = _json(ip(["-j", "addr", "show", "dev", name, "scope", "global"], netns))
    # iproute2 6.1 renders the addresses its scope filter drops as empty objects: skip them
    return [
        f"{a['local']}/{a['prefixlen']}"
        for entry in found
        for a in entry.get("addr_info", [])
        if "local" in a
    ]


def add_address(name: str, cidr: str, netns: str | None = None) -> None:
    """Add ``cidr`` (``"10.0.0.1/24"``) to link ``name``; succeeds if already there.

    Raises:
        NetworkDriverError: the kernel refused (no such link, bad address).
    """
    ip(["addr", "replace", cidr, "dev", name], netns)


def delete_address(name: str, cidr: str, netns: str | None = None) -> None:
    """Remove ``cidr`` from link ``name``; succeeds if it is not there."""
    if cidr in addresses(name, netns):
        ip(["addr", "del", cidr, "dev", name], netns)


def set_addresses(name: str, cidrs: Sequence[str], netns: str | None = None) -> bool:
    """Make the global addresses of link ``name`` exactly ``cidrs`` (``"10.0.0.1/24"``):
    add the missing ones, remove the others (link-local ones stay).

    Returns:
        True when something changed.

    Raises:
        NetworkDriverError: the kernel refused (no such link, bad address).
    """
    have = set(addresses(name, netns))
    wanted = set(cidrs)
    for cidr in sorted(have - wanted):
        ip(["addr", "del", cidr, "dev", name], netns)
    for cidr in sorted(wanted - have):
        add_address(name, cidr, netns)
    return have != wanted


def routes(netns: str | None = None, table: str = "main") -> list[dict[str, Any]]:
    """The IPv4 routes of ``table`` as iproute2's JSON (``dst``, ``gateway``, ``dev``...)."""
    return _json(ip(["-j", "route", "show", "table", table], netns))


def replace_route(
    destination: str, netns: str | None = None, via: str | None = None, dev: str | None = None
) -> None:
    """``ip route replace <destination> [via <via>] [dev <dev>]`` (idempotent).

    Raises:
        NetworkDriverError: the kernel refused (unreachable next hop, no such device).
    """
    args = ["route", "replace", destination]
    if via:
        args += ["via", via]
    if dev:
        args += ["dev", dev]
    ip(args, netns)


def delete_route(destination: str, netns: str | None = None) -> None:
    """Remove the route to ``destination``; succeeds if there is none."""
    ip(["route", "del", destination], netns, check=False)


# --- bridge FDB -------------------------------------------------------------------------


def fdb_entries(dev: str, netns: str | None = None) -> list[dict[str, Any]]:
    """The FDB entries of ``dev`` (``bridge -j fdb show dev <dev>``): dicts with ``mac``,
    ``dst`` (for VXLAN remote entries), ``flags``, ``state``."""
    return _json(bridge(["-j", "fdb", "show", "dev", dev], netns))


def send_gratuitous_arp(dev: str, address: str, netns: str | None = None) -> bool:
    """Announce that ``address`` (IPv4, on ``dev``) now answers at ``dev``'s MAC: one
    unsolicited ARP (``arping -U``, iputils' or busybox's), so neighbours that cached another
    MAC for it (a moved floating IP, a replaced router port) update at once, as Neutron's
    ``send_ip_addr_adv_notif``.

    Returns:
        whether it was sent (False when no arping is installed or it failed: best effort).
    """
    tool = ["arping"] if shutil.which("arping") else ["busybox", "arping"]
    try:
        run([*tool, "-U", "-c", "1", "-I", dev, "-s", address, address], netns)
    except NetworkDriverError:
        return False
    return True


# --- sysctl -----------------------------------------------------------------------------


def _sysctl_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def get_sysctl(key: str, netns: str | None = None) -> str:
    """The value of sysctl ``key`` (``net.ipv4.ip_forward``) as seen inside ``netns``.

    Raises:
        NetworkDriverError: no such key.
    """
    return run(["cat", _sysctl_path(key)], netns).strip()


def set_sysctl(key: str, value: str | int, netns: str | None = None) -> None:
    """Set sysctl ``key`` (dotted, ``net.ipv4.ip_forward``) to ``value`` inside ``netns``
    (``sysctl -w`` semantics, written through ``/proc/sys`` so no procps is needed).

    Raises:
        NetworkDriverError: no such key or the write was refused.
    """
    run(["sh", "-c", 'echo "$1" > "$2"', "sh", str(value), _sysctl_path(key)], netns)


# --- nftables ---------------------------------------------------------------------------


def nft_apply(ruleset: str, netns: str | None = None) -> None:
    """Load ``ruleset`` (nft script text) in one atomic transaction (``nft -f -``).

    Raises:
        NetworkDriverError: nft refused the script (nothing of it is applied).
    """
    run(["nft", "-f", "-"], netns, input=ruleset)


def nft_json(args: Sequence[str], netns: str | None = None) -> list[dict[str, Any]]:
    """``nft -j <args>`` parsed: the list under the top-level ``nftables`` key.

    Raises:
        NetworkDriverError: nft failed (e.g. the listed table does not exist).
    """
    text = run(["nft", "-j", *args], netns).strip()
    if not text:
        return []
    data = json.loads(text)
    return list(data.get("nftables", []))
