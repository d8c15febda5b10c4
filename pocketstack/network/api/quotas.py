"""Handlers of ``/v2.0/quotas`` (Networking API v2.0 reference, "Quotas extension
(quotas)").

- ``GET /v2.0/quotas``: admins; the projects with non-default limits.
- ``GET /v2.0/quotas/{project_id}``, ``.../default``, ``.../details`` (and
  ``details.json``): a project reads its own, an admin any.
- ``PUT /v2.0/quotas/{project_id}`` with ``{"quota": {"network": 5, ...}}`` (plus
  ``force``/``check_limit``, which ``openstack quota set`` sends) and ``DELETE`` (back to
  the defaults, 204): admins.

Each authorizes Neutron's ``get_quota``/``update_quota``/``delete_quota`` (reads of one
project: ``get_own_quota``), calls one function of ``cloud.network.quotas``
and renders with ``views.quota``/``views.quota_details``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import exceptions as exc
from pocketstack.network.api import parse, views


def _readable_project(req: ApiRequest) -> str:
    """The ``{project_id}`` of the path, if the caller may read its quotas.

    Raises:
        PolicyNotAuthorized (403): not a reader; NotAuthorized (403): another project's and
        not an admin.
    """
    policy.enforce(req.ctx, "get_own_quota")
    project_id = req.params["project_id"]
    if not (req.ctx.is_admin or req.ctx.owns(project_id)):
        raise exc.NotAuthorized("Only an administrator may see another project's quotas.")
    return project_id


def parse_update(body: dict[str, Any]) -> tuple[dict[str, int], bool]:
    """The ``quota`` body of a PUT (schema ``QUOTA_UPDATE``) as ``({resource: limit},
    check_limit)``; ``force`` is the default behaviour and is dropped.

    Raises:
        InvalidInput (400): a limit that is not an integer.
    """
    check_limit = parse.want_bool(body, "check_limit", False)
    changes = {}
    for key, value in body.items():
        if key in ("force", "check_limit"):
            continue
        text = str(value)
        digits = text[1:] if text.startswith("-") else text
        if isinstance(value, bool) or not (digits.isascii() and digits.isdigit()):
            raise exc.InvalidInput(f"'{value}' is not an integer for {key}.")
        changes[key] = int(text)
    return changes, check_limit


def list_quotas(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/quotas``: ``{"quotas": [{"project_id", "tenant_id", <limits>}]}``."""
    policy.enforce(req.ctx, "get_quota")
    found = req.cloud.network.quotas.list(req.ctx)
    return {"quotas": [views.quota(limits, project_id) for project_id, limits in found.items()]}


def get_quota(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/quotas/{project_id}``: ``{"quota": {<resource>: limit}}``."""
    project_id = _readable_project(req)
    return {"quota": views.quota(req.cloud.network.quotas.get(req.ctx, project_id))}


def get_quota_default(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/quotas/{project_id}/default``: the default limits."""
    _readable_project(req)
    return {"quota": views.quota(req.cloud.network.quotas.defaults())}


def get_quota_details(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/quotas/{project_id}/details``: ``{"quota": {<resource>: {"limit",
    "used", "reserved"}}}``."""
    project_id = _readable_project(req)
    return {"quota": views.quota_details(req.cloud.network.quotas.details(req.ctx, project_id))}


def update_quota(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/quotas/{project_id}``; returns every limit of the project."""
    changes, check_limit = parse_update(req.require_body("quota"))
    policy.enforce(req.ctx, "update_quota")
    limits = req.cloud.network.quotas.update(
        req.ctx, req.params["project_id"], changes, check_limit
    )
    return {"quota": views.quota(limits)}


def delete_quota(req: ApiRequest) -> None:
    """``DELETE /v2.0/quotas/{project_id}``: back to the defaults; 204."""
    policy.enforce(req.ctx, "delete_quota")
    req.cloud.network.quotas.delete(req.ctx, req.params["project_id"])
