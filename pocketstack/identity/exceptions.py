"""Identity errors, named after what failed (rendered in Keystone's error style)."""

from __future__ import annotations

from pocketstack.common.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized


class DomainNotFound(NotFound):
    """404: no such domain (or not visible to the caller)."""


class ProjectNotFound(NotFound):
    """404: no such project (or not visible to the caller)."""


class UserNotFound(NotFound):
    """404: no such user (or not visible to the caller)."""


class GroupNotFound(NotFound):
    """404: no such group."""


class RoleNotFound(NotFound):
    """404: no such role."""


class ImpliedRoleNotFound(NotFound):
    """404: the role does not imply that role."""


class RoleAssignmentNotFound(NotFound):
    """404: the actor does not hold that role on that target."""


class RegionNotFound(NotFound):
    """404: no such region."""


class ServiceNotFound(NotFound):
    """404: no such catalog service."""


class EndpointNotFound(NotFound):
    """404: no such endpoint."""


class ApplicationCredentialNotFound(NotFound):
    """404: no such application credential of that user."""


class MembershipNotFound(NotFound):
    """404: the user is not a member of that group."""


class DuplicateEntry(Conflict):
    """409: a resource with that name (in that domain) already exists."""


class ValidationError(BadRequest):
    """400: a missing or invalid field in the request body."""


class AuthenticationFailed(Unauthorized):
    """401: wrong credentials, disabled or unknown user (never says which)."""

    def default_message(self) -> str:
        return "The request you have made requires authentication."


class AccountLocked(AuthenticationFailed):
    """401: too many failed logins in a row (``lockout_failure_attempts``); the user stays
    locked for ``lockout_duration`` seconds even with the right password (Keystone's
    ``[security_compliance]`` lockout). Told only to a caller who gave the right password."""

    def __init__(self, user_id: str):
        super().__init__(f"The account is locked for user: {user_id}.")


class CredentialNotFound(NotFound):
    """404: no such credential (or EC2 access key of that user)."""


class ProjectTagNotFound(NotFound):
    """404: the project has no such tag."""


class ForbiddenAction(Forbidden):
    """403: an action the identity service refuses (e.g. deleting an enabled domain)."""


class TokenNotFound(NotFound):
    """404: the subject token of GET/HEAD/DELETE /v3/auth/tokens is invalid."""
