"""Server sub-resources: ``/action`` (os-stop, os-start, reboot, os-getConsoleOutput),
``/metadata``, ``/ips`` and ``/os-instance-actions`` (API reference sections "Servers - run an
action", "Server metadata", "Servers IPs", "Servers actions"), 2.1 shapes.

Bodies are checked against ``schemas.SERVER_ACTION``, ``METADATA_SET`` and ``METADATA_ITEM``
before a handler runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_int
from pocketstack.compute.api import server_security_groups
from pocketstack.compute.api.views import action_view, action_with_events, addresses

# ---------------------------------------------------------------------------- actions


def stop_server(req: ApiRequest, server_id: str, _args: Any) -> ApiResponse:
    """``{"os-stop": null}`` → 202; 409 unless ACTIVE or ERROR ("Stop Server")."""
    policy.enforce(req.ctx, "compute:servers:stop")
    req.cloud.compute.servers.stop(req.ctx, server_id)
    return ApiResponse(status=202)


def start_server(req: ApiRequest, server_id: str, _args: Any) -> ApiResponse:
    """``{"os-start": null}`` → 202; 409 unless SHUTOFF ("Start Server")."""
    policy.enforce(req.ctx, "compute:servers:start")
    req.cloud.compute.servers.start(req.ctx, server_id)
    return ApiResponse(status=202)


def reboot_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"reboot": {"type": "SOFT"|"HARD"}}`` → 202; SOFT needs ACTIVE, HARD also takes
    SHUTOFF and ERROR ("Reboot Server")."""
    policy.enforce(req.ctx, "compute:servers:reboot")
    hard = args["type"].upper() == "HARD"  # the schema allows SOFT/HARD in three cases
    req.cloud.compute.servers.reboot(req.ctx, server_id, hard=hard)
    return ApiResponse(status=202)


def get_console_output(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"os-getConsoleOutput": {"length"?}}`` → 200 ``{"output"}``, the last ``length``
    lines (all with -1 or none); 409 while building, 404 without a console ("Show Console
    Output")."""
    raw = args.get("length")  # a number or a decimal string (schema), -1/null: everything
    length = None if raw is None else parse_int(raw, "length", minimum=-1)
    policy.enforce(req.ctx, "compute:servers:console_output")
    output = req.cloud.compute.servers.console_output(
        req.ctx, server_id, None if length in (None, -1) else length
    )
    return ApiResponse(status=200, body={"output": output})


#: The actions this API implements; ``schemas.SERVER_ACTION`` allows exactly these.
ACTIONS: dict[str, Callable[[ApiRequest, str, Any], ApiResponse]] = {
    "os-stop": stop_server,
    "os-start": start_server,
    "reboot": reboot_server,
    "os-getConsoleOutput": get_console_output,
    "addSecurityGroup": server_security_groups.add_security_group,
    "removeSecurityGroup": server_security_groups.remove_security_group,
}


def run_server_action(req: ApiRequest) -> ApiResponse:
    """``POST /servers/{server_id}/action``: dispatch on the body's single key (the schema
    let through only one of ``ACTIONS``, in its shape)."""
    ((name, args),) = req.body.items()
    return ACTIONS[name](req, req.params["server_id"], args)


# ---------------------------------------------------------------------------- metadata


def list_metadata(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/metadata`` → ``{"metadata": {...}}``."""
    policy.enforce(req.ctx, "compute:server-metadata:index")
    server = req.cloud.compute.servers.get(req.ctx, req.params["server_id"])
    return {"metadata": dict(server.metadata_ or {})}


def _set_metadata(req: ApiRequest, replace: bool) -> dict[str, Any]:
    policy.enforce(req.ctx, "compute:server-metadata:update")
    meta = dict(req.body["metadata"])
    return {
        "metadata": req.cloud.compute.servers.update_metadata(
            req.ctx, req.params["server_id"], meta, replace=replace
        )
    }


def update_metadata(req: ApiRequest) -> dict[str, Any]:
    """``POST /servers/{server_id}/metadata``: merge keys → the whole metadata."""
    return _set_metadata(req, replace=False)


def replace_metadata(req: ApiRequest) -> dict[str, Any]:
    """``PUT /servers/{server_id}/metadata``: replace all keys → the whole metadata."""
    return _set_metadata(req, replace=True)


def get_metadata_item(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/metadata/{key}`` → ``{"meta": {key: value}}``."""
    from pocketstack.compute.exceptions import MetadataItemNotFound

    policy.enforce(req.ctx, "compute:server-metadata:index")
    server = req.cloud.compute.servers.get(req.ctx, req.params["server_id"])
    key = req.params["key"]
    meta = server.metadata_ or {}
    if key not in meta:
        raise MetadataItemNotFound()
    return {"meta": {key: meta[key]}}


def set_metadata_item(req: ApiRequest) -> dict[str, Any]:
    """``PUT /servers/{server_id}/metadata/{key}`` {"meta": {key: value}}."""
    policy.enforce(req.ctx, "compute:server-metadata:update")
    meta = dict(req.body["meta"])  # exactly one key (schema)
    if list(meta) != [req.params["key"]]:
        raise errors.BadRequest("Request body and URI mismatch")
    req.cloud.compute.servers.update_metadata(req.ctx, req.params["server_id"], meta, replace=False)
    return {"meta": meta}


def delete_metadata_item(req: ApiRequest) -> ApiResponse:
    """``DELETE /servers/{server_id}/metadata/{key}`` → 204."""
    policy.enforce(req.ctx, "compute:server-metadata:delete")
    req.cloud.compute.servers.delete_metadata_item(
        req.ctx, req.params["server_id"], req.params["key"]
    )
    return ApiResponse(status=204)


# ---------------------------------------------------------------------------- ips


def list_ips(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/ips`` → ``{"addresses": {network: [...]}}``."""
    policy.enforce(req.ctx, "compute:ips:index")
    server = req.cloud.compute.servers.get(req.ctx, req.params["server_id"])
    return {"addresses": addresses(server.network_info)}


def get_ips(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/ips/{network}`` → ``{network: [...]}``; 404 if absent."""
    policy.enforce(req.ctx, "compute:ips:index")
    server = req.cloud.compute.servers.get(req.ctx, req.params["server_id"])
    network = req.params["network"]
    found = addresses(server.network_info)
    if network not in found:
        raise errors.NotFound("There is no such network")
    return {network: found[network]}


# ---------------------------------------------------------------------------- instance actions


def list_instance_actions(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-instance-actions``, newest first."""
    policy.enforce(req.ctx, "compute:instance-actions:index")
    found = req.cloud.compute.actions.list(req.ctx, req.params["server_id"])
    return {"instanceActions": [action_view(req, a) for a in found]}


def get_instance_action(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-instance-actions/{request_id}`` with its events."""
    policy.enforce(req.ctx, "compute:instance-actions:show")
    action, events = req.cloud.compute.actions.get(
        req.ctx, req.params["server_id"], req.params["request_id"]
    )
    return {"instanceAction": action_with_events(req, action, events)}
