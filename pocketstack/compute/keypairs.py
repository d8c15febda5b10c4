"""Keypairs: SSH public keys of a user (Nova ``os-keypairs``, API reference "Keypairs").

Keypairs belong to a user, not a project. ``create`` either imports a public key (which may
hold several keys, one per line: all are kept and each is validated; the fingerprint is the
first key's) or generates an RSA 2048 key pair and returns the private key once.
Fingerprints are Nova's: the MD5 of the key blob as colon-separated hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import TYPE_CHECKING

import sqlalchemy as sa
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pocketstack.common import errors, paging
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database
from pocketstack.compute import keypairs_x509
from pocketstack.compute.models import KeyPair

if TYPE_CHECKING:
    from pocketstack.service import Cloud

_NAME_RE = re.compile(r"^[a-zA-Z0-9 _\-.@]{1,255}$")


class KeypairNotFound(errors.NotFound):
    """404: the user has no keypair of this name."""


class KeypairExists(errors.Conflict):
    """409: the user already has a keypair of this name."""


class InvalidKeyName(errors.BadRequest):
    """400: a server create names a keypair the user does not have (Nova answers 400)."""

    def default_message(self) -> str:
        return "Invalid key_name provided."


class InvalidKeypair(errors.BadRequest):
    """400: a bad keypair name or public key."""


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint of one OpenSSH public key line: MD5 of the blob, colon hex.

    Raises:
        InvalidKeypair: the line is not ``<type> <base64> [comment]``.
    """
    parts = public_key.strip().split()
    if len(parts) < 2:
        raise InvalidKeypair("Keypair data is invalid: failed to generate fingerprint")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeypair("Keypair data is invalid: failed to generate fingerprint") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def validate_public_keys(text: str) -> list[str]:
    """The non-empty lines of ``text``, each a valid OpenSSH public key.

    Raises:
        InvalidKeypair: no key, or a line that is not a public key.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidKeypair("Keypair data is invalid: no public key given")
    for line in lines:
        try:
            serialization.load_ssh_public_key(line.encode())
        except (ValueError, TypeError, binascii.Error):
            raise InvalidKeypair(
                "Keypair data is invalid: failed to generate fingerprint"
            ) from None
        except UnsupportedAlgorithm:  # a key type cryptography does not know
            raise InvalidKeypair(
                f"Keypair data is invalid: unsupported key type {line.split()[0]!r}"
            ) from None
    return lines


def generate_key_pair() -> tuple[str, str]:
    """A new RSA 2048 key pair as ``(private PEM, public OpenSSH line)``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public + " Generated-by-Pocketstack"


def _key_material(name: str, key_type: str, public_key: str | None) -> tuple[str | None, str, str]:
    """``(private key or None, public key, fingerprint)`` of a keypair create: the given
    public key (an OpenSSH key, or a PEM certificate for ``x509``) validated, or a new pair.

    Raises:
        InvalidKeypair: the given key is not valid for ``key_type``.
    """
    private = None
    if key_type == "x509":
        if public_key is None:
            private, public_key = keypairs_x509.generate_x509(name)
        try:
            return private, public_key, keypairs_x509.x509_fingerprint(public_key)
        except errors.BadRequest as exc:
            raise InvalidKeypair(exc.message) from None
    if public_key is None:
        private, public_key = generate_key_pair()
    lines = validate_public_keys(public_key)
    return private, public_key, fingerprint(lines[0])


class Keypairs:
    """Keypair logic; ``cloud.compute.keypairs``. Returns detached ``KeyPair`` rows."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db

    @staticmethod
    def _owner(ctx: RequestContext, user_id: str | None) -> str:
        if user_id and user_id != ctx.user_id and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(
                "Policy doesn't allow os_compute_api:os-keypairs to be performed."
            )
        owner = user_id or ctx.user_id
        if owner is None:
            raise errors.BadRequest("A user is required to own keypairs.")
        return owner

    def get(
        self, ctx: RequestContext, name: str, user_id: str | None = None, *, for_boot: bool = False
    ) -> KeyPair:
        """The keypair ``name`` of ``user_id`` (default: the caller).

        Raises:
            KeypairNotFound: no such keypair (``InvalidKeyName``, 400, with ``for_boot``: the
            server-create case, as in Nova). errors.PolicyNotAuthorized: another user's
            keypair asked for by a non-admin.
        """
        owner = self._owner(ctx, user_id)
        with self.db.reader() as s:
            kp = s.scalars(
                sa.select(KeyPair).where(KeyPair.user_id == owner, KeyPair.name == name)
            ).first()
        if kp is None:
            if for_boot:
                raise InvalidKeyName()
            raise KeypairNotFound(f"Keypair {name} not found for user {owner}")
        return kp

    def list(
        self,
        ctx: RequestContext,
        user_id: str | None = None,
        *,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[KeyPair]:
        """The user's keypairs sorted by name; ``marker`` is a keypair name (paged in SQL,
        ``common.paging``).

        Raises:
            KeypairNotFound: the marker is not one of the user's keypairs.
        """
        owner = self._owner(ctx, user_id)
        query = sa.select(KeyPair).where(KeyPair.user_id == owner)
        with self.db.reader() as s:
            page = paging.paginate(
                s,
                query,
                [(KeyPair.name, paging.ASC)],  # a user's names are unique: no tie to break
                limit=limit,
                marker=marker,
                marker_row=lambda s, name: s.scalars(query.where(KeyPair.name == name)).first(),
                marker_missing=lambda name: KeypairNotFound(f"Marker {name} could not be found."),
            )
            return list(s.scalars(page))

    def create(
        self,
        ctx: RequestContext,
        name: str,
        public_key: str | None = None,
        key_type: str = "ssh",
        user_id: str | None = None,
    ) -> tuple[KeyPair, str | None]:
        """Import ``public_key`` or generate a key pair for the caller (or ``user_id``).

        Returns ``(keypair, private_key)``; ``private_key`` is None for an import.

        Raises:
            InvalidKeypair: bad name or key. KeypairExists: name taken.
            errors.QuotaExceeded: over the ``key_pairs`` quota.
        """
        owner = self._owner(ctx, user_id)
        if not isinstance(name, str) or not _NAME_RE.match(name) or name.strip() != name:
            raise InvalidKeypair("Keypair data is invalid: Keypair name contains unsafe characters")
        if key_type not in ("ssh", "x509"):
            raise InvalidKeypair(f"Keypair data is invalid: unsupported key type {key_type}")
        private, public_key, print_ = _key_material(name, key_type, public_key)
        keypair = KeyPair(
            name=name,
            user_id=owner,
            fingerprint=print_,
            public_key=public_key,  # exactly as given (Ansible compares it on a re-run)
            type=key_type,
        )
        with self.db.transaction() as s:
            exists = s.scalars(
                sa.select(KeyPair.id).where(KeyPair.user_id == owner, KeyPair.name == name)
            ).first()
            if exists is not None:
                raise KeypairExists(f"Key pair '{name}' already exists.")
            used = (
                s.scalar(
                    sa.select(sa.func.count()).select_from(KeyPair).where(KeyPair.user_id == owner)
                )
                or 0
            )
            self.cloud.compute.quotas.check_keypairs(ctx, ctx.project_id, used + 1)
            s.add(keypair)
        return keypair, private

    def delete(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        """Delete the keypair. Raises KeypairNotFound."""
        owner = self._owner(ctx, user_id)
        with self.db.transaction() as s:
            kp = s.scalars(
                sa.select(KeyPair).where(KeyPair.user_id == owner, KeyPair.name == name)
            ).first()
            if kp is None:
                raise KeypairNotFound(f"Keypair {name} not found for user {owner}")
            s.delete(kp)
