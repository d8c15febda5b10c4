"""IP address management: pools, validation and atomic allocation of IPv4 and IPv6
addresses.

IPv6 subnets whose ``ipv6_address_mode`` (or, unset, ``ipv6_ra_mode``) is ``slaac`` or
``dhcpv6-stateless`` are "auto-address" subnets (Neutron's ``ipv6_utils.
is_auto_address_subnet``): a port's address there is its EUI-64 address (RFC 4291 appendix
A: the /64 prefix and the interface id made from the MAC), never one from the pools.

Every address in use is one ``ipallocations`` row with primary key ``(subnet_id,
ip_address)``. Allocation picks a free candidate and inserts it inside a SAVEPOINT; when a
concurrent transaction took the same address first the insert fails with ``IntegrityError``
(PostgreSQL makes the second inserter wait for the first to commit, then fails it) and we
retry with a fresh candidate. On SQLite write transactions are serialized (``BEGIN
IMMEDIATE``), so the first candidate always wins. Finding a candidate reads the subnet's
allocations (bounded by the number of ports, not the size of the range) and walks the pools
only until enough free addresses are seen.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.network import exceptions as exc
from pocketstack.network.models import IPAllocation, Subnet

#: Insert attempts before giving up under heavy contention (PostgreSQL).
MAX_ATTEMPTS = 64


#: ``ipv6_address_mode`` / ``ipv6_ra_mode`` values (Neutron's constants)
SLAAC = "slaac"
DHCPV6_STATEFUL = "dhcpv6-stateful"
DHCPV6_STATELESS = "dhcpv6-stateless"
IPV6_MODES = (SLAAC, DHCPV6_STATEFUL, DHCPV6_STATELESS)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(number: int, version: int) -> IPAddress:
    return ipaddress.IPv4Address(number) if version == 4 else ipaddress.IPv6Address(number)


def parse_cidr(cidr: Any, max_prefixlen: int = 30, version: int = 4) -> Any:
    """A validated network of IP ``version`` from ``cidr`` (host bits are cleared:
    10.0.0.5/24 -> /24); ``max_prefixlen`` (IPv4; an IPv6 one allows 96 more) 32 for a
    destination such as a host route's, where one address is fine.

    Returns:
        An ``ipaddress.IPv4Network`` (``version`` 4) or ``IPv6Network``.

    Raises:
        InvalidInput (400): not a CIDR string, a cidr of the other version, or a prefix
        longer than ``max_prefixlen``.
    """
    if not isinstance(cidr, str) or "/" not in cidr:
        raise exc.InvalidInput(f"'{cidr}' is not a valid IP subnet.")
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        raise exc.InvalidInput(f"'{cidr}' is not a valid IP subnet.") from None
    if net.version != version:
        raise exc.InvalidInput(f"Invalid CIDR {cidr} for IP version {version}.")
    if version == 6:
        max_prefixlen += 96
    if net.prefixlen > max_prefixlen:
        raise exc.InvalidInput(
            f"'{cidr}' is too small: the prefix length must be at most {max_prefixlen}."
        )
    return net


def parse_ip(value: Any, what: str = "ip_address", version: int | None = 4) -> Any:
    """A validated address (``ipaddress.IPv4Address`` or ``IPv6Address``) of IP ``version``
    (None: either), or InvalidInput (400) naming ``what``."""
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise exc.InvalidInput(f"'{value}' is not a valid IP address for {what}.") from None
    if version is not None and addr.version != version:
        raise exc.InvalidInput(f"'{value}' is not an IPv{version} address ({what}).")
    return addr


def is_auto_address(subnet: Any) -> bool:
    """Whether ``subnet`` (a ``Subnet`` row or anything with its two mode attributes) gives
    its ports EUI-64 addresses: Neutron's ``is_auto_address_subnet`` (address mode, or RA
    mode, ``slaac`` or ``dhcpv6-stateless``)."""
    modes = (SLAAC, DHCPV6_STATELESS)
    return subnet.ipv6_address_mode in modes or subnet.ipv6_ra_mode in modes


def eui64_address(cidr: str, mac: str) -> str:
    """The EUI-64 address of ``mac`` in the /64 ``cidr`` (RFC 4291 appendix A: the MAC's
    universal/local bit flipped, ``ff:fe`` in its middle), as Neutron's
    ``ipv6_utils.get_ipv6_addr_by_EUI64`` computes it.

    Raises:
        InvalidInput (400): ``mac`` is not a MAC address.
    """
    octets = str(mac).replace("-", ":").split(":")
    try:
        raw = bytes(int(o, 16) for o in octets)
    except ValueError:
        raw = b""
    if len(raw) != 6 or not all(len(o) in (1, 2) for o in octets):
        raise exc.InvalidInput(f"'{mac}' is not a valid MAC address.")
    interface_id = bytes([raw[0] ^ 0x02, *raw[1:3], 0xFF, 0xFE, *raw[3:]])
    prefix = ipaddress.IPv6Network(cidr, strict=False)
    number = int(prefix.network_address) | int.from_bytes(interface_id, "big")
    return str(ipaddress.IPv6Address(number))


def _hosts(net: IPNetwork) -> tuple[int, int]:
    """The first and last host address of ``net``: IPv4 has a broadcast address, IPv6 none
    (Neutron's ``ipam.utils.generate_pools``)."""
    return int(net.network_address) + 1, int(net.broadcast_address) - (net.version == 4)


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """All host addresses of ``net`` except the gateway, as ``[{"start", "end"}]`` ranges."""
    first, last = _hosts(net)
    gw = int(ipaddress.ip_address(gateway)) if gateway else None
    ranges: list[tuple[int, int]] = []
    if gw is not None and first <= gw <= last:
        if gw > first:
            ranges.append((first, gw - 1))
        if gw < last:
            ranges.append((gw + 1, last))
    else:
        ranges.append((first, last))
    return [
        {"start": str(_address(a, net.version)), "end": str(_address(b, net.version))}
        for a, b in ranges
    ]


def validate_pools(net: IPNetwork, gateway: str | None, pools: Any) -> list[dict[str, str]]:
    """Check user-given pools: inside the cidr's hosts, start <= end, no overlap, no gateway.

    Returns:
        The pools normalised and sorted by start.

    Raises:
        InvalidAllocationPool (400) or InvalidInput (400) for malformed entries.
    """
    if not isinstance(pools, list):
        raise exc.InvalidInput("allocation_pools must be a list of {start, end} objects.")
    first, last = _hosts(net)
    ranges: list[tuple[int, int]] = []
    for pool in pools:
        if not isinstance(pool, dict) or "start" not in pool or "end" not in pool:
            raise exc.InvalidInput("allocation_pools entries need 'start' and 'end'.")
        start = int(parse_ip(pool["start"], "allocation_pools", net.version))
        end = int(parse_ip(pool["end"], "allocation_pools", net.version))
        if start > end or start < first or end > last:
            raise exc.InvalidAllocationPool(
                f"The allocation pool {pool['start']}-{pool['end']} spans beyond the subnet "
                f"cidr {net} or is inverted."
            )
        ranges.append((start, end))
    ranges.sort()
    for (_a, b), (c, _d) in zip(ranges, ranges[1:], strict=False):
        if c <= b:
            raise exc.InvalidAllocationPool("Found overlapping allocation pools.")
    if gateway:
        gw = int(ipaddress.ip_address(gateway))
        if any(a <= gw <= b for a, b in ranges):
            raise exc.InvalidAllocationPool(f"Gateway ip {gateway} conflicts with allocation pool.")
    return [
        {"start": str(_address(a, net.version)), "end": str(_address(b, net.version))}
        for a, b in ranges
    ]


def pool_size(pools: list[dict[str, str]]) -> int:
    """Number of addresses in ``pools``."""
    return sum(
        int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
        for p in pools
    )


def _used(session: Session, subnet_id: str) -> set[str]:
    return set(
        session.scalars(
            sa.select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet_id)
        )
    )


def _free_addresses(subnet: Subnet, used: set[str]) -> Iterator[str]:
    for pool in subnet.allocation_pools:
        start = int(ipaddress.ip_address(pool["start"]))
        end = int(ipaddress.ip_address(pool["end"]))
        for number in range(start, end + 1):
            ip = str(_address(number, subnet.ip_version))
            if ip not in used and ip != subnet.gateway_ip:
                yield ip


def _candidates(session: Session, subnet: Subnet, count: int) -> list[str]:
    used = _used(session, subnet.id)
    found: list[str] = []
    for ip in _free_addresses(subnet, used):
        found.append(ip)
        if len(found) >= count:
            break
    return found


def _insert(session: Session, subnet: Subnet, ip: str, port_id: str | None) -> bool:
    """Insert one allocation in a savepoint; False when the address was taken meanwhile."""
    try:
        with session.begin_nested():
            session.add(
                IPAllocation(
                    subnet_id=subnet.id,
                    ip_address=ip,
                    network_id=subnet.network_id,
                    port_id=port_id,
                )
            )
            session.flush()
    except IntegrityError:
        return False
    return True


def allocate_any(session: Session, subnet: Subnet, port_id: str | None) -> str | None:
    """Allocate the next free address of ``subnet``'s pools to ``port_id``.

    Returns:
        The address, or None when the pools are exhausted.
    """
    for attempt in range(MAX_ATTEMPTS):
        # First try the lowest free address; after a collision spread out to avoid
        # colliding again with the other concurrent allocators.
        candidates = _candidates(session, subnet, 1 if attempt == 0 else 16)
        if not candidates:
            return None
        ip = candidates[0] if attempt == 0 else random.choice(candidates)
        if _insert(session, subnet, ip, port_id):
            return ip
    return None


def check_requested(subnet: Subnet, ip_address: Any) -> str:
    """Validate a requested address for ``subnet``: inside the cidr, not the network,
    broadcast or gateway address. Returns it normalised.

    Raises:
        InvalidInput (400): not an IP address. InvalidIpForSubnet (400): not usable here.
    """
    addr = parse_ip(ip_address, version=None)
    net = ipaddress.ip_network(subnet.cidr)
    reserved = (net.network_address, net.broadcast_address) if net.version == 4 else ()
    if (
        addr.version != net.version
        or addr not in net
        or addr in reserved
        or (net.version == 6 and addr == net.network_address)
        or str(addr) == subnet.gateway_ip
    ):
        raise exc.InvalidIpForSubnet(str(addr))
    return str(addr)


def allocate_specific(
    session: Session, subnet: Subnet, ip_address: Any, port_id: str | None
) -> str:
    """Allocate a requested address (it may lie outside the pools but inside the cidr).

    Raises:
        InvalidIpForSubnet (400), IpAddressAlreadyAllocated (409).
    """
    ip = check_requested(subnet, ip_address)
    taken = session.get(IPAllocation, (subnet.id, ip))
    if taken is not None or not _insert(session, subnet, ip, port_id):
        raise exc.IpAddressAlreadyAllocated(ip, subnet.id)
    return ip


def allocate_eui64(session: Session, subnet: Subnet, mac: str, port_id: str | None) -> str:
    """Give ``port_id`` its EUI-64 address on an auto-address subnet (``is_auto_address``).

    Raises:
        IpAddressAlreadyAllocated (409): another port of the same MAC holds it.
    """
    ip = eui64_address(subnet.cidr, mac)
    if session.get(IPAllocation, (subnet.id, ip)) is not None or not _insert(
        session, subnet, ip, port_id
    ):
        raise exc.IpAddressAlreadyAllocated(ip, subnet.id)
    return ip


def allocate_on_subnet(
    session: Session, subnet: Subnet, mac: str, port_id: str | None
) -> str | None:
    """An address of ``subnet`` for a port: its EUI-64 address on an auto-address subnet,
    else the next free address of the pools (None when they are exhausted)."""
    if subnet.ip_version == 6 and is_auto_address(subnet):
        return allocate_eui64(session, subnet, mac, port_id)
    return allocate_any(session, subnet, port_id)


def allocate_on_network(
    session: Session, subnets: list[Subnet], port_id: str | None, network_id: str, mac: str = ""
) -> list[dict[str, str]]:
    """A port's addresses when it asks for none, as Neutron's IPAM gives them: one address
    from the first IPv4 subnet with one free, one from the first DHCPv6-stateful (or
    mode-less) IPv6 subnet with one free, and the EUI-64 address of ``mac`` on every
    auto-address subnet.

    Returns:
        ``[{"subnet_id", "ip_address"}]`` (empty when the network has no subnets).

    Raises:
        IpAddressGenerationFailure (409): every subnet of a family with pools is exhausted.
    """
    found: list[dict[str, str]] = []
    pooled = [s for s in subnets if not (s.ip_version == 6 and is_auto_address(s))]
    for version in (4, 6):
        family = [s for s in pooled if s.ip_version == version]
        for subnet in family:
            ip = allocate_any(session, subnet, port_id)
            if ip is not None:
                found.append({"subnet_id": subnet.id, "ip_address": ip})
                break
        else:
            if family:
                raise exc.IpAddressGenerationFailure(network_id)
    for subnet in subnets:
        if subnet.ip_version == 6 and is_auto_address(subnet):
            ip = allocate_eui64(session, subnet, mac, port_id)
            found.append({"subnet_id": subnet.id, "ip_address": ip})
    return found


def release_port(session: Session, port_id: str) -> None:
    """Free every address of a port."""
    session.execute(sa.delete(IPAllocation).where(IPAllocation.port_id == port_id))
