"""Volume attachments of a server (API reference "Servers with volume attachments (servers,
os-volume_attachments)"), 2.1: list, show, attach, detach; swapping (PUT) is not offered.

``openstack server add volume`` / ``server remove volume`` / ``server volume list``. The
2.1 attachment view is ``{"id", "volumeId", "serverId", "device"}`` (``id`` is the volume's
id); ``tag`` (2.70), ``delete_on_termination`` (2.79) and ``attachment_id`` (2.89) are
added by the microversions that introduced them. Attach answers 200 once the guest has the
disk (the flow runs in ``cloud.compute.volumes``); detach answers 202.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_int
from pocketstack.compute.api import device_tags
from pocketstack.compute.api.views import volume_attachment_view


def list_volume_attachments(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-volume_attachments`` (``limit``/``offset`` as Nova)."""
    policy.enforce(req.ctx, "compute:os-volumes-attachments:index")
    bdms = req.cloud.compute.volumes.list(req.ctx, req.params["server_id"])
    offset = parse_int(req.query.get("offset", 0), "offset", minimum=0)
    limit = req.query.get("limit")
    end = None if limit is None else offset + parse_int(limit, "limit", minimum=0)
    return {"volumeAttachments": [volume_attachment_view(req, b) for b in bdms[offset:end]]}


def get_volume_attachment(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-volume_attachments/{volume_id}``; 404 when that
    volume is not attached to the server."""
    policy.enforce(req.ctx, "compute:os-volumes-attachments:show")
    bdm = req.cloud.compute.volumes.get(req.ctx, req.params["server_id"], req.params["volume_id"])
    return {"volumeAttachment": volume_attachment_view(req, bdm)}


def create_volume_attachment(req: ApiRequest) -> dict[str, Any]:
    """``POST /servers/{server_id}/os-volume_attachments`` {"volumeAttachment": {"volumeId",
    "device"?}} -> 200 the attachment (its ``device``: ``/dev/vdb``...)."""
    policy.enforce(req.ctx, "compute:os-volumes-attachments:create")
    body = req.body["volumeAttachment"]
    device_tags.check_volume_attach(req, body)
    bdm = req.cloud.compute.volumes.attach(
        req.ctx, req.params["server_id"], body["volumeId"], body.get("device"), body.get("tag")
    )
    return {"volumeAttachment": volume_attachment_view(req, bdm)}


def delete_volume_attachment(req: ApiRequest) -> ApiResponse:
    """``DELETE /servers/{server_id}/os-volume_attachments/{volume_id}`` -> 202; 404 when
    the volume is not attached to the server."""
    policy.enforce(req.ctx, "compute:os-volumes-attachments:delete")
    req.cloud.compute.volumes.detach(req.ctx, req.params["server_id"], req.params["volume_id"])
    return ApiResponse(status=202)
