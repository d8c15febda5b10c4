"""``POST /servers/{id}/action`` ``{"rebuild": {...}}`` (API reference "Rebuild Server
(rebuild Action)"; the workflow is ``compute.rebuild``) and ``{"evacuate": {...}}``
(``evacuate_server``; ``compute.evacuate``).

Body: ``imageRef`` (required), ``name``, ``metadata`` (replaces the server's),
``adminPass``, ``preserve_ephemeral``, ``accessIPv4``/``accessIPv6``, ``OS-DCF:diskConfig``
(taken, ignored), ``personality`` (until 2.56, ignored), ``description`` (2.19),
``key_name`` (2.54, ``null`` removes the key), ``user_data`` (2.57, ``null`` removes it),
``trusted_image_certificates`` (2.63, accepted and ignored), ``hostname`` (2.90, ignored).
A field of a newer microversion than the request's is 400. Answer: 202 with the server
view (status REBUILD) and ``adminPass``; before 2.75 without the extension attributes, from
2.75 the same as ``GET /servers/{id}``. Policy ``compute:servers:rebuild`` (member) and
``compute:servers:rebuild:trusted_certs`` (member) as Nova's.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool
from pocketstack.compute import evacuate, rebuild
from pocketstack.compute.api.microversion import at_least, refuse_newer
from pocketstack.compute.api.server_validation import _access_ip, _access_ip_v6, _user_data

RULES = {
    "compute:servers:rebuild": "member",
    "compute:servers:rebuild:trusted_certs": "member",
}
policy.register(RULES)

#: rebuild body fields later microversions added (400 before), and those they removed
ADDED = {
    "description": (2, 19),
    "key_name": (2, 54),
    "user_data": (2, 57),
    "trusted_image_certificates": (2, 63),
    "hostname": (2, 90),
}
REMOVED = {"personality": (2, 57)}


def rebuild_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"rebuild": {...}}`` (``schemas.SERVER_ACTION``) → 202 ``{"server": {...,
    "adminPass"}}`` (see the module's docstring)."""
    from pocketstack.compute.api.servers import _full_views, _update_view_before_2_75

    policy.enforce(req.ctx, "compute:servers:rebuild")
    refuse_newer(req, args, ADDED, "rebuild")
    if "personality" in args and at_least(req, *REMOVED["personality"]):
        raise errors.BadRequest(
            "Invalid input for field/attribute rebuild. Additional properties are not "
            "allowed ('personality' was unexpected)"
        )
    if args.get("trusted_image_certificates"):
        policy.enforce(req.ctx, "compute:servers:rebuild:trusted_certs")
    request = rebuild.RebuildRequest(
        image_ref=args["imageRef"],
        name=args.get("name"),
        metadata=args.get("metadata"),
        admin_pass=args.get("adminPass"),
        preserve_ephemeral=parse_bool(args.get("preserve_ephemeral", False), "preserve_ephemeral"),
        access_ip_v4=_access_ip(args.get("accessIPv4")),
        access_ip_v6=_access_ip_v6(args.get("accessIPv6")),
    )
    for key in ("description", "key_name"):
        if key in args:
            setattr(request, key, args[key])
    if "user_data" in args:
        request.user_data = _user_data(args["user_data"])
    server, password = rebuild.rebuild(req.cloud, req.ctx, server_id, request)
    view = _full_views(req, [server], one=True)[0]
    if not at_least(req, 2, 75):
        view = _update_view_before_2_75(view)
    view["adminPass"] = password
    return ApiResponse(status=202, body={"server": view})


policy.register({"compute:os-evacuate": "admin"})


def evacuate_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"evacuate": {"host"?, "adminPass"?, "onSharedStorage" (required before 2.14,
    refused from 2.14), "force"? (2.29 to 2.67)}}`` → 200 (API reference "Evacuate Server
    (evacuate Action)"; admin): ``{"adminPass"}`` before 2.14, no body from 2.14; from 2.95
    the server ends SHUTOFF. 400 when its host is up (``compute.evacuate``)."""
    policy.enforce(req.ctx, "compute:os-evacuate")
    args = args or {}
    before_2_14 = not at_least(req, 2, 14)
    if before_2_14 and "onSharedStorage" not in args:
        raise errors.BadRequest(
            "Invalid input for field/attribute evacuate. 'onSharedStorage' is a required property"
        )
    force_ok = at_least(req, 2, 29) and not at_least(req, 2, 68)
    for key, allowed in (("onSharedStorage", before_2_14), ("force", force_ok)):
        if key in args and not allowed:
            raise errors.BadRequest(
                "Invalid input for field/attribute evacuate. Additional properties are not "
                f"allowed ('{key}' was unexpected)"
            )
    if (
        before_2_14
        and parse_bool(args["onSharedStorage"], "onSharedStorage")
        and ("adminPass" in args)
    ):
        raise errors.BadRequest("admin password can't be changed on existing disk")
    password = evacuate.evacuate(
        req.cloud,
        req.ctx,
        server_id,
        host=args.get("host"),
        admin_pass=args.get("adminPass"),
        stop=at_least(req, 2, 95),
    )
    if before_2_14:
        return ApiResponse(status=200, body={"adminPass": password})
    return ApiResponse(status=200)
