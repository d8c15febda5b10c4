"""Server consoles (API reference "Server Consoles"): Create Remote Console
(``POST /servers/{server_id}/remote-consoles``, microversion 2.6+) and the older actions Get
VNC Console (``os-getVNCConsole``) and Get Serial Console (``os-getSerialConsole``), 2.1 to
2.5. ``openstack console url show --novnc|--serial <server>``. And "Server Consoles" — Show
Console Connection Information (``GET /os-console-auth-tokens/{console_token}``, admin;
``openstack console connection show <token>``).

Bodies are checked against ``schemas.REMOTE_CONSOLE_CREATE`` and ``SERVER_ACTION`` first;
the URL comes from ``cloud.compute.consoles`` (a one-time token for the console proxy).
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api import microversion


def _not_at_this_version() -> errors.NotFound:
    # Nova answers a method outside its version range 404
    return errors.NotFound("The resource could not be found.")


def create_remote_console(req: ApiRequest) -> dict[str, Any]:
    """``{"remote_console": {"protocol", "type"}}`` → 200 ``{"remote_console": {"protocol",
    "type", "url"}}`` ("Create Remote Console"): vnc/novnc and serial/serial; 400 for
    spice, rdp, mks or a type the protocol lacks, 404 before 2.6 or for an unknown server,
    409 unless the server runs (ACTIVE, PAUSED, RESCUED)."""
    if not microversion.at_least(req, 2, 6):
        raise _not_at_this_version()
    policy.enforce(req.ctx, "compute:os-remote-consoles")
    body = req.body["remote_console"]
    protocol, console_type = body["protocol"], body["type"]
    url = req.cloud.compute.consoles.create(
        req.ctx, req.params["server_id"], protocol, console_type
    )
    return {"remote_console": {"protocol": protocol, "type": console_type, "url": url}}


def _legacy(protocol: str) -> Any:
    def handler(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
        if microversion.at_least(req, 2, 6):
            raise _not_at_this_version()
        policy.enforce(req.ctx, "compute:os-remote-consoles")
        console_type = args["type"]
        url = req.cloud.compute.consoles.create(req.ctx, server_id, protocol, console_type)
        return ApiResponse(status=200, body={"console": {"type": console_type, "url": url}})

    return handler


#: ``{"os-getVNCConsole": {"type": "novnc"}}`` → 200 ``{"console": {"type", "url"}}``
#: ("Get VNC Console", 2.1-2.5; ``xvpvnc`` is 400 "Invalid console type")
get_vnc_console = _legacy("vnc")
get_vnc_console.__doc__ = "os-getVNCConsole (2.1-2.5) → {console: {type, url}}."
#: ``{"os-getSerialConsole": {"type": "serial"}}`` → 200 ``{"console": {"type", "url"}}``
#: ("Get Serial Console", 2.1-2.5)
get_serial_console = _legacy("serial")
get_serial_console.__doc__ = "os-getSerialConsole (2.1-2.5) → {console: {type, url}}."


def show_console_auth_token(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-console-auth-tokens/{console_token}`` (admin) → 200 ``{"console":
    {"instance_uuid", "host", "port", "internal_access_path"}}``: the token is not spent.
    ``host`` is the server's compute host; QEMU's consoles here are unix sockets on it, so
    ``port`` is 0 and ``internal_access_path`` the socket's path. 404 "Token not found" for
    an unknown, used or expired token; 401 before 2.31 (only ``rdp-html5`` tokens then)."""
    policy.enforce(req.ctx, "compute:os-console-auth-tokens")
    grant = req.cloud.compute.consoles.show_token(
        req.params["console_token"], any_type=microversion.at_least(req, 2, 31)
    )
    return {
        "console": {
            "instance_uuid": grant.instance_uuid,
            "host": grant.host or "",
            "port": int(grant.connect.get("port") or 0),
            "internal_access_path": grant.connect.get("unix"),
        }
    }
