"""IP address management: pools, validation and atomic allocation of IPv4 addresses.

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


def parse_cidr(cidr: Any, max_prefixlen: int = 30) -> ipaddress.IPv4Network:
    """A validated IPv4 network from ``cidr`` (host bits are cleared: 10.0.0.5/24 -> /24);
    ``max_prefixlen`` 32 for a destination such as a host route's, where one address is fine.

    Raises:
        InvalidInput (400): not a CIDR string, an IPv6 cidr, or a prefix longer than
        ``max_prefixlen``.
    """
    if not isinstance(cidr, str) or "/" not in cidr:
        raise exc.InvalidInput(f"'{cidr}' is not a valid IP subnet.")
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        raise exc.InvalidInput(f"'{cidr}' is not a valid IP subnet.") from None
    if net.version != 4:
        raise exc.InvalidInput("IPv6 subnets are not supported yet; use ip_version 4.")
    if net.prefixlen > max_prefixlen:
        raise exc.InvalidInput(
            f"'{cidr}' is too small: the prefix length must be at most {max_prefixlen}."
        )
    return net


def parse_ip(value: Any, what: str = "ip_address") -> ipaddress.IPv4Address:
    """A validated IPv4 address, or InvalidInput (400) naming ``what``."""
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise exc.InvalidInput(f"'{value}' is not a valid IP address for {what}.") from None
    if addr.version != 4:
        raise exc.InvalidInput(f"'{value}' is not an IPv4 address ({what}).")
    return addr


def default_pools(net: ipaddress.IPv4Network, gateway: str | None) -> list[dict[str, str]]:
    """All host addresses of ``net`` except the gateway, as ``[{"start", "end"}]`` ranges."""
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - 1
    gw = int(ipaddress.IPv4Address(gateway)) if gateway else None
    ranges: list[tuple[int, int]] = []
    if gw is not None and first <= gw <= last:
        if gw > first:
            ranges.append((first, gw - 1))
        if gw < last:
            ranges.append((gw + 1, last))
    else:
        ranges.append((first, last))
    return [
        {"start": str(ipaddress.IPv4Address(a)), "end": str(ipaddress.IPv4Address(b))}
        for a, b in ranges
    ]


def validate_pools(
    net: ipaddress.IPv4Network, gateway: str | None, pools: Any
) -> list[dict[str, str]]:
    """Check user-given pools: inside the cidr's hosts, start <= end, no overlap, no gateway.

    Returns:
        The pools normalised and sorted by start.

    Raises:
        InvalidAllocationPool (400) or InvalidInput (400) for malformed entries.
    """
    if not isinstance(pools, list):
        raise exc.InvalidInput("allocation_pools must be a list of {start, end} objects.")
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - 1
    ranges: list[tuple[int, int]] = []
    for pool in pools:
        if not isinstance(pool, dict) or "start" not in pool or "end" not in pool:
            raise exc.InvalidInput("allocation_pools entries need 'start' and 'end'.")
        start = int(parse_ip(pool["start"], "allocation_pools"))
        end = int(parse_ip(pool["end"], "allocation_pools"))
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
        gw = int(ipaddress.IPv4Address(gateway))
        if any(a <= gw <= b for a, b in ranges):
            raise exc.InvalidAllocationPool(f"Gateway ip {gateway} conflicts with allocation pool.")
    return [
        {"start": str(ipaddress.IPv4Address(a)), "end": str(ipaddress.IPv4Address(b))}
        for a, b in ranges
    ]


def pool_size(pools: list[dict[str, str]]) -> int:
    """Number of addresses in ``pools``."""
    return sum(
        int(ipaddress.IPv4Address(p["end"])) - int(ipaddress.IPv4Address(p["start"])) + 1
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
        start = int(ipaddress.IPv4Address(pool["start"]))
        end = int(ipaddress.IPv4Address(pool["end"]))
        for number in range(start, end + 1):
            ip = str(ipaddress.IPv4Address(number))
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
        InvalidInput (400): not an IPv4 address. InvalidIpForSubnet (400): not usable here.
    """
    addr = parse_ip(ip_address)
    net = ipaddress.ip_network(subnet.cidr)
    if (
        addr not in net
        or addr in (net.network_address, net.broadcast_address)
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


def allocate_on_network(
    session: Session, subnets: list[Subnet], port_id: str | None, network_id: str
) -> dict[str, str] | None:
    """One address from the first subnet of a network that has one free.

    Returns:
        ``{"subnet_id", "ip_address"}``, or None when the network has no subnets.

    Raises:
        IpAddressGenerationFailure (409): every subnet is exhausted.
    """
    if not subnets:
        return None
    for subnet in subnets:
        ip = allocate_any(session, subnet, port_id)
        if ip is not None:
            return {"subnet_id": subnet.id, "ip_address": ip}
    raise exc.IpAddressGenerationFailure(network_id)


def release_port(session: Session, port_id: str) -> None:
    """Free every address of a port."""
    session.execute(sa.delete(IPAllocation).where(IPAllocation.port_id == port_id))
