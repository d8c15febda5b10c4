"""Traits (Placement API reference, "Traits"): ``/traits[/{name}]`` (1.6)."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool
from pocketstack.placement import exceptions as exc


def list_traits(req: ApiRequest) -> dict[str, Any]:
    """``GET /traits[?name=startswith:X|in:A,B][&associated=true|false]``."""
    policy.enforce(req.ctx, "placement:traits:list")
    text = req.query.get("name")
    starts_with = names = None
    if text is not None:
        if text.startswith("startswith:"):
            starts_with = text[len("startswith:") :]
        elif text.startswith("in:"):
            names = [n.strip() for n in text[3:].split(",") if n.strip()]
        else:
            raise exc.InvalidQuery(
                f"Badly formatted name parameter. Expected name query string parameter in "
                f'form: ?name=[in|startswith]:[name1,name2|prefix]. Got: "{text}"'
            )
    raw = req.query.get("associated")
    associated = None if raw is None else parse_bool(raw, "associated")
    found = req.cloud.placement.traits.list(req.ctx, starts_with, names, associated)
    return {"traits": found}


def get_trait(req: ApiRequest) -> ApiResponse:
    """``GET /traits/{name}`` (204 when it exists)."""
    policy.enforce(req.ctx, "placement:traits:show")
    req.cloud.placement.traits.get(req.ctx, req.params["name"])
    return ApiResponse(204)


def update_trait(req: ApiRequest) -> ApiResponse:
    """``PUT /traits/{name}``: create a custom trait (201, or 204 when it exists)."""
    policy.enforce(req.ctx, "placement:traits:update")
    name = req.params["name"]
    created = req.cloud.placement.traits.ensure(req.ctx, name)
    return ApiResponse(201 if created else 204, None, {"Location": f"{req.base_url}/traits/{name}"})


def delete_trait(req: ApiRequest) -> ApiResponse:
    """``DELETE /traits/{name}`` (204)."""
    policy.enforce(req.ctx, "placement:traits:delete")
    req.cloud.placement.traits.delete(req.ctx, req.params["name"])
    return ApiResponse(204)
