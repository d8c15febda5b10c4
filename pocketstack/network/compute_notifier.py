"""Which servers to tell about a change of their ports (Neutron's Nova notifier,
``neutron/notifiers/nova.py``: it posts ``os-server-external-events`` to Nova).

The families compute ``ServerPortEvent``s inside their write transaction (the port's
``device_id`` and ``device_owner`` as they are then) and hand them, after the commit, to
``NetworkManager.notify_compute``, which sends them to ``cloud.compute.
server_external_events``. Only ports of servers (``device_owner`` ``compute:*``, a
``device_id``) give events, as in Neutron.

Events: ``network-changed`` (a floating IP of the port was associated, disassociated or
deleted; the port's fixed IPs changed) and ``network-vif-deleted`` (the port was deleted);
``tag`` is the port id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.network.models import Port

NETWORK_CHANGED = "network-changed"
VIF_DELETED = "network-vif-deleted"
#: ``device_owner`` prefix of a server's ports (Neutron's ``compute:`` + zone)
COMPUTE_PREFIX = "compute:"


@dataclass(frozen=True)
class ServerPortEvent:
    """An event for Compute: ``name`` (``network-changed`` | ``network-vif-deleted``),
    ``server_uuid`` (the port's ``device_id``) and ``port_id`` (the event's tag)."""

    name: str
    server_uuid: str
    port_id: str


def is_server_port(port: Port) -> bool:
    """Whether ``port`` belongs to a server (``compute:*`` owner and a device)."""
    return bool(port.device_id) and port.device_owner.startswith(COMPUTE_PREFIX)


def port_events(
    session: Session, port_ids: Iterable[str | None], name: str = NETWORK_CHANGED
) -> list[ServerPortEvent]:
    """``name`` events for those of ``port_ids`` that are servers' ports (None and
    unknown ids are skipped), in the order given, each port once."""
    wanted = [p for p in dict.fromkeys(port_ids) if p]
    if not wanted:
        return []
    ports = {p.id: p for p in session.scalars(sa.select(Port).where(Port.id.in_(wanted)))}
    return [
        ServerPortEvent(name, ports[p].device_id, p)
        for p in wanted
        if p in ports and is_server_port(ports[p])
    ]
