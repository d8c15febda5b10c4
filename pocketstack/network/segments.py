"""Provider segments of networks (Neutron's ``provider`` extension and ML2 type drivers):
what a network is on the wire.

- ``vxlan`` (tenant networks, the default): a VNI, ``provider:segmentation_id``, from
  ``[network] vni_ranges`` (Neutron's ``[ml2_type_vxlan] vni_ranges``, ``"min:max,..."``)
  unless an admin names one (any of 1..2**24-1, as Neutron lets an admin); no physical
  network; MTU at most 1450 (1500 less the VXLAN overhead), 1450 by default.
- ``flat`` (the external network): an untagged physical network named by an admin
  (``provider:physical_network``, one of ``[network] physical_interface_mappings``'s
  names, ``public``); no segmentation id; at most one network per physical network
  (Neutron's ``FlatNetworkInUse``); MTU at most and by default 1500.

Only admins name a segment (``networks`` checks that); everyone else gets a vxlan network.

``Segments`` (``cloud.network.segments``) is the read side of Neutron's ``segment``
extension (Networking API v2.0 reference, "Segments"): every network has exactly one
segment, kept on the network row, whose id is derived from the network's (``segment_id``).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import common, lists
from pocketstack.network import exceptions as exc
from pocketstack.network.models import Network

if TYPE_CHECKING:
    from pocketstack.service import Cloud

MAX_VNI = 2**24 - 1
#: network type -> its largest (and default) MTU
MTUS = {"vxlan": 1450, "flat": 1500}
#: the smallest MTU Neutron takes (IPv4's minimum)
MIN_MTU = 68


@dataclass(frozen=True)
class Segment:
    """A network's segment: ``network_type`` ``vxlan`` or ``flat``; ``segmentation_id`` the
    VNI (None: allocate one; always None for flat); ``physical_network`` (flat only)."""

    network_type: str = "vxlan"
    segmentation_id: int | None = None
    physical_network: str | None = None

    def mtu(self, wanted: int | None) -> int:
        """The MTU of a network on this segment: ``wanted`` checked, or the type's default.

        Raises:
            InvalidInput (400): outside ``MIN_MTU``..the type's largest.
        """
        return mtu_for(self.network_type, wanted)


def mtu_for(network_type: str, wanted: int | None) -> int:
    """``wanted`` checked against ``network_type``'s largest MTU, or that MTU when None.

    Raises:
        InvalidInput (400): outside ``MIN_MTU``..the type's largest.
    """
    largest = MTUS.get(network_type, MTUS["vxlan"])
    if wanted is None:
        return largest
    if not MIN_MTU <= wanted <= largest:
        raise exc.InvalidInput(f"Requested MTU {wanted} must be between {MIN_MTU} and {largest}.")
    return wanted


def vni_ranges(conf: Any) -> list[tuple[int, int]]:
    """``[network] vni_ranges`` (``"1:1000,5000:6000"``) as ``[(min, max)]``, each within
    1..``MAX_VNI``. Raises ValueError naming the option for a malformed value."""
    text = str(getattr(conf, "vni_ranges", "") or "1:16000000")
    result = []
    for item in text.split(","):
        low, sep, high = item.strip().partition(":")
        try:
            pair = (int(low), int(high if sep else low))
        except ValueError:
            raise ValueError(f"[network] vni_ranges: bad range {item!r}") from None
        if not 1 <= pair[0] <= pair[1] <= MAX_VNI:
            raise ValueError(f"[network] vni_ranges: {item!r} is not within 1:{MAX_VNI}")
        result.append(pair)
    return result


def physical_networks(conf: Any) -> set[str]:
    """The physical network names of ``[network] physical_interface_mappings``
    (``public:eth-ext`` -> ``{"public"}``), and always ``public``, the one bootstrap's
    external network is on."""
    text = str(getattr(conf, "physical_interface_mappings", "") or "")
    return {e.split(":", 1)[0].strip() for e in text.split(",") if ":" in e} | {"public"}


def requested(
    conf: Any, network_type: str | None, segmentation_id: int | None, physical: str | None
) -> Segment:
    """The segment a create asks for (the ``provider:*`` attributes, None when not given).

    Raises:
        InvalidInput (400): an unsupported type, a VNI outside 1..2**24-1, a physical
        network on vxlan or a segmentation id on flat, a flat network without a known
        physical network.
    """
    kind = network_type or ("flat" if physical is not None else "vxlan")
    if kind == "vxlan":
        if physical is not None:
            raise exc.InvalidInput("provider:physical_network specified for vxlan network.")
        if segmentation_id is not None and not 1 <= segmentation_id <= MAX_VNI:
            raise exc.InvalidInput(f"provider:segmentation_id must be in 1..{MAX_VNI}.")
        return Segment("vxlan", segmentation_id)
    if kind == "flat":
        if segmentation_id is not None:
            raise exc.InvalidInput("provider:segmentation_id specified for flat network.")
        if physical is None:
            raise exc.InvalidInput("provider:physical_network required for flat network.")
        known = physical_networks(conf)
        if physical not in known:
            raise exc.InvalidInput(
                f"physical_network '{physical}' unknown for flat provider network "
                f"(known: {', '.join(sorted(known)) or 'none'})."
            )
        return Segment("flat", None, physical)
    raise exc.InvalidInput(f"Network type {kind} is not supported: use vxlan or flat.")


def _free_vni(session: Session, ranges: list[tuple[int, int]]) -> int | None:
    """A VNI of ``ranges`` no network holds: past the highest in use when there is room,
    else the lowest gap."""
    in_ranges = sa.or_(*(Network.segmentation_id.between(lo, hi) for lo, hi in ranges))
    highest = session.scalar(sa.select(sa.func.max(Network.segmentation_id)).where(in_ranges))
    if highest is None:
        return ranges[0][0]
    for lo, hi in ranges:
        if lo <= highest < hi:
            return highest + 1
        if highest < lo:
            return lo
    used = set(session.scalars(sa.select(Network.segmentation_id).where(in_ranges)))
    for lo, hi in ranges:
        for vni in range(lo, hi + 1):
            if vni not in used:
                return vni
    return None


def add_network(session: Session, conf: Any, segment: Segment, values: dict[str, Any]) -> Network:
    """Insert a network with ``values`` on ``segment``, allocating its VNI when it needs one.

    Raises:
        TunnelIdInUse (409): the asked VNI is taken. FlatNetworkInUse (409): the physical
        network already has a flat network. NoNetworkAvailable (503): ``vni_ranges`` are
        used up. ServiceUnavailable (503): ``vni_ranges`` is malformed.
    """
    fixed = dict(values, network_type=segment.network_type)
    if segment.network_type == "flat":
        taken = session.scalar(
            sa.select(Network.id).where(
                Network.network_type == "flat",
                Network.physical_network == segment.physical_network,
            )
        )
        if taken:
            raise exc.FlatNetworkInUse(str(segment.physical_network))
        fixed.update(segmentation_id=None, physical_network=segment.physical_network)
        network = Network(**fixed)
        session.add(network)
        session.flush()
        return network
    wanted = segment.segmentation_id
    if wanted is not None:
        if session.scalar(sa.select(Network.id).where(Network.segmentation_id == wanted)):
            raise exc.TunnelIdInUse(wanted)
        return common.add_unique(session, lambda: Network(segmentation_id=wanted, **fixed))
    try:
        ranges = vni_ranges(conf)
    except ValueError as err:  # a configuration mistake: no tenant network can be made
        raise exc.errors.ServiceUnavailable(f"Unable to create the network: {err}.") from None

    def make() -> Network:
        vni = _free_vni(session, ranges)
        if vni is None:
            raise exc.NoNetworkAvailable()
        return Network(segmentation_id=vni, **fixed)

    return common.add_unique(session, make)


def make_flat(session: Session, network_id: str, physical: str) -> None:
    """Turn a vxlan network into a flat one on ``physical`` (its VNI freed, its MTU the flat
    default when it had the vxlan default); nothing when it is flat already or another
    network holds ``physical``. For the bootstrap ``public`` network an older version made."""
    network = session.get(Network, network_id)
    if network is None or network.network_type == "flat":
        return
    if session.scalar(
        sa.select(Network.id).where(
            Network.network_type == "flat", Network.physical_network == physical
        )
    ):
        return
    network.network_type = "flat"
    network.physical_network = physical
    network.segmentation_id = None
    if network.mtu == MTUS["vxlan"]:
        network.mtu = MTUS["flat"]
    common.touch(network)


#: XOR'ed into a network id to give its segment's id: keeps a UUID4's version and variant
#: bits (zero there), so the id is a UUID4 too, stable, distinct from the network's, and
#: turned back into the network id in SQL filters without a table of its own.
_SEGMENT_ID_MASK = uuid.UUID("a5a5a5a5-a5a5-0a5a-3a5a-a5a5a5a5a5a5").int


def segment_id(network_id: str) -> str:
    """The id of the one segment of network ``network_id`` (a UUID string)."""
    return str(uuid.UUID(int=uuid.UUID(network_id).int ^ _SEGMENT_ID_MASK))


def network_of(seg_id: str) -> str | None:
    """The network id whose segment is ``seg_id``; None when ``seg_id`` is no canonical
    (lower-case, hyphenated) UUID, so no network can have it."""
    try:
        parsed = uuid.UUID(seg_id)
    except (ValueError, AttributeError):
        return None
    if str(parsed) != seg_id:
        return None
    return str(uuid.UUID(int=parsed.int ^ _SEGMENT_ID_MASK))


def _id_condition(wanted: str) -> Any:
    network_id = network_of(wanted)
    return sa.false() if network_id is None else Network.id == network_id


#: API attribute -> what a segment list filters on (``lists.filter_condition``); a
#: segment here has no name (null) and an empty description, as Neutron's segment made
#: with its network has.
FILTERS: dict[str, Any] = {
    "id": _id_condition,
    "network_id": Network.id,
    "network_type": Network.network_type,
    "physical_network": Network.physical_network,
    "segmentation_id": Network.segmentation_id,
    "name": sa.null(),
    "description": sa.literal(""),
}
SORT = lists.sort_spec(
    {
        "network_id": Network.id,
        "network_type": Network.network_type,
        "physical_network": Network.physical_network,
        "segmentation_id": Network.segmentation_id,
    },
    Network,
)


class Segments:
    """The segments of ``cloud.network`` (``cloud.network.segments``); Networking API v2.0
    reference, "Segments". A segment is its network's row (``network_type``,
    ``physical_network``, ``segmentation_id``), with ``segment_id`` as its id; the API
    allows reading them to admins only (Neutron's ``get_segment``), so every network's
    segment is listed, whatever its project. Methods return ``Network`` rows; the view
    renders them as segments.
    """

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[Network]:
        """Every segment, filtered (``id``, ``network_id``, ``network_type``,
        ``physical_network``, ``segmentation_id``, ``name``, ``description``), sorted
        (those but ``id``, ``name``, ``description``; ``created_at``, ``updated_at``) and
        paged in SQL; the marker is a segment id.

        Raises:
            InvalidInput (400: sort key or direction), SegmentNotFound (404: the marker).
        """
        if query.marker is not None:
            network_id = network_of(query.marker)
            if network_id is None:
                raise exc.SegmentNotFound(query.marker)
            query = dataclasses.replace(query, marker=network_id)
        with self.cloud.db.reader() as s:
            select = sa.select(Network).where(lists.filter_condition(FILTERS, query))
            return lists.fetch(s, select, SORT, query, lambda m: exc.SegmentNotFound(segment_id(m)))

    def get(self, ctx: RequestContext, seg_id: str) -> Network:
        """The network whose segment is ``seg_id``. Raises SegmentNotFound (404)."""
        network_id = network_of(seg_id)
        with self.cloud.db.reader() as s:
            network = None if network_id is None else s.get(Network, network_id)
            if network is None:
                raise exc.SegmentNotFound(seg_id)
            return network

    def create(self, ctx: RequestContext, network_id: str) -> Network:
        """A second segment on network ``network_id``: refused, as every network here has
        its one segment made with it (no multi-segment networks).

        Raises:
            NetworkNotFound (404), SegmentsUnsupported (400).
        """
        with self.cloud.db.reader() as s:
            if s.get(Network, network_id) is None:
                raise exc.NetworkNotFound(network_id)
        raise exc.SegmentsUnsupported("a network has only the segment made with it")

    def update(self, ctx: RequestContext, seg_id: str) -> Network:
        """Changing a segment: refused (a segment here has no name or description of its
        own). Raises SegmentNotFound (404), SegmentsUnsupported (400)."""
        self.get(ctx, seg_id)
        raise exc.SegmentsUnsupported("a segment's attributes are its network's")

    def delete(self, ctx: RequestContext, seg_id: str) -> None:
        """Deleting a segment: refused while its network exists (it is the network's only
        segment; Neutron's ``SegmentInUse``). Raises SegmentNotFound (404),
        SegmentInUse (409)."""
        network = self.get(ctx, seg_id)
        raise exc.SegmentInUse(seg_id, network.id)
