"""The Identity v3 API (Keystone) mounted at ``/identity``: version discovery, tokens,
domains, projects, users, groups, roles, assignments, catalog, application credentials,
credentials (and OS-EC2), trusts (OS-TRUST), inherited grants (OS-INHERIT) and delegation
to OAuth consumers (OS-OAUTH1).

Handlers live in one module per resource family (``api/<family>.py``, named as the
``cloud.identity.<family>`` they call); this module only assembles them.
"""

from __future__ import annotations

from pocketstack.common.http import ServiceAPI
from pocketstack.identity import policies  # noqa: F401  (registers the rules)
from pocketstack.identity.api import (
    application_credentials,
    auth,
    credentials,
    domain_configs,
    domains,
    endpoint_filter,
    endpoints,
    groups,
    limits,
    oauth1,
    policy_blobs,
    projects,
    regions,
    roles,
    services,
    trusts,
    users,
    versions,
)
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
    [
        *versions.ROUTES,
        *auth.ROUTES,
        *domain_configs.ROUTES,
        *domains.ROUTES,
        *projects.ROUTES,
        *users.ROUTES,
        *groups.ROUTES,
        *application_credentials.ROUTES,
        *credentials.ROUTES,
        *roles.ROUTES,
        *regions.ROUTES,
        *services.ROUTES,
        *endpoints.ROUTES,
        *trusts.ROUTES,
        *policy_blobs.ROUTES,
        *endpoint_filter.ROUTES,
        *limits.ROUTES,
        *oauth1.ROUTES,
    ],
    media_type_error=_not_json,
    system_scope=True,
)
