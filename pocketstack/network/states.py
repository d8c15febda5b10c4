"""The ``status`` of network resources and the changes it may make.

Networking API v2.0 reference, "Networks" and "Ports" (``status``): a network is ``ACTIVE``
(this cloud has no agent that would keep one ``BUILD`` or ``DOWN``); a port is ``DOWN``
until bound to a host (``binding:host_id``), ``ACTIVE`` while bound, and ``DOWN`` again when
unbound. With a driver that has agents (``linuxbridge``) a bound port stays ``DOWN``
until its host's network agent reports it wired (``ports_up``: ``ACTIVE``) and goes
``DOWN`` again when the agent loses it (``ports_down``). Every write of a port's status goes
through ``transition``.
"""

from __future__ import annotations

from pocketstack.common import errors
from pocketstack.network.models import Port

ACTIVE = "ACTIVE"
DOWN = "DOWN"
BUILD = "BUILD"

#: The status of a new network.
NETWORK_INITIAL = ACTIVE
#: The status of a new port (before ``bound_status`` decides).
PORT_INITIAL = DOWN

#: status -> the statuses a port may go to from it (staying put is always allowed).
TRANSITIONS: dict[str, frozenset[str]] = {
    DOWN: frozenset({ACTIVE, BUILD}),
    BUILD: frozenset({ACTIVE, DOWN}),
    ACTIVE: frozenset({DOWN}),
}


def bound_status(host_id: str, has_agents: bool = False, current: str | None = None) -> str:
    """The status of a port bound to ``host_id``, or unbound (``""``: ``DOWN``).

    Without agents (``noop``) a bound port is ``ACTIVE`` at once. With agents
    (``linuxbridge``) it is what its host's agent last reported: ``current`` when the
    binding did not change, else ``DOWN`` until the agent reports it wired (``ports_up``).
    """
    if not host_id:
        return DOWN
    if not has_agents:
        return ACTIVE
    return current or DOWN


def transition(port: Port, status: str) -> None:
    """Move ``port`` to ``status``.

    Raises:
        InvalidState (409): the transition table does not hold ``port.status -> status``.
    """
    current = port.status or PORT_INITIAL
    if status != current and status not in TRANSITIONS.get(current, frozenset()):
        raise errors.InvalidState(f"Port {port.id} cannot go from {current} to {status}.")
    port.status = status
