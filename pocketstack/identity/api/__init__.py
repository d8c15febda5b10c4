"""The Identity v3 API (Keystone) mounted at ``/identity``: version discovery, tokens,
domains, projects, users, groups, roles, assignments, catalog, application credentials.

Handlers live in one module per resource family; this module only assembles them.
"""

from __future__ import annotations

from pocketstack.common.http import IDENTITY, ServiceAPI
from pocketstack.identity import policies  # noqa: F401  (registers the rules)
from pocketstack.identity.api import catalog, resource, roles, tokens, users

API = ServiceAPI(
    "identity",
    "/identity",
    IDENTITY,
    [*tokens.ROUTES, *resource.ROUTES, *users.ROUTES, *roles.ROUTES, *catalog.ROUTES],
)
