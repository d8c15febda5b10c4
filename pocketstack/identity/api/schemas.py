"""Request-body schemas of the Identity API v3 (Keystone), one per body a route takes.

Each is attached to its route (``route("POST", "/v3/users", create_user,
schema=schemas.USER_CREATE)``) and checked by the HTTP layer before the handler runs: a
body that does not match is a 400 in Keystone's error shape and nothing is written.

What they follow, from Keystone's own request schemas:

- Entities take extra attributes (``additionalProperties`` on the inner object), as
  Keystone keeps them; the attributes it knows are type-checked. The envelope
  (``{"user": {...}}``) takes nothing else. Application credentials and the password
  change take no extra attributes, as in Keystone.
- Booleans are JSON booleans only; ``null`` only where Keystone takes it (descriptions,
  ``default_project_id``, a region's ids, an endpoint's region...). An update names at
  least one attribute.
- Domain and project names are 1..64 characters, other names 1..255, and neither is only
  blanks. Ids stored by the identity tables are at most 64 characters; free text and
  secrets are bounded too (Keystone leaves some unbounded; a database column is not).

Sections of the Identity API v3 reference are named on each schema.
"""

from __future__ import annotations

from pocketstack.common import schema_types as t

Schema = t.Schema


def _nullable(schema: Schema) -> Schema:
    """``schema`` or ``null``, written as a type list (``["string", "null"]``) so that a
    mismatch names both types, as Keystone's ``validation.nullable`` does."""
    if isinstance(schema.get("type"), str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return t.nullable(schema)


def _update(properties: dict[str, Schema]) -> Schema:
    """An update body's inner object: known attributes checked, extra ones kept, at least
    one attribute (Keystone's ``minProperties: 1``)."""
    return t.obj(properties, additional=True, minProperties=1)


# -- building blocks ----------------------------------------------------------------------
#: Keystone's names: 1..255 characters, not only blanks.
NAME: Schema = t.name(255)
#: Domain and project names (Keystone: 64).
NAME_64: Schema = t.name(64)
#: An id the identity tables store (at most 64 characters; Keystone's ``id_string``).
ID: Schema = t.ID
#: An id a request names to look something up (never stored: unknown is a 401/404).
ID_REF: Schema = t.string(64, 1)
DESCRIPTION: Schema = _nullable(t.DESCRIPTION)
BOOLEAN: Schema = t.BOOLEAN
#: Passwords and secrets (Keystone's default ``max_password_length``).
PASSWORD: Schema = t.string(4096)
#: Project tags: no ``,`` or ``/``, at most 80 distinct (Keystone, API-WG tags guideline).
TAGS: Schema = t.array(t.string(255, 1, pattern=r"^[^,/]*$"), max_items=80, unique=True)
#: An endpoint URL: a scheme then anything (Keystone's ``url``, 225 characters as Keystone).
URL: Schema = t.string(225, 0, pattern=r"^[a-zA-Z0-9+.-]+:.+")
#: A region id as Keystone takes it (any string of 1..255 characters).
REGION_ID: Schema = t.string(255, 1)


def _options(*names: str) -> Schema:
    """Keystone's resource options: a closed set, each a boolean or null (null resets)."""
    return t.obj({n: _nullable(BOOLEAN) for n in names})


_RESOURCE_OPTIONS = _options("immutable")
_USER_OPTIONS = t.obj(
    {
        **_options(
            "ignore_change_password_upon_first_use",
            "ignore_password_expiry",
            "ignore_lockout_failure_attempts",
            "lock_password",
            "ignore_user_inactivity",
            "multi_factor_auth_enabled",
        )["properties"],
        "multi_factor_auth_rules": _nullable(
            t.array(t.array(t.string(255, 1), max_items=16), max_items=16)
        ),
    }
)


def _ref(properties: dict[str, Schema], *otherwise: str) -> Schema:
    """An object naming something by ``id``, or else by the ``otherwise`` attributes
    (``name``, with its domain...); other attributes are let through, as Keystone's
    authentication schema does. Written as if/then so that a mismatch says which
    attribute is missing rather than echoing the object (it may hold a password)."""
    schema = t.obj(properties, additional=True)
    schema["if"] = {"not": {"required": ["id"]}}
    schema["then"] = {"required": list(otherwise)}
    return schema


# -- Authentication and token management ----------------------------------------------------
_DOMAIN_REF = _ref({"id": ID_REF, "name": NAME}, "name")
_USER_REF = {"id": ID_REF, "name": NAME, "domain": _DOMAIN_REF}
_PASSWORD_USER = _ref({**_USER_REF, "password": PASSWORD}, "name", "domain")
_SCOPE = t.obj(
    {
        "project": _ref({"id": ID_REF, "name": NAME_64, "domain": _DOMAIN_REF}, "name", "domain"),
        "domain": _DOMAIN_REF,
        "OS-TRUST:trust": t.obj({"id": ID_REF}, additional=True),
        "system": t.obj({"all": BOOLEAN}, additional=True),
    },
    additional=True,
)

AUTH: Schema = t.obj(
    {
        "auth": t.obj(
            {
                "identity": t.obj(
                    {
                        "methods": t.array(t.string(64, 1), max_items=8),
                        "password": t.obj({"user": _PASSWORD_USER}, ["user"], additional=True),
                        "token": t.obj({"id": t.string(8192, 1)}, ["id"], additional=True),
                        "application_credential": _ref(
                            {
                                "id": ID_REF,
                                "name": NAME,
                                "secret": PASSWORD,
                                "user": _ref(_USER_REF, "name", "domain"),
                            },
                            "name",
                            "user",
                        ),
                    },
                    ["methods"],
                    additional=True,
                ),
                # "unscoped" explicitly, or a project, domain... object (Keystone takes both).
                "scope": {"if": {"type": "string"}, "then": t.enum("unscoped"), "else": _SCOPE},
            },
            ["identity"],
            additional=True,
        )
    },
    ["auth"],
    additional=True,
)
"""POST /v3/auth/tokens ("Password authentication with unscoped/scoped authorization",
"Token authentication", "Authenticating with an Application Credential"): password by
user id or by name with its domain, a token to rescope, or an application credential by id
or by name with its user; scope a project (id, or name with its domain), a domain (id or
name), or ``"unscoped"``."""


# -- Domains ------------------------------------------------------------------------------
_DOMAIN: dict[str, Schema] = {
    "name": NAME_64,
    "description": DESCRIPTION,
    "enabled": BOOLEAN,
    "tags": TAGS,
    "options": _RESOURCE_OPTIONS,
}
DOMAIN_CREATE: Schema = t.wrapped(
    "domain",
    t.obj({**_DOMAIN, "explicit_domain_id": ID}, ["name"], additional=True),
)
"""POST /v3/domains ("Create domain")."""
DOMAIN_UPDATE: Schema = t.wrapped("domain", _update(_DOMAIN))
"""PATCH /v3/domains/{domain_id} ("Update domain")."""


# -- Projects -----------------------------------------------------------------------------
_PROJECT: dict[str, Schema] = {
    "name": NAME_64,
    "description": DESCRIPTION,
    "domain_id": _nullable(ID),
    "parent_id": _nullable(ID),
    "enabled": BOOLEAN,
    # Projects acting as domains are not supported: say so rather than make a plain project.
    "is_domain": t.enum(False),
    "tags": TAGS,
    "options": _RESOURCE_OPTIONS,
}
PROJECT_CREATE: Schema = t.wrapped("project", t.obj(_PROJECT, ["name"], additional=True))
"""POST /v3/projects ("Create project")."""
PROJECT_UPDATE: Schema = t.wrapped("project", _update(_PROJECT))
"""PATCH /v3/projects/{project_id} ("Update project")."""


# -- Users --------------------------------------------------------------------------------
_USER: dict[str, Schema] = {
    "name": NAME,
    "domain_id": ID,
    "password": _nullable(PASSWORD),
    "enabled": BOOLEAN,
    "default_project_id": _nullable(t.string(64)),
    "description": DESCRIPTION,
    "email": _nullable(t.string(255)),
    "options": _USER_OPTIONS,
}
USER_CREATE: Schema = t.wrapped("user", t.obj(_USER, ["name"], additional=True))
"""POST /v3/users ("Create user")."""
USER_UPDATE: Schema = t.wrapped("user", _update(_USER))
"""PATCH /v3/users/{user_id} ("Update user")."""
PASSWORD_CHANGE: Schema = t.wrapped(
    "user",
    t.obj(
        {"original_password": PASSWORD, "password": PASSWORD},
        ["original_password", "password"],
    ),
)
"""POST /v3/users/{user_id}/password ("Change password for user"): no other attribute."""


# -- Groups -------------------------------------------------------------------------------
_GROUP: dict[str, Schema] = {"name": NAME, "domain_id": ID, "description": DESCRIPTION}
GROUP_CREATE: Schema = t.wrapped("group", t.obj(_GROUP, ["name"], additional=True))
"""POST /v3/groups ("Create group")."""
GROUP_UPDATE: Schema = t.wrapped("group", _update(_GROUP))
"""PATCH /v3/groups/{group_id} ("Update group")."""


# -- Roles --------------------------------------------------------------------------------
_ROLE: dict[str, Schema] = {
    "name": NAME,
    "description": DESCRIPTION,
    "domain_id": _nullable(ID),
    "options": _RESOURCE_OPTIONS,
}
ROLE_CREATE: Schema = t.wrapped("role", t.obj(_ROLE, ["name"], additional=True))
"""POST /v3/roles ("Create role")."""
ROLE_UPDATE: Schema = t.wrapped("role", _update(_ROLE))
"""PATCH /v3/roles/{role_id} ("Update role")."""


# -- Calls that take no body ----------------------------------------------------------------
NO_BODY: Schema = {"type": ["null", "object"]}
"""PUT calls whose path says everything: "Create role inference rule", "Assign role to
user/group on project/domain", "Add user to group". Keystone reads no body there; one sent
anyway must still be a JSON object (or absent) and is ignored."""


# -- Regions ------------------------------------------------------------------------------
_REGION: dict[str, Schema] = {
    "id": _nullable(REGION_ID),
    "description": DESCRIPTION,
    "parent_region_id": _nullable(REGION_ID),
}
REGION_CREATE: Schema = t.wrapped(
    "region",
    # An empty or null id: one is generated (Keystone takes "" there).
    t.obj({**_REGION, "id": _nullable(t.string(255))}, additional=True),
)
"""POST /v3/regions ("Create region")."""
REGION_UPDATE: Schema = t.wrapped("region", _update(_REGION))
"""PATCH /v3/regions/{region_id} ("Update region")."""


# -- Services -----------------------------------------------------------------------------
_SERVICE: dict[str, Schema] = {
    "type": t.string(255, 1),
    # null is what openstackclient sends without --name (the name is optional).
    "name": _nullable(t.string(255, 1)),
    "description": DESCRIPTION,
    "enabled": BOOLEAN,
}
SERVICE_CREATE: Schema = t.wrapped("service", t.obj(_SERVICE, ["type"], additional=True))
"""POST /v3/services ("Create service")."""
SERVICE_UPDATE: Schema = t.wrapped("service", _update(_SERVICE))
"""PATCH /v3/services/{service_id} ("Update service")."""


# -- Endpoints ----------------------------------------------------------------------------
_ENDPOINT: dict[str, Schema] = {
    "interface": t.enum("public", "internal", "admin"),
    "url": URL,
    "service_id": ID_REF,
    "region_id": _nullable(REGION_ID),
    "region": _nullable(REGION_ID),  # deprecated in v3.2, still sent by some clients
    "enabled": BOOLEAN,
    "name": t.string(255),
    "description": DESCRIPTION,
}
ENDPOINT_CREATE: Schema = t.wrapped(
    "endpoint",
    t.obj(_ENDPOINT, ["interface", "service_id", "url"], additional=True),
)
"""POST /v3/endpoints ("Create endpoint")."""
ENDPOINT_UPDATE: Schema = t.wrapped("endpoint", _update(_ENDPOINT))
"""PATCH /v3/endpoints/{endpoint_id} ("Update endpoint")."""


# -- Application credentials -----------------------------------------------------------------
_ROLE_REF = t.obj({"id": ID, "name": NAME}, minProperties=1, maxProperties=1)
_ACCESS_RULE = t.obj(
    {
        "id": ID,
        "path": t.string(225, 0, pattern=r"^/"),
        "method": t.enum("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"),
        "service": t.string(255, 1),
    }
)
APPLICATION_CREDENTIAL_CREATE: Schema = t.wrapped(
    "application_credential",
    t.obj(
        {
            "id": ID,
            "name": NAME,
            "secret": _nullable(PASSWORD),
            "description": DESCRIPTION,
            "expires_at": _nullable(t.string(64)),
            "project_id": ID_REF,
            "roles": t.array(_ROLE_REF, max_items=64),
            "unrestricted": _nullable(BOOLEAN),
            # Access rules are not supported: an empty list (what openstackclient sends
            # without --access-rules) is fine, rules are refused rather than ignored (a
            # credential without them could do more than its owner meant).
            "access_rules": {**t.array(_ACCESS_RULE), "maxItems": 0},
            # System-scoped credentials are not supported either.
            "system": {"type": "null"},
        },
        ["name"],
    ),
)
"""POST /v3/users/{user_id}/application_credentials ("Create application credential"):
roles as ``{"id"}`` or ``{"name"}``, ``expires_at`` an ISO 8601 time or null; no other
attribute, as in Keystone."""


# -- Trusts (OS-TRUST) ----------------------------------------------------------------------
TRUST_CREATE: Schema = t.wrapped(
    "trust",
    t.obj(
        {
            "trustor_user_id": ID_REF,
            "trustee_user_id": ID_REF,
            "project_id": _nullable(ID_REF),
            "impersonation": BOOLEAN,
            "roles": t.array(_ROLE_REF, max_items=64),
            "expires_at": _nullable(t.string(64)),
            "remaining_uses": _nullable(t.integer(1)),
            # redelegation is not supported: false or absent only
            "allow_redelegation": _nullable({"const": False}),
            "redelegation_count": _nullable(t.integer(0, 0)),
        },
        ["trustor_user_id", "trustee_user_id", "impersonation"],
    ),
)
"""POST /v3/OS-TRUST/trusts ("Create trust"): roles as ``{"id"}`` or ``{"name"}``,
``expires_at`` an ISO 8601 time or null, ``remaining_uses`` a positive integer or null."""


# -- Project tags -------------------------------------------------------------------------
PROJECT_TAGS: Schema = t.obj({"tags": TAGS}, ["tags"], additional=True)
"""PUT /v3/projects/{project_id}/tags ("Modify tag list for a project"): at most 80 tags
of 1..255 characters without ``/`` or ``,``, no duplicates."""


# -- Credentials --------------------------------------------------------------------------
_CREDENTIAL = {
    "blob": t.string(65535, 1),
    "type": t.string(255, 1),
    "project_id": _nullable(ID),
    "user_id": ID,
}
CREDENTIAL_CREATE: Schema = t.wrapped(
    "credential", t.obj(_CREDENTIAL, ["blob", "type", "user_id"], additional=True)
)
"""POST /v3/credentials ("Create credential"): blob, type and user_id required."""
CREDENTIAL_UPDATE: Schema = t.wrapped("credential", _update(_CREDENTIAL))
"""PATCH /v3/credentials/{credential_id} ("Update credential")."""
EC2_CREATE: Schema = t.obj({"tenant_id": _nullable(ID)}, additional=True)
"""POST /v3/users/{user_id}/credentials/OS-EC2: ``{"tenant_id"}`` (the token's project
when absent)."""


# -- OS-OAUTH1 ----------------------------------------------------------------------------
CONSUMER_CREATE: Schema = t.wrapped(
    "consumer", t.obj({"description": DESCRIPTION, "secret": {"not": {}}}, additional=True)
)
"""POST /v3/OS-OAUTH1/consumers ("Create consumer"): a description or null, extra
attributes kept; the secret is made by the server (400 when given)."""

CONSUMER_UPDATE: Schema = t.wrapped(
    "consumer",
    t.obj({"description": DESCRIPTION}, additional=True, minProperties=1),
)
"""PATCH /v3/OS-OAUTH1/consumers/{consumer_id} ("Update consumer"): the secret cannot change
(400, checked by the manager)."""

OAUTH1_AUTHORIZE: Schema = t.obj(
    {"roles": {**t.array(_ROLE_REF, max_items=64), "minItems": 1}}, ["roles"]
)
"""PUT /v3/OS-OAUTH1/authorize/{request_token_id} ("Authorize request token"): at least
one role as ``{"id"}`` or ``{"name"}``."""

OAUTH1_SIGNED: Schema = {"type": ["object", "null"]}
"""POST /v3/OS-OAUTH1/request_token and /access_token: no body (the OAuth parameters come
in the ``Authorization`` header); a JSON object sent anyway is ignored, as Keystone does."""
