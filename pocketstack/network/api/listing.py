"""A list request's query string, parsed into a ``lists.ListQuery`` (done in SQL by the
families, rendered by ``views.page``).

Networking API v2.0 reference, "Filtering and column selection", "Sorting", "Pagination":

- every other key is a filter on the attribute of that name, repeated keys OR'ed; the
  families ignore attributes they do not know; admin-only attributes (``views.ADMIN_ONLY``)
  are filters for admins only, since no one else sees them;
- ``tags``/``tags-any``/``not-tags``/``not-tags-any`` take comma lists (repeatable);
- ``fields`` selects attributes (``views.select_fields``);
- ``sort_key``/``sort_dir`` (repeatable), ``limit`` (at least 1), ``marker``,
  ``page_reverse``;
- ``all_projects``/``all_tenants`` (admins).
"""

from __future__ import annotations

from pocketstack.common.http import ApiRequest, parse_bool, parse_int
from pocketstack.network.api.views import ADMIN_ONLY
from pocketstack.network.lists import TAG_FILTERS, ListQuery

#: Query keys that are not filters.
CONTROL = frozenset(
    {
        "fields",
        "limit",
        "marker",
        "sort_key",
        "sort_dir",
        "page_reverse",
        "all_projects",
        "all_tenants",
    }
)


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


def parse(req: ApiRequest, admin_sees_all: bool = False) -> ListQuery:
    """The list query of ``req``.

    Raises:
        BadRequest (400): ``limit`` not an integer of at least 1, ``page_reverse`` or
        ``all_projects`` not a boolean.
    """
    admin = req.ctx is not None and req.ctx.is_admin
    skip = CONTROL | set(TAG_FILTERS) | (set() if admin else ADMIN_ONLY)
    filters = {k: tuple(req.query_all(k)) for k in req.query.keys() if k not in skip}
    tags = {
        k: frozenset(t for v in req.query_all(k) for t in v.split(",") if t)
        for k in TAG_FILTERS
        if k in req.query
    }
    limit = req.query.get("limit")
    return ListQuery(
        filters=filters,
        tags=tags,
        sort_keys=tuple(req.query_all("sort_key")),
        sort_dirs=tuple(d.lower() for d in req.query_all("sort_dir")),
        limit=parse_int(limit, "limit", minimum=1) if limit else None,
        marker=req.query.get("marker") or None,
        page_reverse=parse_bool(req.query.get("page_reverse", "false"), "page_reverse"),
        all_projects=all_projects(req, admin_sees_all),
    )
