"""Credentials (Identity API v3 "Credentials") and EC2 credentials (Identity API v3
extensions "OS-EC2": ``/v3/users/{user_id}/credentials/OS-EC2``).

A credential is a user's secret of some ``type`` (``ec2``, ``totp``, ``cert``...) kept as an
opaque ``blob`` string. As Keystone, the blob is stored only encrypted: a Fernet token
(``cryptography.fernet``) made with the keys under ``<state_dir>/credential-keys`` (the
token ``KeyRing``: files named by integers, mode 0600, the highest encrypts, any decrypts),
separate from the token keys so that rotating one never loses the other.

An ``ec2`` credential's blob is JSON with ``access`` and ``secret`` (and ``trust_id``); its
id is the SHA-256 hex of ``access``, so the same access key is never stored twice (409), and
it needs a project. The OS-EC2 calls make and show such credentials in their own shape
(``access``, ``secret``, ``tenant_id``).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.identity import exceptions as exc
from pocketstack.identity.models import Credential, Project
from pocketstack.identity.tokens import KeyRing
from pocketstack.identity.users import get_user

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


@dataclass(frozen=True)
class CredentialView:
    """A credential with its blob decrypted (what the API shows)."""

    id: str
    user_id: str
    project_id: str | None
    type: str
    blob: str


def ec2_id(access: str) -> str:
    """The id of the ``ec2`` credential of an access key (Keystone: SHA-256 hex)."""
    return hashlib.sha256(access.encode()).hexdigest()


def _ec2_blob(blob: str) -> dict[str, Any]:
    try:
        data = json.loads(blob)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("access"), str):
        raise exc.ValidationError("Invalid blob in credential: an ec2 blob is JSON with access.")
    return data


def _get(s: Session, credential_id: str) -> Credential:
    row = s.get(Credential, credential_id)
    if row is None:
        raise exc.CredentialNotFound(f"Could not find credential: {credential_id}.")
    return row


class Credentials:
    """``cloud.identity.credentials``: credentials and EC2 credentials."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db
        self.keys = KeyRing(Path(identity.conf.state_dir, "credential-keys"))

    def _view(self, row: Credential) -> CredentialView:
        blob = self.keys.decrypt(row.encrypted_blob).decode()
        return CredentialView(row.id, row.user_id, row.project_id, row.type, blob)

    def list(
        self, ctx: RequestContext, user_id: str | None = None, type_: str | None = None
    ) -> list[CredentialView]:
        """Credentials, filtered by ``user_id`` and ``type``; a caller that is neither an
        admin nor a system reader sees only its own (as Keystone filters the list)."""
        q = sa.select(Credential).order_by(Credential.created_at, Credential.id)
        if not (ctx.is_admin or ctx.system_scope):
            user_id = ctx.user_id or ""
        if user_id is not None:
            q = q.where(Credential.user_id == user_id)
        if type_ is not None:
            q = q.where(Credential.type == type_)
        with self.db.reader() as s:
            rows = list(s.scalars(q))
        return [self._view(r) for r in rows]

    def owner(self, ctx: RequestContext, credential_id: str) -> str:
        """The user of a credential (the policy target); raises ``CredentialNotFound``."""
        with self.db.reader() as s:
            return _get(s, credential_id).user_id

    def get(self, ctx: RequestContext, credential_id: str) -> CredentialView:
        """One credential, decrypted; raises ``CredentialNotFound``."""
        with self.db.reader() as s:
            row = _get(s, credential_id)
        return self._view(row)

    def create(
        self,
        ctx: RequestContext,
        user_id: str,
        type_: str,
        blob: str,
        project_id: str | None = None,
    ) -> CredentialView:
        """A new credential (POST /v3/credentials).

        Raises:
            UserNotFound, ProjectNotFound; ValidationError (400): an ``ec2`` blob that is not
            JSON with ``access``, or an ``ec2`` credential without a project;
            DuplicateEntry (409): an ``ec2`` credential of that access key exists.
        """
        credential_id = None
        if type_ == "ec2":
            credential_id = ec2_id(_ec2_blob(blob)["access"])
            if not project_id:
                raise exc.ValidationError("An ec2 credential needs a project_id.")
        with self.db.transaction() as s:
            get_user(s, user_id)
            if project_id and s.get(Project, project_id) is None:
                raise exc.ProjectNotFound(f"Could not find project: {project_id}.")
            if credential_id and s.get(Credential, credential_id) is not None:
                raise exc.DuplicateEntry("Duplicate entry found with the same access key.")
            row = Credential(
                user_id=user_id,
                project_id=project_id,
                type=type_,
                encrypted_blob=self.keys.encrypt(blob.encode()),
            )
            if credential_id:
                row.id = credential_id
            s.add(row)
        return self._view(row)

    def update(
        self, ctx: RequestContext, credential_id: str, changes: dict[str, Any]
    ) -> CredentialView:
        """Change ``blob``, ``type``, ``project_id`` (PATCH /v3/credentials/{id}); the
        owner cannot change (400 for ``user_id``, as a credential never moves between users
        in Keystone's default policy). Raises as ``create``; an ``ec2`` credential's access
        key cannot change (400: its id is derived from it)."""
        with self.db.transaction() as s:
            row = _get(s, credential_id)
            if changes.get("user_id") not in (None, row.user_id):
                raise exc.ValidationError("A credential's user_id cannot be changed.")
            type_ = changes.get("type") or row.type
            blob = changes.get("blob")
            if blob is None:
                blob = self.keys.decrypt(row.encrypted_blob).decode()
            if type_ == "ec2" and ec2_id(_ec2_blob(blob)["access"]) != row.id:
                raise exc.ValidationError("An ec2 credential's access key cannot change.")
            if changes.get("project_id") and s.get(Project, changes["project_id"]) is None:
                raise exc.ProjectNotFound(f"Could not find project: {changes['project_id']}.")
            row.type = type_
            row.encrypted_blob = self.keys.encrypt(blob.encode())
            if "project_id" in changes:
                row.project_id = changes["project_id"]
        return self._view(row)

    def delete(self, ctx: RequestContext, credential_id: str) -> None:
        """Delete a credential; raises ``CredentialNotFound``."""
        with self.db.transaction() as s:
            s.delete(_get(s, credential_id))

    # -- OS-EC2 ----------------------------------------------------------------------------
    def ec2_create(self, ctx: RequestContext, user_id: str, project_id: str) -> CredentialView:
        """A new EC2 access/secret pair of ``user_id`` for ``project_id`` (POST
        /v3/users/{user_id}/credentials/OS-EC2 ``{"tenant_id"}``): 32 hex characters each,
        as Keystone makes them. Raises ``UserNotFound``, ``ProjectNotFound``;
        ``ForbiddenAction`` (403) for a token from a restricted application credential,
        which could otherwise mint a secret that outlives its own."""
        if not ctx.may_delegate:
            raise exc.ForbiddenAction(
                "A token from a restricted application credential cannot create EC2 credentials."
            )
        access, secret = secrets.token_hex(16), secrets.token_hex(16)
        blob = json.dumps({"access": access, "secret": secret, "trust_id": None})
        return self.create(ctx, user_id, "ec2", blob, project_id)

    def ec2_list(self, ctx: RequestContext, user_id: str) -> builtins.list[CredentialView]:
        """The user's ``ec2`` credentials; raises ``UserNotFound``."""
        with self.db.reader() as s:
            get_user(s, user_id)
        return self.list(ctx.elevated(), user_id, "ec2")

    def ec2_get(self, ctx: RequestContext, user_id: str, access: str) -> CredentialView:
        """The user's ``ec2`` credential of ``access``; raises ``UserNotFound`` or
        ``CredentialNotFound`` (also when the access key is another user's)."""
        with self.db.reader() as s:
            get_user(s, user_id)
            row = s.get(Credential, ec2_id(access))
            if row is None or row.user_id != user_id or row.type != "ec2":
                raise exc.CredentialNotFound(f"Could not find credential: {access}.")
        return self._view(row)

    def ec2_delete(self, ctx: RequestContext, user_id: str, access: str) -> None:
        """Delete the user's ``ec2`` credential of ``access``; raises as ``ec2_get``."""
        self.ec2_get(ctx, user_id, access)
        self.delete(ctx, ec2_id(access))
