"""The Linux bridge data plane (Neutron's linuxbridge agent, with L2 population).

On each host, every network present there gets a Linux bridge ``brq<network_id[:11]>``;
a VXLAN network adds ``vxlan-<vni>`` (dstport 4789, ``nolearning``, ``local`` = this host's
``local_ip``) to its bridge and one all-zero FDB entry per other host with ports on the
network (``remote_vteps``); a flat network enslaves the interface its physical network maps
to (``physical_interface_mappings``). Guests' ``tap<port_id[:11]>`` devices (made by the
compute driver, or the bridge side of a DHCP/router veth) are enslaved to their network's
bridge. Names and shapes: docs/network-dataplane.md, "Kernel names".

Every command runs through ``ip_lib`` in ``netns`` (a lab host's namespace, or None).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriver, NetworkDriverError

LOG = logging.getLogger(__name__)

#: the IANA VXLAN port, as Neutron's linuxbridge agent uses by default
VXLAN_PORT = 4789
#: the MAC of the L2 population flooding entries (BUM traffic goes to every listed VTEP)
FLOOD_MAC = "00:00:00:00:00:00"


def parse_mappings(text: str) -> dict[str, str]:
    """``"public:eth-ext,physnet2:eth2"`` -> ``{"public": "eth-ext", "physnet2": "eth2"}``.

    Raises:
        NetworkDriverError: an entry is not ``physical_network:interface``.
    """
    mappings: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        physnet, sep, iface = entry.partition(":")
        if not sep or not physnet.strip() or not iface.strip():
            raise NetworkDriverError(f"physical_interface_mappings: bad entry {entry!r}")
        mappings[physnet.strip()] = iface.strip()
    return mappings


def _get(net: dict[str, Any], key: str) -> Any:
    """A host-state key, falling back to the Networking API's ``provider:`` name."""
    return net.get(key, net.get("provider:" + key))


class LinuxBridgeDriver(NetworkDriver):
    """Bridges, VXLAN devices and FDB entries of one host, kept level-triggered by ``sync``.

    Configuration read from ``conf`` (absent attributes take the defaults): ``local_ip``
    (str, VTEP address, "" lets the kernel choose), ``tunnel_interface`` (str, underlay
    device of the VXLAN devices, "" routes by ``local_ip``), ``physical_interface_mappings``
    (str, ``"public:eth-ext"``).
    """

    name = "linuxbridge"
    vif_type = "bridge"
    capabilities = {"dhcp": True, "security_groups": True, "vxlan": True, "external": True}
    has_agents = True

    def __init__(self, conf: Any = None, netns: str | None = None):
        super().__init__(conf, netns)
        self.local_ip = str(getattr(conf, "local_ip", "") or "")
        self.tunnel_interface = str(getattr(conf, "tunnel_interface", "") or "")
        self.mappings = parse_mappings(str(getattr(conf, "physical_interface_mappings", "")))

    # --- the contract ---------------------------------------------------------------------

    def sync(self, networks: Sequence[dict[str, Any]], ports: Sequence[dict[str, Any]]) -> set[str]:
        """Make the host's bridges, VXLAN devices, FDB and tap enslavement match.

        See ``NetworkDriver.sync`` for the shapes. Networks of an unsupported type (``vlan``)
        are logged and skipped; so are flat networks whose physical network has no mapping
        or whose interface does not exist (the bridge is still made).

        A network or port the kernel refuses (a VNI taken by a foreign device, an MTU above
        the underlay's) is logged and left out (its ports are not returned); the others are
        still wired, and the next ``sync`` tries it again. So is a device that cannot be
        removed.

        Returns:
            ids of the ports whose ``tap`` exists, is enslaved to its network's bridge and is
            up (an ``admin_state_up`` false port is enslaved but kept down, not returned).

        Raises:
            NetworkDriverError: the host's links cannot be listed (no such ``netns``).
        """
        have = self._links()
        ready: dict[str, dict[str, Any]] = {}
        keep_bridges: set[str] = set()
        keep_vxlans: set[str] = set()
        for net in networks:
            keep_bridges.add(ip_lib.bridge_name(net["id"]))
            vni = _get(net, "segmentation_id")
            if _get(net, "network_type") == "vxlan" and vni is not None:
                keep_vxlans.add(ip_lib.vxlan_name(int(vni)))
            try:
                self._ensure_network(net, have)
            except NetworkDriverError as exc:
                LOG.error("network %s is not wired on this host: %s", net["id"], exc)
                continue
            ready[net["id"]] = net
        self._remove_unwanted(have, keep_bridges, keep_vxlans)
        have = self._links()
        wired: set[str] = set()
        for port in ports:
            wanted = ready.get(port["network_id"])
            try:
                if wanted is not None and self._plug(port, wanted, have):
                    wired.add(port["id"])
            except NetworkDriverError as exc:
                LOG.error("port %s is not wired: %s", port["id"], exc)
        return wired

    def cleanup(self) -> None:
        """Delete every ``brq*`` bridge and ``vxlan-*`` device of the host (taps are only
        released, never deleted: they belong to the compute driver).

        Raises:
            NetworkDriverError: a device could not be deleted (after trying the others).
        """
        self._remove_unwanted(self._links(), set(), set(), strict=True)

    # --- steps ----------------------------------------------------------------------------

    def _links(self) -> dict[str, dict[str, Any]]:
        return {entry["ifname"]: entry for entry in ip_lib.links(self.netns)}

    def _ensure_network(self, net: dict[str, Any], have: dict[str, Any]) -> None:
        bridge = ip_lib.bridge_name(net["id"])
        self._ensure_bridge(bridge, net, have)
        kind = _get(net, "network_type")
        if kind == "vxlan":
            self._ensure_vxlan(bridge, net, have)
        elif kind == "flat":
            self._ensure_physical(bridge, net, have)
        else:
            LOG.warning("network %s: type %r is not supported by linuxbridge", net["id"], kind)

    def _ensure_bridge(self, bridge: str, net: dict[str, Any], have: dict[str, Any]) -> None:
        current = have.get(bridge)
        if current is not None and ip_lib.link_kind(current) != "bridge":
            ip_lib.delete_link(bridge, self.netns)  # a stale device squatting the name
            current = None
        if current is None:
            ip_lib.ip(["link", "add", "name", bridge, "type", "bridge"], self.netns)
            current = ip_lib.link(bridge, self.netns) or {}
        mtu = net.get("mtu")
        if mtu and current.get("mtu") != mtu:
            ip_lib.set_link(bridge, self.netns, mtu=mtu)
        if "UP" not in current.get("flags", []):
            ip_lib.set_link(bridge, self.netns, up=True)

    def _ensure_vxlan(self, bridge: str, net: dict[str, Any], have: dict[str, Any]) -> None:
        vni = _get(net, "segmentation_id")
        if vni is None:
            raise NetworkDriverError(f"network {net['id']}: vxlan without segmentation_id")
        name = ip_lib.vxlan_name(int(vni))
        current = have.get(name)
        if current is not None and not self._vxlan_matches(current, int(vni)):
            ip_lib.delete_link(name, self.netns)
            current = None
        if current is None:
            args = ["link", "add", name, "type", "vxlan", "id", str(vni)]
            args += ["dstport", str(VXLAN_PORT), "nolearning"]
            if self.local_ip:
                args += ["local", self.local_ip]
            if self.tunnel_interface:
                args += ["dev", self.tunnel_interface]
            ip_lib.ip(args, self.netns)
            current = ip_lib.link(name, self.netns) or {}
        mtu = net.get("mtu")
        if mtu and current.get("mtu") != mtu:
            ip_lib.set_link(name, self.netns, mtu=mtu)
        if current.get("master") != bridge:
            ip_lib.set_link(name, self.netns, master=bridge)
        if "UP" not in current.get("flags", []):
            ip_lib.set_link(name, self.netns, up=True)
        self._sync_fdb(name, set(net.get("remote_vteps") or ()))

    def _vxlan_matches(self, current: dict[str, Any], vni: int) -> bool:
        if ip_lib.link_kind(current) != "vxlan":
            return False
        data = current.get("linkinfo", {}).get("info_data", {})
        return (
            data.get("id") == vni
            and data.get("port") == VXLAN_PORT
            and not data.get("learning", False)
            and (not self.local_ip or data.get("local") == self.local_ip)
        )

    def _sync_fdb(self, device: str, vteps: set[str]) -> None:
        present = {
            str(entry["dst"])
            for entry in ip_lib.fdb_entries(device, self.netns)
            if entry.get("mac") == FLOOD_MAC and entry.get("dst")
        }
        for vtep in sorted(vteps - present):
            ip_lib.bridge(["fdb", "append", FLOOD_MAC, "dev", device, "dst", vtep], self.netns)
        for vtep in sorted(present - vteps):
            ip_lib.bridge(["fdb", "del", FLOOD_MAC, "dev", device, "dst", vtep], self.netns)

    def _ensure_physical(self, bridge: str, net: dict[str, Any], have: dict[str, Any]) -> None:
        physnet = _get(net, "physical_network")
        iface = self.mappings.get(str(physnet))
        if iface is None:
            LOG.warning("network %s: no interface mapped to %r", net["id"], physnet)
            return
        current = have.get(iface)
        if current is None:
            LOG.warning("network %s: interface %s of %r does not exist", net["id"], iface, physnet)
            return
        if current.get("master") != bridge:
            ip_lib.set_link(iface, self.netns, master=bridge)
        if "UP" not in current.get("flags", []):
            ip_lib.set_link(iface, self.netns, up=True)

    def _plug(self, port: dict[str, Any], net: dict[str, Any], have: dict[str, Any]) -> bool:
        tap = ip_lib.tap_name(port["id"])
        current = have.get(tap)
        if current is None:
            return False
        bridge = ip_lib.bridge_name(net["id"])
        mtu = net.get("mtu")
        if mtu and current.get("mtu") != mtu:
            ip_lib.set_link(tap, self.netns, mtu=mtu)
        if current.get("master") != bridge:
            ip_lib.set_link(tap, self.netns, master=bridge)
        up = bool(port.get("admin_state_up", True))
        if ("UP" in current.get("flags", [])) != up:
            ip_lib.set_link(tap, self.netns, up=up)
        return up

    def _remove_unwanted(
        self, have: dict[str, Any], bridges: set[str], vxlans: set[str], strict: bool = False
    ) -> None:
        """Delete the ``vxlan-*`` then ``brq*`` devices of ``have`` not in ``vxlans`` /
        ``bridges``. A refused deletion is logged (``strict``: raised after the others)."""
        unwanted = [
            name
            for prefix, kind, keep in (("vxlan-", "vxlan", vxlans), ("brq", "bridge", bridges))
            for name, entry in sorted(have.items())
            if name.startswith(prefix) and ip_lib.link_kind(entry) == kind and name not in keep
        ]
        failed: list[str] = []
        for name in unwanted:
            try:
                ip_lib.delete_link(name, self.netns)
            except NetworkDriverError as exc:
                LOG.error("%s could not be removed: %s", name, exc)
                failed.append(str(exc))
        if strict and failed:
            raise NetworkDriverError("; ".join(failed))
