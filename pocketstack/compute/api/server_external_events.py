"""Server external events (API reference "Create External Events
(os-server-external-events)"), 2.1: ``POST /os-server-external-events``, admin (service)
only, as Nova's ``os_compute_api:os-server-external-events:create``.

The body is checked against ``schemas.SERVER_EXTERNAL_EVENTS_CREATE`` before the handler
runs. The answer is 200 when every event was accepted and 207 when some were not (each
event carries its own ``code``: 200, 404 or 422); 404 when none was.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api.views import server_external_event
from pocketstack.compute.external_events import ServerExternalEvent


def create_server_external_events(req: ApiRequest) -> ApiResponse:
    """``POST /os-server-external-events`` {"events": [{"name", "server_uuid", "status"?,
    "tag"?}]} -> {"events": [... with "code"]}."""
    policy.enforce(req.ctx, "compute:os-server-external-events:create")
    events = [
        ServerExternalEvent(
            name=item["name"],
            server_uuid=item["server_uuid"],
            status=item.get("status", "completed"),
            tag=item.get("tag"),
        )
        for item in req.body["events"]
    ]
    answered = req.cloud.compute.server_external_events.create(req.ctx, events)
    body: dict[str, Any] = {"events": [server_external_event(e) for e in answered]}
    return ApiResponse(200 if all(e.code == 200 for e in answered) else 207, body)
