"""Who is calling: the request context every manager function receives.

The API layer validates ``X-Auth-Token`` through the Identity service's token provider
(``pocketstack.identity.tokens``) and builds a ``RequestContext``; managers never see HTTP.
Internal work (periodic tasks, bootstrap) uses ``RequestContext.system()``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


def new_request_id() -> str:
    """OpenStack-style request id: ``req-<uuid4>``."""
    return f"req-{uuid.uuid4()}"


@dataclass(frozen=True)
class RequestContext:
    """The authenticated caller of one request.

    Attributes:
        user_id, project_id: ids from the token (project-scoped tokens only reach services).
        roles: role names on that project, e.g. ``("member", "reader")``.
        request_id: ``req-<uuid>``, returned as ``X-Openstack-Request-Id`` and used as the
            instance action's request id.
        auth_token: the token string, for calls the controller makes on the user's behalf.
        app_cred_id: the application credential the token was obtained with, or None.
        app_cred_restricted: True when that credential is restricted (Keystone's default):
            such a token may not create or delete application credentials (or trusts).
        oauth_access_token_id: the OS-OAUTH1 access token the token was got with, or None:
            such a token may not delegate further either (Keystone's "token issued via
            delegation").
        system_scope: True for a system-scoped token (Keystone's ``"system": {"all":
            true}``): its roles are held on the whole deployment, not on a project, so
            ``project_id`` and ``domain_id`` are None (the ``system_reader`` policy check).
    """

    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    user_name: str | None = None
    project_name: str | None = None
    roles: tuple[str, ...] = ()
    request_id: str = field(default_factory=new_request_id)
    auth_token: str | None = None
    is_system: bool = False
    app_cred_id: str | None = None
    app_cred_restricted: bool = False
    system_scope: bool = False
    oauth_access_token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """True for the ``admin`` role (cloud administrator) or internal system work."""
        return self.is_system or "admin" in self.roles

    @property
    def can_write(self) -> bool:
        """True for admin and member; ``reader`` may only read."""
        return self.is_admin or "member" in self.roles

    @property
    def may_delegate(self) -> bool:
        """Whether this caller may create or delete delegations (application credentials,
        trusts, request token authorizations): every token except one from a restricted
        application credential or an OS-OAUTH1 access token, which could otherwise mint a
        credential that outlives its own (as Keystone)."""
        if self.oauth_access_token_id:
            return False
        return not (self.app_cred_id and self.app_cred_restricted)

    def owns(self, project_id: str | None) -> bool:
        """Whether a resource of ``project_id`` is this caller's own project's."""
        return project_id is not None and project_id == self.project_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for bus messages (the token and secrets are not sent; keys added
        since the first version are optional in ``from_dict``)."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "domain_id": self.domain_id,
            "user_name": self.user_name,
            "project_name": self.project_name,
            "roles": list(self.roles),
            "request_id": self.request_id,
            "is_system": self.is_system,
            "app_cred_id": self.app_cred_id,
            "app_cred_restricted": self.app_cred_restricted,
            "system_scope": self.system_scope,
            "oauth_access_token_id": self.oauth_access_token_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContext:
        """Inverse of ``to_dict``; missing optional keys take their defaults."""
        return cls(
            user_id=data.get("user_id"),
            project_id=data.get("project_id"),
            domain_id=data.get("domain_id"),
            user_name=data.get("user_name"),
            project_name=data.get("project_name"),
            roles=tuple(data.get("roles", ())),
            request_id=data.get("request_id") or new_request_id(),
            is_system=bool(data.get("is_system")),
            app_cred_id=data.get("app_cred_id"),
            app_cred_restricted=bool(data.get("app_cred_restricted")),
            system_scope=bool(data.get("system_scope")),
            oauth_access_token_id=data.get("oauth_access_token_id"),
        )

    @classmethod
    def system(cls, request_id: str | None = None) -> RequestContext:
        """The context of the cloud's own work (bootstrap, periodic tasks)."""
        return cls(roles=("admin",), is_system=True, request_id=request_id or new_request_id())

    def elevated(self) -> RequestContext:
        """A copy with admin rights, for internal steps done on the caller's behalf."""
        return replace(self, is_system=True)


class TokenValidator(Protocol):
    """What the API layer needs from Identity: turn a token string into a context.

    Implemented by ``pocketstack.identity.tokens.TokenProvider``.
    """

    def validate(self, token: str) -> RequestContext:
        """Return the caller's context.

        Raises:
            pocketstack.common.errors.Unauthorized: unknown, malformed, expired or revoked.
        """
        ...
