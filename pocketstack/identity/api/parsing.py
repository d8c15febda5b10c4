"""Request parsing helpers shared by the identity handlers (400 on bad input)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketstack.common.http import ApiRequest, parse_bool
from pocketstack.identity.exceptions import ValidationError
from pocketstack.identity.oauth1 import SignedRequest

_TYPES = {str: "a string", bool: "a boolean", list: "a list", dict: "an object"}


def field(
    obj: dict[str, Any], name: str, kind: type = str, required: bool = False, default: Any = None
) -> Any:
    """``obj[name]`` checked to be of ``kind`` (None allowed unless required).

    Raises:
        ValidationError: missing when required, or of the wrong type.
    """
    value = obj.get(name, default)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is a required property.")
        return default
    if kind is bool:
        return parse_bool(value, name)
    if not isinstance(value, kind) or (required and isinstance(value, str) and not value.strip()):
        raise ValidationError(
            f"Invalid input for field '{name}': expected {_TYPES.get(kind, kind.__name__)}."
        )
    return value


def changes(obj: dict[str, Any], allowed: Mapping[str, type]) -> dict[str, Any]:
    """The fields of an update body that are in ``allowed`` (name -> type), type-checked;
    ``id`` and unknown keys are ignored as Keystone does for extra attributes."""
    out = {}
    for name, kind in allowed.items():
        if name in obj:
            out[name] = (
                obj[name] if obj[name] is None and kind is not bool else field(obj, name, kind)
            )
    return out


def owner(req: ApiRequest) -> dict[str, str]:
    """The policy target of a ``/v3/users/{user_id}/...`` call: the user in the path."""
    return {"user_id": req.params["user_id"]}


def query_bool(req: ApiRequest, name: str) -> bool | None:
    """A boolean query filter, or None when absent; a bare ``?name`` counts as true."""
    if name not in req.query:
        return None
    raw = req.query.get(name)
    return True if raw == "" else parse_bool(raw, name)


def query(req: ApiRequest, name: str) -> str | None:
    """A string query filter, or None when absent."""
    return req.query.get(name)


def domain_scoped(req: ApiRequest) -> bool:
    """Whether the caller is a non-admin with a domain-scoped token (a domain reader or
    manager, whose listings are its domain's and whose new objects default to it)."""
    ctx = req.ctx
    return (
        ctx.domain_id is not None
        and ctx.project_id is None
        and not ctx.system_scope
        and not ctx.is_admin
    )


def listing_domain(req: ApiRequest) -> str | None:
    """The ``domain_id`` filter of a listing: as asked, or the caller's domain for a
    domain-scoped non-admin (Keystone filters a domain reader's listings so)."""
    asked = query(req, "domain_id")
    return asked or (req.ctx.domain_id if domain_scoped(req) else None)


def in_domain(req: ApiRequest, kind: str, ident: str) -> dict[str, str | None]:
    """The policy target ``{"domain_id"}`` of a user, group or project (None: unknown)."""
    return {"domain_id": req.cloud.identity.domain_of(kind, ident)}


def new_domain(req: ApiRequest, body: dict[str, Any]) -> str:
    """The domain of an object being created: the body's ``domain_id``, else the caller's
    domain for a domain-scoped token (as Keystone), else ``default``."""
    given = body.get("domain_id")
    if isinstance(given, str) and given:
        return given
    return req.ctx.domain_id if domain_scoped(req) and req.ctx.domain_id else "default"


def signed_request(req: ApiRequest, path: str) -> SignedRequest:
    """The request as an OAuth 1.0a client signed it (OS-OAUTH1): the public URL of ``path``
    (``/v3/...``) with the query string, the method and the headers. The body is not part
    of it: OAuth parameters come in the ``Authorization`` header."""
    url = req.base_url + path
    if str(req.query):
        url += "?" + str(req.query)
    return SignedRequest(url, req.method, dict(req.headers))
