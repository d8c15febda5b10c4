"""Small helpers shared by the Compute API modules: links, paging, query parsing."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from pocketstack.common import errors
from pocketstack.common.http import ApiRequest, parse_bool, parse_int

MAX_LIMIT = 1000


def links(req: ApiRequest, collection: str, item_id: str) -> list[dict[str, str]]:
    """Nova's ``self`` and ``bookmark`` links of one resource."""
    return [
        {"rel": "self", "href": f"{req.base_url}/v2.1/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{req.base_url}/{collection}/{item_id}"},
    ]


def bookmark(req: ApiRequest, collection: str, item_id: str) -> list[dict[str, str]]:
    """Only the ``bookmark`` link (used for a server's image and flavor)."""
    return [{"rel": "bookmark", "href": f"{req.base_url}/{collection}/{item_id}"}]


def paging(req: ApiRequest) -> tuple[int, str | None]:
    """``(limit, marker)`` from the query string.

    The limit is ``MAX_LIMIT`` when none is given and never more (Nova's
    ``common.get_limit_and_marker`` with ``[api] max_limit = 1000``), so a list without a
    ``limit`` is one page too, with a ``next`` link when it is full.

    Raises:
        errors.BadRequest: a limit that is not an integer >= 0.
    """
    limit = req.query.get("limit")
    number = MAX_LIMIT if limit is None else min(parse_int(limit, "limit", minimum=0), MAX_LIMIT)
    return number, req.query.get("marker")


def next_links(
    req: ApiRequest, collection: str, items: list[Any], limit: int | None, marker_of: Any
) -> list[dict[str, str]]:
    """``[{"rel": "next", "href": ...}]`` when a page was filled up to ``limit`` (Nova's
    ``_get_collection_links``): the request's query with ``marker`` set to ``marker_of`` the
    last item, under ``/v2.1/<collection>``; ``[]`` otherwise."""
    if not limit or len(items) < limit:
        return []
    params = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
    params.append(("marker", marker_of(items[-1])))
    return [{"rel": "next", "href": f"{req.base_url}/v2.1/{collection}?{urlencode(params)}"}]


def bool_param(req: ApiRequest, name: str, default: bool = False) -> bool:
    """A boolean query parameter; present but empty counts as true (Nova's all_tenants)."""
    if name not in req.query:
        return default
    value = req.query.get(name)
    return True if value == "" else parse_bool(value, name)


def parse_time(value: str, name: str) -> dt.datetime:
    """An ISO 8601 time of the query string (``changes-since``...) as naive UTC.

    Raises:
        errors.BadRequest: not an ISO 8601 time (Nova's ``format: date-time``).
    """
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(
            f"Invalid input for query parameters {name}. Value: {value}. "
            f"'{value}' is not a 'date-time'"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed
