"""Server sub-resources: ``/action`` (os-stop, os-start, reboot, os-getConsoleOutput, pause,
unpause, suspend, resume, lock, unlock, rescue, unrescue, changePassword, os-resetState,
resetNetwork, trigger_crash_dump...),
``/metadata``, ``/ips`` and ``/os-instance-actions`` (API reference sections "Servers - run an
action", "Server metadata", "Servers IPs", "Servers actions"), 2.1 shapes.

Bodies are checked against ``schemas.SERVER_ACTION``, ``METADATA_SET`` and ``METADATA_ITEM``
before a handler runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_int
from pocketstack.compute.api import (
    live_migration,
    microversion,
    remote_consoles,
    server_rebuild,
    server_security_groups,
)
from pocketstack.compute.api.common import next_links, paging, parse_time
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


# -- state actions (``compute.server_actions``): API reference "Servers - run an action"


def _state_action(rule: str, verb: str) -> Callable[[ApiRequest, str, Any], ApiResponse]:
    """A handler of an action without arguments: enforce ``rule``, call
    ``cloud.compute.server_actions.<verb>``, answer 202."""

    def handler(req: ApiRequest, server_id: str, _args: Any) -> ApiResponse:
        policy.enforce(req.ctx, rule)
        getattr(req.cloud.compute.server_actions, verb)(req.ctx, server_id)
        return ApiResponse(status=202)

    handler.__name__ = f"{verb}_server"
    handler.__doc__ = f"``{{{verb!r}: null}}`` → 202 (``ServerActions.{verb}``)."
    return handler


#: ``pause``/``unpause`` ("Pause Server", "Unpause Server"): 409 unless ACTIVE / PAUSED
pause_server = _state_action("compute:os-pause-server:pause", "pause")
unpause_server = _state_action("compute:os-pause-server:unpause", "unpause")
#: ``suspend``/``resume`` ("Suspend Server", "Resume Suspended Server"): 409 unless
#: ACTIVE / SUSPENDED
suspend_server = _state_action("compute:os-suspend-server:suspend", "suspend")
resume_server = _state_action("compute:os-suspend-server:resume", "resume")
#: ``unrescue`` ("Unrescue Server"): 409 unless RESCUE
unrescue_server = _state_action("compute:os-rescue:unrescue", "unrescue")
#: ``unlock`` ("Unlock Server"); 403 for a non-admin when an admin locked it
unlock_server = _state_action("compute:os-lock-server:unlock", "unlock")
#: ``resetNetwork`` ("Reset Networking On A Server"), admin only
reset_network = _state_action("compute:os-admin-actions:reset_network", "reset_network")


def lock_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"lock": null | {"locked_reason"?}}`` → 202 ("Lock Server"); ``locked_reason``
    from microversion 2.73 (400 before)."""
    policy.enforce(req.ctx, "compute:os-lock-server:lock")
    reason = (args or {}).get("locked_reason")
    if args and not microversion.requested_version(req.headers) >= (2, 73):
        raise errors.BadRequest(
            "Invalid input for field/attribute lock. Value: "
            f"{args}. Additional properties are not allowed"
        )
    req.cloud.compute.server_actions.lock(req.ctx, server_id, reason)
    return ApiResponse(status=202)


def rescue_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"rescue": null | {"adminPass"?, "rescue_image_ref"?}}`` → 200 ``{"adminPass"}``
    ("Rescue Server"); 409 unless ACTIVE, SHUTOFF or ERROR; 400 for a volume-backed server."""
    policy.enforce(req.ctx, "compute:os-rescue")
    args = args or {}
    password = req.cloud.compute.server_actions.rescue(
        req.ctx, server_id, args.get("rescue_image_ref"), args.get("adminPass")
    )
    return ApiResponse(status=200, body={"adminPass": password})


def change_password(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"changePassword": {"adminPass"}}`` → 202 ("Change Administrative Password");
    409 unless ACTIVE, or when the guest has no QEMU guest agent."""
    policy.enforce(req.ctx, "compute:os-admin-password")
    req.cloud.compute.server_actions.change_password(req.ctx, server_id, args["adminPass"])
    return ApiResponse(status=202)


def create_image(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"createImage": {"name", "metadata"?}}`` → 202 ("Create Image (createImage
    Action)"): below microversion 2.45 an empty body and the image's URL in ``Location``,
    from 2.45 the body ``{"image_id"}`` and no ``Location``; 409 unless ACTIVE, SHUTOFF,
    PAUSED or SUSPENDED with no task (``ServerActions.create_image``)."""
    policy.enforce(req.ctx, "compute:servers:create_image")
    image_id = req.cloud.compute.server_actions.create_image(
        req.ctx, server_id, args["name"], dict(args.get("metadata") or {})
    )
    if microversion.requested_version(req.headers) >= (2, 45):
        return ApiResponse(status=202, body={"image_id": image_id})
    location = f"{req.cloud.conf.public_url.rstrip('/')}/image/v2/images/{image_id}"
    return ApiResponse(status=202, headers={"Location": location})


def create_backup(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"createBackup": {"name", "backup_type", "rotation", "metadata"?}}`` → 202 ("Create
    Server Back Up (createBackup Action)"): below microversion 2.45 an empty body and, when
    ``rotation`` > 0, the image's URL in ``Location``; from 2.45 the body ``{"image_id"}``;
    409 unless ACTIVE, SHUTOFF, PAUSED or SUSPENDED with no task
    (``ServerActions.create_backup``)."""
    policy.enforce(req.ctx, "compute:os-create-backup")
    rotation = int(args["rotation"])
    if rotation < 0:
        raise errors.BadRequest("Invalid input for field/attribute rotation.")
    image_id = req.cloud.compute.server_actions.create_backup(
        req.ctx,
        server_id,
        args["name"],
        str(args["backup_type"]),
        rotation,
        dict(args.get("metadata") or {}),
    )
    if microversion.requested_version(req.headers) >= (2, 45):
        return ApiResponse(status=202, body={"image_id": image_id})
    if rotation == 0:  # Nova answers no Location: the backup is rotated out at once
        return ApiResponse(status=202)
    location = f"{req.cloud.conf.public_url.rstrip('/')}/image/v2/images/{image_id}"
    return ApiResponse(status=202, headers={"Location": location})


def shelve_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"shelve": null}`` → 202 ("Shelve Server"); 409 unless ACTIVE, SHUTOFF, PAUSED or
    SUSPENDED with no task (``ServerActions.shelve``)."""
    policy.enforce(req.ctx, "compute:os-shelve:shelve")
    req.cloud.compute.server_actions.shelve(req.ctx, server_id)
    return ApiResponse(status=202)


def shelve_offload_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"shelveOffload": null}`` → 202, admin ("Shelf-Offload (Remove) Server"); 409
    unless SHELVED with no task."""
    policy.enforce(req.ctx, "compute:os-shelve:shelve_offload")
    req.cloud.compute.server_actions.shelve_offload(req.ctx, server_id)
    return ApiResponse(status=202)


def unshelve_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"unshelve": null | {"availability_zone"?, "host"?}}`` → 202 ("Unshelve (Restore)
    Shelved Server"): a body from 2.77 (``availability_zone``; 400 before), ``host`` and a
    null zone (unpin) from 2.91 (``host``: admin, Nova's ``unshelve_to_host``); 409 unless
    SHELVED or SHELVED_OFFLOADED with no task, or for a zone/host on a server not offloaded;
    400 for a host outside the zone the server is to be pinned to."""
    policy.enforce(req.ctx, "compute:os-shelve:unshelve")
    version = microversion.requested_version(req.headers)
    body = dict(args or {})
    if (args is not None and version < (2, 77)) or (
        version < (2, 91) and ("host" in body or body.get("availability_zone", "") is None)
    ):
        raise errors.BadRequest(
            f"Invalid input for field/attribute unshelve. Value: {args}. "
            "Additional properties are not allowed"
        )
    if version >= (2, 77) and args is not None and not body:
        raise errors.BadRequest("Invalid input for field/attribute unshelve: empty body.")
    if "host" in body:
        policy.enforce(req.ctx, "compute:os-shelve:unshelve_to_host")
    req.cloud.compute.server_actions.unshelve(
        req.ctx,
        server_id,
        body.get("availability_zone"),
        body.get("host"),
        unpin_az="availability_zone" in body and body["availability_zone"] is None,
    )
    return ApiResponse(status=202)


def reset_state(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"os-resetState": {"state": "active"|"error"}}`` → 202, admin only ("Reset Server
    State")."""
    policy.enforce(req.ctx, "compute:os-admin-actions:reset_state")
    req.cloud.compute.server_actions.reset_state(req.ctx, server_id, args["state"])
    return ApiResponse(status=202)


def trigger_crash_dump(req: ApiRequest, server_id: str, _args: Any) -> ApiResponse:
    """``{"trigger_crash_dump": null}`` → 202 ("Trigger Crash Dump In Server"), from
    microversion 2.17 (before, 404 as Nova answers a method of a later version); 409
    unless ACTIVE, PAUSED, RESCUE or ERROR."""
    if not microversion.requested_version(req.headers) >= (2, 17):
        raise errors.NotFound("The resource could not be found.")
    policy.enforce(req.ctx, "compute:os-server-crash-dump")
    req.cloud.compute.server_actions.trigger_crash_dump(req.ctx, server_id)
    return ApiResponse(status=202)


# -- resize and cold migration (``compute.resize``)


def resize_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"resize": {"flavorRef"}}`` → 202 ("Resize Server"); 400 bad flavor, 409 state."""
    policy.enforce(req.ctx, "compute:servers:resize")
    req.cloud.compute.resizes.resize(req.ctx, server_id, str(args["flavorRef"]))
    return ApiResponse(status=202)


def confirm_resize(req: ApiRequest, server_id: str, _args: Any) -> ApiResponse:
    """``{"confirmResize": null}`` → 204 ("Confirm Resized Server"); 409 unless
    VERIFY_RESIZE."""
    policy.enforce(req.ctx, "compute:servers:confirm_resize")
    req.cloud.compute.resizes.confirm_resize(req.ctx, server_id)
    return ApiResponse(status=204)


def revert_resize(req: ApiRequest, server_id: str, _args: Any) -> ApiResponse:
    """``{"revertResize": null}`` → 202 ("Revert Resized Server"); 409 unless
    VERIFY_RESIZE."""
    policy.enforce(req.ctx, "compute:servers:revert_resize")
    req.cloud.compute.resizes.revert_resize(req.ctx, server_id)
    return ApiResponse(status=202)


def migrate_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"migrate": null | {"host"}}`` → 202, admin ("Migrate Server"; ``host`` from
    2.56, 400 before); 400 unknown or own host, 409 state."""
    policy.enforce(req.ctx, "compute:os-migrate-server:migrate")
    host = (args or {}).get("host")
    if args and "host" in args and not microversion.at_least(req, 2, 56):
        raise errors.BadRequest(
            "Invalid input for field/attribute migrate. Value: "
            f"{args}. Additional properties are not allowed ('host' was unexpected)"
        )
    if host is not None:
        policy.enforce(req.ctx, "compute:os-migrate-server:migrate:host")
    req.cloud.compute.resizes.migrate(req.ctx, server_id, host)
    return ApiResponse(status=202)


#: The actions this API implements; ``schemas.SERVER_ACTION`` allows exactly these.
ACTIONS: dict[str, Callable[[ApiRequest, str, Any], ApiResponse]] = {
    "os-stop": stop_server,
    "os-start": start_server,
    "reboot": reboot_server,
    "os-getConsoleOutput": get_console_output,
    "pause": pause_server,
    "unpause": unpause_server,
    "suspend": suspend_server,
    "resume": resume_server,
    "lock": lock_server,
    "unlock": unlock_server,
    "rescue": rescue_server,
    "unrescue": unrescue_server,
    "changePassword": change_password,
    "rebuild": server_rebuild.rebuild_server,
    "evacuate": server_rebuild.evacuate_server,
    "createImage": create_image,
    "createBackup": create_backup,
    "shelve": shelve_server,
    "shelveOffload": shelve_offload_server,
    "unshelve": unshelve_server,
    "resize": resize_server,
    "confirmResize": confirm_resize,
    "revertResize": revert_resize,
    "migrate": migrate_server,
    "os-resetState": reset_state,
    "resetNetwork": reset_network,
    "trigger_crash_dump": trigger_crash_dump,
    "addSecurityGroup": server_security_groups.add_security_group,
    "removeSecurityGroup": server_security_groups.remove_security_group,
    "os-getVNCConsole": remote_consoles.get_vnc_console,
    "os-getSerialConsole": remote_consoles.get_serial_console,
    "os-migrateLive": live_migration.live_migrate_server,
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
    if not microversion.at_least(req, 2, 58):
        found = req.cloud.compute.actions.list(req.ctx, req.params["server_id"])
        return {"instanceActions": [action_view(req, a) for a in found]}
    # 2.58: paging and changes-since; 2.66: changes-before
    limit, marker = paging(req)
    times = {
        key: parse_time(req.query[key], key)
        for key in ("changes-since", "changes-before")
        if req.query.get(key) and (key == "changes-since" or microversion.at_least(req, 2, 66))
    }
    found = req.cloud.compute.actions.list(
        req.ctx,
        req.params["server_id"],
        limit=limit,
        marker=marker,
        changes_since=times.get("changes-since"),
        changes_before=times.get("changes-before"),
    )
    body: dict[str, Any] = {"instanceActions": [action_view(req, a) for a in found]}
    more = next_links(
        req,
        f"servers/{req.params['server_id']}/os-instance-actions",
        found,
        limit,
        lambda a: a.request_id,
    )
    if more:
        body["links"] = more
    return body


def get_instance_action(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-instance-actions/{request_id}`` with its events."""
    policy.enforce(req.ctx, "compute:instance-actions:show")
    action, events = req.cloud.compute.actions.get(
        req.ctx, req.params["server_id"], req.params["request_id"]
    )
    return {"instanceAction": action_with_events(req, action, events)}
