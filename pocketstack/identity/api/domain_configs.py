"""Domain configuration (Identity API v3 "Domain configuration"):
``/v3/domains/{domain_id}/config[/{group}[/{option}]]`` and
``/v3/domains/config/default[/{group}[/{option}]]``, handlers of
``cloud.identity.domain_configs``. Bodies and answers are ``{"config": ...}``: the whole
config ``{group: {option: value}}``, a group's ``{group: {...}}``, an option's
``{option: value}``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common import schema_types as t
from pocketstack.common.http import ApiRequest, ApiResponse, route

CONFIG_BODY = t.obj({"config": {"type": "object"}}, ["config"], additional=False)
"""PUT/PATCH bodies: ``{"config": {...}}`` (the groups and options are checked by the
manager: 403 for unsupported ones, as Keystone)."""


def _where(req: ApiRequest) -> tuple[str | None, str | None]:
    return req.params.get("group"), req.params.get("option")


def get_domain_config(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/domains/{domain_id}/config[/{group}[/{option}]]"""
    policy.enforce(req.ctx, "identity:get_domain_config")
    config = req.cloud.identity.domain_configs.get(req.ctx, req.params["domain_id"], *_where(req))
    return {"config": config}


def create_domain_config(req: ApiRequest) -> ApiResponse:
    """PUT /v3/domains/{domain_id}/config: 201 when the domain had no config, else 200."""
    policy.enforce(req.ctx, "identity:create_domain_config")
    created, config = req.cloud.identity.domain_configs.create(
        req.ctx, req.params["domain_id"], req.body["config"]
    )
    return ApiResponse(201 if created else 200, {"config": config})


def update_domain_config(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/domains/{domain_id}/config[/{group}[/{option}]]: the whole new config."""
    policy.enforce(req.ctx, "identity:update_domain_config")
    config = req.cloud.identity.domain_configs.update(
        req.ctx, req.params["domain_id"], req.body["config"], *_where(req)
    )
    return {"config": config}


def delete_domain_config(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/domains/{domain_id}/config[/{group}[/{option}]] (204)"""
    policy.enforce(req.ctx, "identity:delete_domain_config")
    req.cloud.identity.domain_configs.delete(req.ctx, req.params["domain_id"], *_where(req))
    return ApiResponse(204)


def get_domain_config_default(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/domains/config/default[/{group}[/{option}]]"""
    policy.enforce(req.ctx, "identity:get_domain_config_default")
    return {"config": req.cloud.identity.domain_configs.default(*_where(req))}


_C = "/v3/domains/{domain_id}/config"
_DEF = "/v3/domains/config/default"
ROUTES = [
    route("GET", _DEF, get_domain_config_default),
    route("GET", _DEF + "/{group}", get_domain_config_default),
    route("GET", _DEF + "/{group}/{option}", get_domain_config_default),
    route("PUT", _C, create_domain_config, schema=CONFIG_BODY),
]
for _path in (_C, _C + "/{group}", _C + "/{group}/{option}"):
    ROUTES += [
        route("GET", _path, get_domain_config),
        route("PATCH", _path, update_domain_config, schema=CONFIG_BODY),
        route("DELETE", _path, delete_domain_config),
    ]
