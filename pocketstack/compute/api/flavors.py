"""Flavors, their extra specs and access lists (API reference: "Flavors", "Flavors
extra-specs", "Flavors access"), at the request's microversion: ``description`` (2.55, create and
``PUT /flavors/{id}``), ``extra_specs`` in the views (2.61, ``views.flavor_view``).

Bodies are checked against ``schemas.FLAVOR_CREATE``, ``FLAVOR_ACTION``,
``EXTRA_SPECS_CREATE`` and ``EXTRA_SPEC_UPDATE`` before a handler runs; handlers convert
decimal strings and booleans given as words."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.compute.api.common import next_links, paging
from pocketstack.compute.api.microversion import at_least, refuse_newer
from pocketstack.compute.api.views import flavor_access_view, flavor_view


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
    collection = "flavors/detail" if detail else "flavors"
    more = next_links(req, collection, flavors, limit, lambda f: f.flavorid)
    if more:
        body["flavors_links"] = more
    return body


def list_flavors(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors``: id, name, links of each visible flavor."""
    return _list(req, detail=False)


def list_flavors_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/detail``: full flavor views."""
    return _list(req, detail=True)


def get_flavor(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/{flavor_id}``; 404 when not visible."""
    policy.enforce(req.ctx, "compute:flavors:show")
    return {
        "flavor": flavor_view(req, req.cloud.compute.flavors.get(req.ctx, req.params["flavor_id"]))
    }


def _int_field(body: dict[str, Any], name: str, minimum: int, default: int = 0) -> int:
    """An integer attribute given as a number or a decimal string (schema), bounded."""
    if name not in body:
        return default
    return parse_int(body[name], name, minimum=minimum, maximum=2**31 - 1)


def create_flavor(req: ApiRequest) -> dict[str, Any]:
    """``POST /flavors`` (admin): name, ram, vcpus, disk required; id optional."""
    policy.enforce(req.ctx, "compute:flavors:create")
    body = req.body["flavor"]
    refuse_newer(req, body, {"description": (2, 55)}, "flavor")
    flavorid = body.get("id")
    rxtx = float(body.get("rxtx_factor", 1.0))  # a positive number or decimal string
    if not 0 < rxtx < float("inf"):
        raise errors.BadRequest("Invalid input for field/attribute rxtx_factor.")
    is_public = parse_bool(body.get("os-flavor-access:is_public", True), "is_public")
    flavor = req.cloud.compute.flavors.create(
        req.ctx,
        name=body["name"],
        ram=_int_field(body, "ram", 1),
        vcpus=_int_field(body, "vcpus", 1),
        disk=_int_field(body, "disk", 0),
        flavorid=None if flavorid is None else str(flavorid),
        ephemeral=_int_field(body, "OS-FLV-EXT-DATA:ephemeral", 0),
        swap=_int_field(body, "swap", 0),
        rxtx_factor=rxtx,
        is_public=is_public,
        description=body.get("description"),
    )
    return {"flavor": flavor_view(req, flavor)}


def update_flavor(req: ApiRequest) -> dict[str, Any]:
    """``PUT /flavors/{flavor_id}`` {"flavor": {"description"}} (admin, 2.55) → the flavor;
    404 before 2.55 (Nova's route does not exist there)."""
    if not at_least(req, 2, 55):
        raise errors.NotFound("The resource could not be found.")
    policy.enforce(req.ctx, "compute:flavors:update")
    flavor = req.cloud.compute.flavors.update(
        req.ctx, req.params["flavor_id"], description=req.body["flavor"]["description"]
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


def _specs(value: dict[str, str | int | float]) -> dict[str, str]:
    """Extra specs as stored: numbers become strings (Nova returns strings)."""
    specs = {k: str(v) for k, v in value.items()}
    for key, item in specs.items():
        if len(item) > 255:  # a number written out longer than a value may be
            raise errors.BadRequest(f"Invalid input for field/attribute extra_specs.{key}.")
    return specs


def create_extra_specs(req: ApiRequest) -> dict[str, Any]:
    """``POST /flavors/{flavor_id}/os-extra_specs`` {"extra_specs": {...}} (admin)."""
    policy.enforce(req.ctx, "compute:flavor-extra-specs:update")
    specs = _specs(req.body["extra_specs"])
    return {
        "extra_specs": req.cloud.compute.flavors.update_extra_specs(
            req.ctx, req.params["flavor_id"], specs
        )
    }


def get_extra_spec(req: ApiRequest) -> dict[str, Any]:
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


def list_flavor_access(req: ApiRequest) -> dict[str, Any]:
    """``GET /flavors/{flavor_id}/os-flavor-access`` (admin; 404 for public flavors)."""
    policy.enforce(req.ctx, "compute:flavor-access:index")
    flavor_id = req.params["flavor_id"]
    return flavor_access_view(flavor_id, req.cloud.compute.flavors.list_access(req.ctx, flavor_id))


def run_flavor_action(req: ApiRequest) -> dict[str, Any]:
    """``POST /flavors/{flavor_id}/action``: ``addTenantAccess`` / ``removeTenantAccess``."""
    flavor_id = req.params["flavor_id"]
    ((action, args),) = req.body.items()  # one of the two, with a tenant (schema)
    if action == "addTenantAccess":
        policy.enforce(req.ctx, "compute:flavor-access:add")
        projects = req.cloud.compute.flavors.add_access(req.ctx, flavor_id, args["tenant"])
    else:
        policy.enforce(req.ctx, "compute:flavor-access:remove")
        projects = req.cloud.compute.flavors.remove_access(req.ctx, flavor_id, args["tenant"])
    return flavor_access_view(flavor_id, projects)
