"""Servers: list, show, create, update, delete (API reference "Servers (servers)"), 2.1.

Bodies are checked against their schemas (``schemas.SERVER_CREATE``, ``SERVER_UPDATE``)
before a handler runs. Create converts the body (``server_validation``) and makes one call
to ``cloud.compute.servers.create``; everything about images, networks, keys, zones and
quotas is checked there before anything is written.
"""

from __future__ import annotations

import secrets
from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api import device_tags, schemas
from pocketstack.compute.api.common import bool_param, next_links, paging
from pocketstack.compute.api.microversion import at_least, refuse_newer
from pocketstack.compute.api.server_validation import _access_ip, _access_ip_v6, parse_create
from pocketstack.compute.api.views import created_server, server_summary, server_views
from pocketstack.compute.liveness import COMPUTE_BINARY
from pocketstack.compute.models import Instance

#: query filters anyone may use, and those only admins may (silently ignored otherwise)
_FILTERS = (
    "name",
    "status",
    "image",
    "flavor",
    "ip",
    "changes-since",
    "availability_zone",
    "user_id",
)
#: the tag filters (2.26)
_TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
#: every query parameter Nova's list schema names (from 2.75 any other is a 400; before, it
#: is ignored), by the version that brought it
_KNOWN_QUERY = frozenset(
    (
        "user_id project_id tenant_id launch_index image_ref image kernel_id ramdisk_id "
        "hostname key_name power_state vm_state task_state host node flavor reservation_id "
        "launched_at terminated_at availability_zone name display_name description "
        "display_description locked_by uuid root_device_name config_drive access_ip_v4 "
        "access_ip_v6 auto_disk_config progress sort_key sort_dir all_tenants soft_deleted "
        "deleted status changes-since ip ip6 created_at limit marker block_device_mapping "
        "services metadata pci_devices security_groups info_cache system_metadata "
        "instance_type tags tags-any not-tags not-tags-any changes-before locked"
    ).split()
)
_ADMIN_FILTERS = ("host", "deleted", "project_id")


def _filters(req: ApiRequest) -> tuple[dict[str, Any], bool]:
    """``(filters, all_projects)`` from the query string: ``changes-before`` from 2.66,
    ``locked`` from 2.73; from 2.75 a parameter Nova does not know is a 400.

    Raises:
        errors.BadRequest: an unknown parameter at 2.75 or later.
    """
    if at_least(req, 2, 75):
        unknown = sorted(set(req.query) - _KNOWN_QUERY)
        if unknown:
            raise errors.BadRequest(
                f"Invalid input for query parameters {unknown[0]}. Value: "
                f"{req.query.get(unknown[0])}. Additional properties are not allowed "
                f"('{unknown[0]}' was unexpected)"
            )
    all_projects = bool_param(req, "all_tenants") or bool_param(req, "all_projects")
    if all_projects:
        policy.enforce(req.ctx, "compute:servers:index:all_tenants")
    filters: dict[str, Any] = {}
    allowed = (
        _FILTERS
        + (_TAG_FILTERS if at_least(req, 2, 26) else ())
        + (("changes-before",) if at_least(req, 2, 66) else ())
        + (("locked",) if at_least(req, 2, 73) else ())
        + (_ADMIN_FILTERS if req.ctx.is_admin else ())
    )
    for key in allowed:
        value = req.query.get(key)
        if value not in (None, ""):
            filters[key] = value.upper() if key == "status" else value
    tenant = req.query.get("tenant_id")
    if req.ctx.is_admin and tenant and "project_id" not in filters:
        filters["project_id"] = tenant
    if "project_id" in filters and req.ctx.is_admin:
        all_projects = True
    return filters, all_projects


def _list(req: ApiRequest, detail: bool) -> dict[str, Any]:
    policy.enforce(req.ctx, "compute:servers:index")
    filters, all_projects = _filters(req)
    limit, marker = paging(req)
    servers = req.cloud.compute.servers.list(
        req.ctx,
        filters=filters,
        all_projects=all_projects,
        limit=limit,
        marker=marker,
        sort_keys=req.query_all("sort_key") or None,
        sort_dirs=req.query_all("sort_dir") or None,
    )
    views = _full_views(req, servers) if detail else [server_summary(req, s) for s in servers]
    body: dict[str, Any] = {"servers": views}
    more = next_links(
        req, "servers" if not detail else "servers/detail", servers, limit, lambda s: s.uuid
    )
    if more:
        body["servers_links"] = more
    return body


def _full_views(
    req: ApiRequest, servers: list[Instance], one: bool = False
) -> list[dict[str, Any]]:
    """Full views of a page of servers, with their faults, volumes and tags read in one call
    each; the hosts' status for admins (2.16); ``one``: a show or update answer, which
    carries the server's groups (2.71)."""
    uuids = [s.uuid for s in servers]
    faults = req.cloud.compute.servers.faults(uuids) if servers else {}
    volumes = req.cloud.compute.volumes.attached(uuids)
    tags = req.cloud.compute.tags.for_servers(uuids) if at_least(req, 2, 26) else {}
    host_status = None
    if at_least(req, 2, 16) and req.ctx.is_admin:
        host_status = {
            svc.host: ("MAINTENANCE" if svc.disabled else "UP" if up else "DOWN")
            for svc, up in req.cloud.compute.hypervisors.list_services(
                req.ctx, binary=COMPUTE_BINARY
            )
        }
    groups = None
    if one and at_least(req, 2, 71):
        groups = {s.uuid: _groups_of(req, s) for s in servers}
    return server_views(req, servers, faults, volumes, tags, host_status, groups)


def _groups_of(req: ApiRequest, server: Instance) -> list[str]:
    """The uuids of the server groups ``server`` belongs to (2.71: one at most)."""
    group = req.cloud.compute.server_groups.group_of(server.uuid)
    return [group.uuid] if group is not None else []


def list_servers(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers``: id, name, links of the caller's (or, admin, all) servers."""
    return _list(req, detail=False)


def list_servers_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/detail``: full server views."""
    return _list(req, detail=True)


def get_server(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}``; 404 for unknown or another project's server."""
    policy.enforce(req.ctx, "compute:servers:show")
    server = req.cloud.compute.servers.get(req.ctx, req.params["server_id"])
    return {"server": _full_views(req, [server], one=True)[0]}


def _check_hostname(req: ApiRequest, body: dict[str, Any]) -> None:
    """A ``hostname`` (2.90) is one label until 2.93; 2.94 takes an FQDN.

    Raises:
        errors.BadRequest: a dotted hostname before 2.94.
    """
    hostname = body.get("hostname")
    if hostname is not None and "." in hostname and not at_least(req, 2, 94):
        raise errors.BadRequest(
            f"Invalid input for field/attribute hostname. Value: {hostname}. "
            "A fully qualified domain name is accepted from microversion 2.94."
        )


def create_server(req: ApiRequest) -> ApiResponse:
    """``POST /servers`` → 202 ``{"server": {id, links, adminPass, ...}}`` + ``Location``,
    or ``{"reservation_id"}`` when ``return_reservation_id`` is true."""
    policy.enforce(req.ctx, "compute:servers:create")
    body = req.body["server"]
    refuse_newer(req, body, schemas.SERVER_CREATE_ADDED, "server")
    for key, since in schemas.SERVER_CREATE_REMOVED.items():
        if key in body and at_least(req, *since):
            raise errors.BadRequest(
                f"Invalid input for field/attribute server. Value: {dict(body)!r}. "
                f"Additional properties are not allowed ('{key}' was unexpected)"
            )
    _check_hostname(req, body)
    device_tags.check_create(req, body)
    networks = body.get("networks")
    if at_least(req, 2, 37):
        if networks is None:
            raise errors.BadRequest(
                "Invalid input for field/attribute server. Value: "
                f"{dict(body)!r}. 'networks' is a required property"
            )
    elif isinstance(networks, str):  # "auto"/"none" came with 2.37
        raise errors.BadRequest(
            f"Invalid input for field/attribute networks. Value: {networks}. "
            f"'{networks}' is not of type 'array'"
        )
    kwargs, want_reservation = parse_create(req.body)
    servers = req.cloud.compute.servers.create(req.ctx, **kwargs)
    first = servers[0]
    if want_reservation:
        return ApiResponse(status=202, body={"reservation_id": first.reservation_id})
    # the adminPass asked for, else a generated one (API reference "Create Server")
    admin_pass = req.body["server"].get("adminPass") or secrets.token_urlsafe(9)
    body = {"server": created_server(req, first, admin_pass)}
    return ApiResponse(
        status=202, body=body, headers={"Location": f"{req.base_url}/v2.1/servers/{first.uuid}"}
    )


def update_server(req: ApiRequest) -> dict[str, Any]:
    """``PUT /servers/{server_id}`` {"server": {"name"?, "description"? (2.19),
    "hostname"? (2.90), "accessIPv4"?, "accessIPv6"?}} → the updated server view at the
    request's version (Nova's 2.75 cleanup: the same as show) (``OS-DCF:diskConfig`` is
    taken and ignored: pocketstack partitions nothing)."""
    policy.enforce(req.ctx, "compute:servers:update")
    body = req.body["server"]
    refuse_newer(req, body, schemas.SERVER_UPDATE_ADDED, "server")
    _check_hostname(req, body)
    server = req.cloud.compute.servers.update(
        req.ctx,
        req.params["server_id"],
        name=body.get("name"),
        description=body.get("description"),
        clear_description="description" in body and body["description"] is None,
        hostname=body.get("hostname"),
        access_ip_v4=_access_ip(body.get("accessIPv4")),
        access_ip_v6=_access_ip_v6(body.get("accessIPv6")),
    )
    view = _full_views(req, [server], one=True)[0]
    if not at_least(req, 2, 75):
        view = _update_view_before_2_75(view)
    return {"server": view}


#: what Nova's update answer leaves out of the server view until 2.75 (which made it the
#: same as show): the extension attributes
_NOT_IN_UPDATE_PREFIXES = ("OS-EXT-", "OS-SRV-USG:", "os-extended-volumes:")
_NOT_IN_UPDATE = ("config_drive", "key_name", "security_groups", "host_status")


def _update_view_before_2_75(view: dict[str, Any]) -> dict[str, Any]:
    """The server view of a pre-2.75 update answer: no extension attributes, and addresses
    with only ``version`` and ``addr``."""
    trimmed = {
        key: value
        for key, value in view.items()
        if key not in _NOT_IN_UPDATE and not key.startswith(_NOT_IN_UPDATE_PREFIXES)
    }
    trimmed["addresses"] = {
        net: [{"version": a["version"], "addr": a["addr"]} for a in entries]
        for net, entries in view.get("addresses", {}).items()
    }
    return trimmed


def delete_server(req: ApiRequest) -> ApiResponse:
    """``DELETE /servers/{server_id}`` → 204 (the delete completes asynchronously)."""
    policy.enforce(req.ctx, "compute:servers:delete")
    req.cloud.compute.servers.delete(req.ctx, req.params["server_id"])
    return ApiResponse(status=204)
