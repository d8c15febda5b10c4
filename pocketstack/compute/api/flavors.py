"""Flavors, their extra specs and access lists (API reference: "Flavors", "Flavors
extra-specs", "Flavors access"), 2.1 shapes."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.compute.api.common import body_object, links, next_links, paging
from pocketstack.compute.models import Flavor


def flavor_view(req: ApiRequest, flavor: Flavor, detail: bool = True) -> dict[str, Any]:
    """One flavor; without ``detail`` only id, name, links."""
    view: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": links(req, "flavors", flavor.flavorid),
    }
    if detail:
        view.update(
            {
                "ram": flavor.memory_mb,
                "vcpus": flavor.vcpus,
                "disk": flavor.root_gb,
                "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
                "OS-FLV-DISABLED:disabled": flavor.disabled,
                "swap": flavor.swap or "",
                "rxtx_factor": flavor.rxtx_factor,
                "os-flavor-access:is_public": flavor.is_public,
            }
        )
    return view


def _list(req: ApiRequest, detail: bool) -> dict[str, Any]:
    policy.enforce(req.ctx, "compute:flavors:index")
    limit, marker = paging(req)
    raw_public = req.query.get("is_public")
    is_public: bool | None = True
    if raw_public is not None:
        is_public = None if raw_public.lower() == "none" else parse_bool(raw_public, "is_public")
    min_ram = req.query.get("minRam")
    min_disk = req.query.get("minDisk")
    flavors = req.cloud.compute.flavors.list(
        req.ctx,
        is_public=is_public,
        min_ram=None if min_ram is None else parse_int(min_ram, "minRam"),
        min_disk=None if min_disk is None else parse_int(min_disk, "minDisk"),
        limit=limit,
        marker=marker,
        sort_key=req.query.get("sort_key", "flavorid"),
        sort_dir=req.query.get("sort_dir", "asc"),
    )
    body: dict[str, Any] = {"flavors": [flavor_view(req, f, detail) for f in flavors]}
    more = next_links(req, "flavors", flavors, limit, lambda f: f.flavorid)
    if more:
        body["flavors_links"] = more
    return body


def list_flavors(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors``: id, name, links of each visible flavor."""
    return _list(req, detail=False)


def list_flavors_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/detail``: full flavor views."""
    return _list(req, detail=True)


def show_flavor(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/{flavor_id}``; 404 when not visible."""
    policy.enforce(req.ctx, "compute:flavors:show")
    return {
        "flavor": flavor_view(req, req.cloud.compute.flavors.get(req.ctx, req.params["flavor_id"]))
    }


def _int_field(body: dict[str, Any], name: str, minimum: int, default: int | None = None) -> int:
    if name not in body or body[name] in (None, ""):
        if default is None:
            raise errors.BadRequest(
                f"Invalid input for field/attribute flavor. '{name}' is a required property"
            )
        return default
    return parse_int(body[name], name, minimum=minimum, maximum=2**31 - 1)


def create_flavor(req: ApiRequest) -> dict[str, Any]:
    """``POST /flavors`` (admin): name, ram, vcpus, disk required; id optional."""
    policy.enforce(req.ctx, "compute:flavors:create")
    body = body_object(req, "flavor")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise errors.BadRequest(
            "Invalid input for field/attribute name: a non-empty string "
            "of at most 255 characters is required."
        )
    flavorid = body.get("id")
    if flavorid is not None and not isinstance(flavorid, str | int):
        raise errors.BadRequest("Invalid input for field/attribute id.")
    rxtx = body.get("rxtx_factor", 1.0)
    if isinstance(rxtx, bool) or not isinstance(rxtx, int | float) or rxtx <= 0:
        raise errors.BadRequest("Invalid input for field/attribute rxtx_factor.")
    is_public = parse_bool(body.get("os-flavor-access:is_public", True), "is_public")
    flavor = req.cloud.compute.flavors.create(
        req.ctx,
        name=name.strip(),
        ram=_int_field(body, "ram", 1),
        vcpus=_int_field(body, "vcpus", 1),
        disk=_int_field(body, "disk", 0),
        flavorid=None if flavorid is None else str(flavorid),
        ephemeral=_int_field(body, "OS-FLV-EXT-DATA:ephemeral", 0, 0),
        swap=_int_field(body, "swap", 0, 0),
        rxtx_factor=float(rxtx),
        is_public=is_public,
    )
    return {"flavor": flavor_view(req, flavor)}


def delete_flavor(req: ApiRequest) -> None:
    """``DELETE /flavors/{flavor_id}`` (admin) → 202."""
    policy.enforce(req.ctx, "compute:flavors:delete")
    req.cloud.compute.flavors.delete(req.ctx, req.params["flavor_id"])


def list_extra_specs(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/{flavor_id}/os-extra_specs``."""
    policy.enforce(req.ctx, "compute:flavor-extra-specs:index")
    return {
        "extra_specs": req.cloud.compute.flavors.get_extra_specs(req.ctx, req.params["flavor_id"])
    }


def _specs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise errors.BadRequest("Invalid input for field/attribute extra_specs.")
    for key, item in value.items():
        if (
            not key
            or len(key) > 255
            or not isinstance(item, str | int | float | bool)
            or len(str(item)) > 255
        ):
            raise errors.BadRequest(f"Invalid input for field/attribute extra_specs: key {key!r}.")
    return {k: str(v) for k, v in value.items()}


def create_extra_specs(req: ApiRequest) -> dict[str, Any]:
    """``POST /flavors/{flavor_id}/os-extra_specs`` {"extra_specs": {...}} (admin)."""
    policy.enforce(req.ctx, "compute:flavor-extra-specs:update")
    specs = _specs(body_object(req, "extra_specs"))
    return {
        "extra_specs": req.cloud.compute.flavors.update_extra_specs(
            req.ctx, req.params["flavor_id"], specs
        )
    }


def show_extra_spec(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/{flavor_id}/os-extra_specs/{key}`` → ``{key: value}``."""
    policy.enforce(req.ctx, "compute:flavor-extra-specs:index")
    key = req.params["key"]
    return {key: req.cloud.compute.flavors.get_extra_spec(req.ctx, req.params["flavor_id"], key)}


def update_extra_spec(req: ApiRequest) -> dict[str, Any]:
    """``PUT /flavors/{flavor_id}/os-extra_specs/{key}`` with ``{key: value}`` (admin)."""
    policy.enforce(req.ctx, "compute:flavor-extra-specs:update")
    specs = _specs(req.body)
    if list(specs) != [req.params["key"]]:
        raise errors.BadRequest("Request body and URI mismatch")
    return req.cloud.compute.flavors.update_extra_specs(req.ctx, req.params["flavor_id"], specs)


def delete_extra_spec(req: ApiRequest) -> ApiResponse:
    """``DELETE /flavors/{flavor_id}/os-extra_specs/{key}`` (admin) → 200, empty body."""
    policy.enforce(req.ctx, "compute:flavor-extra-specs:delete")
    req.cloud.compute.flavors.delete_extra_spec(req.ctx, req.params["flavor_id"], req.params["key"])
    return ApiResponse(status=200)


def _access_view(flavor_id: str, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


def list_access(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/{flavor_id}/os-flavor-access`` (admin; 404 for public flavors)."""
    policy.enforce(req.ctx, "compute:flavor-access:index")
    flavor_id = req.params["flavor_id"]
    return _access_view(flavor_id, req.cloud.compute.flavors.list_access(req.ctx, flavor_id))


def flavor_action(req: ApiRequest) -> dict[str, Any]:
    """``POST /flavors/{flavor_id}/action``: ``addTenantAccess`` / ``removeTenantAccess``."""
    flavor_id = req.params["flavor_id"]
    if not isinstance(req.body, dict) or len(req.body) != 1:
        raise errors.BadRequest("Flavor action body must hold exactly one action.")
    ((action, args),) = req.body.items()
    if action not in ("addTenantAccess", "removeTenantAccess"):
        raise errors.BadRequest(f"There is no such action: {action}")
    if not isinstance(args, dict) or not isinstance(args.get("tenant"), str):
        raise errors.BadRequest(
            f"Invalid input for field/attribute {action}: 'tenant' is a required property"
        )
    if action == "addTenantAccess":
        policy.enforce(req.ctx, "compute:flavor-access:add")
        projects = req.cloud.compute.flavors.add_access(req.ctx, flavor_id, args["tenant"])
    else:
        policy.enforce(req.ctx, "compute:flavor-access:remove")
        projects = req.cloud.compute.flavors.remove_access(req.ctx, flavor_id, args["tenant"])
    return _access_view(flavor_id, projects)
