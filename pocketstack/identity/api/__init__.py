"""The Identity v3 API (Keystone) mounted at ``/identity``: version discovery, tokens,
domains, projects, users, groups, roles, assignments, catalog, application credentials.

Handlers live in one module per resource family; this module only assembles them.
"""

from __future__ import annotations

from pocketstack.common.http import ServiceAPI
from pocketstack.identity import policies  # noqa: F401  (registers the rules)
from pocketstack.identity.api import catalog, resource, roles, tokens, users
from pocketstack.identity.api.errors import RENDERERS
from pocketstack.identity.exceptions import ValidationError


def _not_json(_media_type: str) -> ValidationError:
    """Keystone answers a body in another type with 400, not 415."""
    return ValidationError(
        "Expecting to find application/json in Content-Type header. The server could not "
        "comply with the request since it is either malformed or otherwise incorrect. The "
        "client is assumed to be in error."
    )


API = ServiceAPI(
    "identity",
    "/identity",
    RENDERERS,
    [*tokens.ROUTES, *resource.ROUTES, *users.ROUTES, *roles.ROUTES, *catalog.ROUTES],
    media_type_error=_not_json,
)
