"""Neutron list semantics over rendered resources: filters, ``fields``, sorting, pagination.

Following the Networking API reference ("Filtering and column selection", "Sorting",
"Pagination"):

- any attribute is a filter: ``?name=a&name=b`` matches either (repeated keys are OR);
  booleans match ``true``/``false``; list attributes (``subnets``, ``security_groups``) match
  when they contain the value; ``fixed_ips=ip_address=10.0.0.5`` and ``subnet_id=...`` match a
  port's addresses; ``tags``/``tags-any``/``not-tags``/``not-tags-any`` take comma lists;
- ``fields=id&fields=name`` keeps only those attributes;
- ``sort_key``/``sort_dir`` (repeatable, ``asc``/``desc``);
- ``limit`` and ``marker`` (an id) with ``<collection>_links`` ``next``/``previous``.

Admin-only attributes (``provider:*``, ``binding:*`` but ``binding:vnic_type``) are removed
for other callers by ``view``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pocketstack.common.http import ApiRequest, parse_bool, parse_int

_CONTROL = {
    "fields",
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "page_reverse",
    "all_projects",
    "all_tenants",
}
_TAG_FILTERS = {"tags", "tags-any", "not-tags", "not-tags-any"}
_ADMIN_ONLY = (
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "binding:host_id",
    "binding:vif_type",
    "binding:vif_details",
    "binding:profile",
)


def view(req: ApiRequest, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as the caller may see it (admin-only attributes dropped for others)."""
    if req.ctx is not None and req.ctx.is_admin:
        return resource
    return {k: v for k, v in resource.items() if k not in _ADMIN_ONLY}


def select_fields(req: ApiRequest, resource: dict[str, Any]) -> dict[str, Any]:
    """Keep only the ``fields=`` asked for (all when none)."""
    fields = [f for f in req.query_all("fields") if f]
    if not fields:
        return resource
    return {k: v for k, v in resource.items() if k in fields}


def all_projects(req: ApiRequest, admin_default: bool = False) -> bool:
    """Whether an admin gets every project's resources.

    ``all_projects``/``all_tenants`` or a ``project_id``/``tenant_id`` filter ask for it;
    ``admin_default`` gives it without asking, as Neutron does for networks, subnets and
    ports (its clients have no ``--all-projects`` for them).
    """
    if req.ctx is None or not req.ctx.is_admin:
        return False
    for key in ("all_projects", "all_tenants"):
        if key in req.query:
            return parse_bool(req.query[key] or "true", key)
    return admin_default or "project_id" in req.query or "tenant_id" in req.query


def _scalar_matches(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return wanted.lower() in (("true", "1") if actual else ("false", "0"))
    if actual is None:
        return wanted in ("", "None", "null")
    return str(actual) == wanted


def _matches(actual: Any, wanted: str) -> bool:
    if isinstance(actual, list):
        if actual and isinstance(actual[0], dict):
            key, _, value = wanted.partition("=")
            return any(str(item.get(key)) == value for item in actual)
        return wanted in [str(a) for a in actual]
    return _scalar_matches(actual, wanted)


def _tags_match(req: ApiRequest, resource: dict[str, Any]) -> bool:
    tags = set(resource.get("tags") or [])
    for key in _TAG_FILTERS & set(req.query.keys()):
        wanted = {t for v in req.query_all(key) for t in v.split(",") if t}
        ok = {
            "tags": wanted <= tags,
            "tags-any": bool(wanted & tags),
            "not-tags": not wanted <= tags,
            "not-tags-any": not wanted & tags,
        }[key]
        if not ok:
            return False
    return True


def filter_items(req: ApiRequest, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items matching every filter of the query (unknown attributes are ignored)."""
    filters = {
        k: req.query_all(k) for k in req.query.keys() if k not in _CONTROL and k not in _TAG_FILTERS
    }
    result = []
    for item in items:
        if not _tags_match(req, item):
            continue
        if all(
            key not in item or any(_matches(item[key], w) for w in wanted)
            for key, wanted in filters.items()
        ):
            result.append(item)
    return result


def _sort_key(key: str) -> Any:
    def value(item: dict[str, Any]) -> tuple[bool, str]:
        return item.get(key) is None, str(item.get(key, ""))

    return value


def _sort(req: ApiRequest, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = req.query_all("sort_key")
    dirs = req.query_all("sort_dir")
    for index in reversed(range(len(keys))):
        key = keys[index]
        desc = (dirs[index] if index < len(dirs) else "asc").lower() == "desc"
        items = sorted(items, key=_sort_key(key), reverse=desc)
    return items


def _link(req: ApiRequest, path: str, **changes: Any) -> str:
    pairs = [
        (k, v)
        for k in req.query.keys()
        if k not in ("marker", "page_reverse")
        for v in req.query_all(k)
    ]
    pairs += [(k, str(v)) for k, v in changes.items()]
    return f"{req.base_url}/v2.0/{path}?{urlencode(pairs)}"


def page(
    req: ApiRequest, collection: str, path: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The list response body ``{collection: [...], collection_links: [...]?}``.

    ``collection`` is the body key (``security_groups``), ``path`` the URL path
    (``security-groups``) the pagination links point at.
    """
    items = _sort(req, filter_items(req, items))
    marker = req.query.get("marker")
    reverse = parse_bool(req.query.get("page_reverse", "false"), "page_reverse")
    if reverse:
        items = list(reversed(items))
    if marker:
        ids = [i["id"] for i in items]
        items = items[ids.index(marker) + 1 :] if marker in ids else items
    links = []
    limit = req.query.get("limit")
    if limit:
        size = parse_int(limit, "limit", minimum=1)
        more = len(items) > size
        items = items[:size]
        if more and items:
            links.append({"rel": "next", "href": _link(req, path, marker=items[-1]["id"])})
        if marker and items:
            links.append(
                {
                    "rel": "previous",
                    "href": _link(req, path, marker=items[0]["id"], page_reverse="True"),
                }
            )
    if reverse:
        items = list(reversed(items))
    body: dict[str, Any] = {collection: [select_fields(req, i) for i in items]}
    if links:
        body[collection + "_links"] = links
    return body
