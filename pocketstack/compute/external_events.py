"""Server external events: what another service tells Compute about a server (Compute API
reference, "Create External Events (os-server-external-events)", 2.1).

The Network service sends ``network-changed`` (``tag``: the port) when a floating IP of a
server's port is associated, disassociated or deleted, or a port's fixed IPs change, and
``network-vif-deleted`` when a server's port is deleted. Compute then refreshes the
server's cached ``network_info`` (``Instance.network_info``, which the API's ``addresses``
are rendered from) with ``cloud.network.get_instance_network_info``, as Nova refreshes its
instance info cache. ``network-vif-plugged``/``-unplugged`` are accepted and change nothing
(pocketstack's build does not wait for them).

The Block Storage service sends ``volume-extended`` (``tag``: the volume id; Nova 2.51)
when an attached volume grew: the server's compute agent then resizes the guest's disk (QMP
``block_resize``, ``volumes.Volumes.extend``). It is taken from the volume manager in the
controller's process (``create`` here); the HTTP API, which serves 2.1, keeps the 2.1 names
(``EVENT_NAMES``).

Per event, as Nova answers: code 200 (accepted), 404 (no such server, or deleted), 422 (the
server has no host yet); failed events get status ``failed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pocketstack.common.auth import RequestContext
from pocketstack.compute.exceptions import ServerNotFound
from pocketstack.compute.models import Instance

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

#: the event names of Compute API 2.1 (later microversions add volume-extended...)
EVENT_NAMES = (
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
)
#: the events the volume manager sends (in-process; Nova 2.51's ``volume-extended``)
VOLUME_EVENT_NAMES = ("volume-extended",)
#: the events after which the server's network_info is read again
REFRESH_EVENTS = frozenset({"network-changed", "network-vif-deleted"})
STATUSES = ("failed", "completed", "in-progress")


@dataclass(frozen=True)
class ServerExternalEvent:
    """One event: ``name`` (one of ``EVENT_NAMES``), ``server_uuid``, ``status`` (one of
    ``STATUSES``), ``tag`` (for network events the port id; None when not given) and, in
    an answer, ``code`` (200, 404 or 422; None in a request)."""

    name: str
    server_uuid: str
    status: str = "completed"
    tag: str | None = None
    code: int | None = None


class ServerExternalEvents:
    """``cloud.compute.server_external_events``: events other services send."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def create(
        self, ctx: RequestContext, events: list[ServerExternalEvent]
    ) -> list[ServerExternalEvent]:
        """Take ``events`` and act on the accepted ones (``REFRESH_EVENTS``: the server's
        ``network_info`` is read again from the Network service and stored;
        ``volume-extended``: the guest's disk of volume ``tag`` is resized, a cast to its
        agent).

        Returns:
            The events in request order, each with its ``code`` (200/404/422) and, when
            not accepted, status ``failed``.

        Raises:
            ServerNotFound (404, "No instances found for any event"): no event accepted.
            The Network service's errors while reading ``network_info`` propagate.
        """
        with self.cloud.db.reader() as s:
            rows = {e.server_uuid: s.get(Instance, e.server_uuid) for e in events}
        answered = [self._answer(event, rows.get(event.server_uuid)) for event in events]
        accepted = [e for e in answered if e.code == 200]
        if not accepted:
            raise ServerNotFound("No instances found for any event")
        refresh = dict.fromkeys(e.server_uuid for e in accepted if e.name in REFRESH_EVENTS)
        for server_uuid in refresh:
            self.refresh_network_info(server_uuid)
        for event in accepted:
            if event.name == "volume-extended" and event.tag:
                self.cloud.compute.volumes.extend(event.server_uuid, event.tag)
        return answered

    def __call__(
        self, ctx: RequestContext, events: list[dict[str, str]]
    ) -> list[ServerExternalEvent]:
        """The in-process form another service's manager calls
        (``cloud.compute.server_external_events(ctx, [{"name", "server_uuid", "tag"?,
        "status"?}])``, as the volume manager sends ``volume-extended``): ``create`` with
        the request's dicts, its answer unchanged."""
        return self.create(
            ctx,
            [
                ServerExternalEvent(
                    name=e["name"],
                    server_uuid=e["server_uuid"],
                    status=e.get("status", "completed"),
                    tag=e.get("tag"),
                )
                for e in events
            ],
        )

    @staticmethod
    def _answer(event: ServerExternalEvent, row: Instance | None) -> ServerExternalEvent:
        if row is None or row.deleted:
            return replace(event, code=404, status="failed")
        if not row.host:
            return replace(event, code=422, status="failed")
        return replace(event, code=200)

    def refresh_network_info(self, server_uuid: str) -> list[dict[str, object]]:
        """Read the server's ``network_info`` from ``cloud.network`` and store it on the
        server (nothing stored when the server is gone meanwhile).

        Returns:
            The new ``network_info``.
        """
        info = self.cloud.network.get_instance_network_info(RequestContext.system(), server_uuid)
        with self.cloud.db.transaction() as s:
            row = s.get(Instance, server_uuid)
            if row is not None and not row.deleted:
                row.network_info = info
        LOG.info("refreshed the network info of server %s (%d ports)", server_uuid, len(info))
        return info
