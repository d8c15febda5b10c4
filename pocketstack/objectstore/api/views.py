"""Listings and headers as Swift renders them.

Listings (api-ref "Show account details and list containers", "Show container details and
list objects") in three formats chosen by ``?format=`` or the ``Accept`` header: ``json``
(the node's entries), ``xml`` (``<account name=..><container><name>..``) or ``plain`` (one
name per line); an empty plain listing is ``204 No Content``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.responses import Response

from pocketstack.common import errors

MEDIA = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "plain": "text/plain; charset=utf-8",
}
_FIELDS = {
    "account": ("name", "count", "bytes", "last_modified"),
    "container": ("name", "hash", "bytes", "content_type", "last_modified"),
}


def listing_format(query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    """``json``, ``xml`` or ``plain``; 400 for an unknown ``?format``."""
    wanted = query.get("format", "").lower()
    if wanted:
        if wanted not in MEDIA:
            raise errors.BadRequest(f"Invalid format {wanted!r}")
        return wanted
    accept = headers.get("accept", "").lower()
    if "application/json" in accept:
        return "json"
    if "xml" in accept:
        return "xml"
    return "plain"


def _xml(kind: str, name: str, items: list[dict[str, Any]]) -> str:
    child = "container" if kind == "account" else "object"
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{kind} name={quoteattr(name)}>"]
    for item in items:
        if "subdir" in item:
            sub = escape(item["subdir"])
            lines.append(f"<subdir name={quoteattr(item['subdir'])}><name>{sub}</name></subdir>")
            continue
        fields = "".join(
            f"<{f}>{escape(str(item.get(f, '')))}</{f}>" for f in _FIELDS[kind] if f in item
        )
        lines.append(f"<{child}>{fields}</{child}>")
    lines.append(f"</{kind}>")
    return "\n".join(lines)


def listing(
    kind: str, name: str, items: list[dict[str, Any]], fmt: str, headers: dict[str, str]
) -> Response:
    """The listing answer: 200 with the body, or 204 for an empty plain listing."""
    if fmt == "json":
        body = json.dumps(items)
    elif fmt == "xml":
        body = _xml(kind, name, items)
    else:
        if not items:
            return Response(status_code=204, headers=headers, media_type=MEDIA[fmt])
        body = "".join((i.get("subdir") or i["name"]) + "\n" for i in items)
    return Response(body, status_code=200, headers=headers, media_type=MEDIA[fmt])


#: The one storage policy (index 0), as ``/info`` lists it.
POLICY_NAME = "Policy-0"


def policy_headers(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """Swift's storage policy headers of an account or container (api-ref "Show account
    metadata", "Show container metadata"): a container's ``X-Storage-Policy`` (the policy's
    name); an account's ``X-Account-Storage-Policy-<name>-Bytes-Used``/``-Object-Count``/
    ``-Container-Count`` once it holds a container. Every container is in policy 0, so an
    account's per-policy usage is its total."""
    if kind == "container":
        return {"X-Storage-Policy": POLICY_NAME}
    low = {k.lower(): v for k, v in headers.items()}
    if int(low.get("x-account-container-count", "0") or 0) <= 0:
        return {}
    prefix = f"X-Account-Storage-Policy-{POLICY_NAME}-"
    return {
        prefix + "Bytes-Used": low.get("x-account-bytes-used", "0"),
        prefix + "Object-Count": low.get("x-account-object-count", "0"),
        prefix + "Container-Count": low["x-account-container-count"],
    }


def visible_headers(headers: Mapping[str, str], kind: str, owner: bool) -> dict[str, str]:
    """The account's or container's headers a caller sees: counts, timestamps, metadata,
    storage policy (``policy_headers``); the ACLs and sysmeta only to the owner (as
    keystoneauth hides ACLs from ACL users)."""
    out = policy_headers(headers, kind)
    for key, value in headers.items():
        low = key.lower()
        if low.startswith(f"x-{kind}-sysmeta-") or low.startswith("x-backend-"):
            continue
        if low in ("x-container-read", "x-container-write") and not owner:
            continue
        shown = ("x-timestamp", "x-put-timestamp", "x-versions-location", "x-history-location")
        if low.startswith(f"x-{kind}-") or low in shown:
            out[key] = value
    return out
