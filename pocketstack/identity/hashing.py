"""Hashing of user passwords and application credential secrets (bcrypt).

bcrypt reads at most 72 bytes; longer secrets are first reduced to the base64 of their
SHA-256 digest (44 bytes), so that no two long secrets sharing a 72-byte prefix collide.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets

import bcrypt

#: the default bcrypt cost factor (2**ROUNDS iterations; ``[identity] password_hash_rounds``
#: sets it, as Keystone's option of that name does); 10 is ~50 ms on one core.
ROUNDS = 10

#: A bcrypt hash of cost ``ROUNDS`` of a random secret nobody knows. Authentication checks
#: the given secret against it when there is no real hash to check (unknown or disabled user,
#: user without a password, unknown application credential), so that those answers cost one
#: bcrypt verification like a wrong password does and do not tell which names exist.
DUMMY_HASH = "$2b$10$6yfUvoUMnaJ.xVi3TGm5pulgQsh9YagtgmL/GHvlVgu46mehWzL2q"


def _prepare(secret: str) -> bytes:
    raw = secret.encode("utf-8")
    if len(raw) > 72:
        raw = base64.b64encode(hashlib.sha256(raw).digest())
    return raw


@functools.cache
def dummy_hash(rounds: int) -> str:
    """A hash of cost ``rounds`` of a random secret nobody knows (``DUMMY_HASH`` for
    ``ROUNDS``; another cost gets one made on first use)."""
    if rounds == ROUNDS:
        return DUMMY_HASH
    return bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(rounds)).decode("ascii")


def hash_secret(secret: str, rounds: int = ROUNDS) -> str:
    """The bcrypt hash of ``secret`` of cost ``rounds`` (4-31) as text (``$2b$10$...``).

    Raises:
        ValueError: ``rounds`` outside 4-31.
    """
    return bcrypt.hashpw(_prepare(secret), bcrypt.gensalt(rounds)).decode("ascii")


def check_secret(secret: str, hashed: str | None, rounds: int = ROUNDS) -> bool:
    """Whether ``secret`` matches ``hashed``. Without a hash (or with a secret that is not a
    string) the secret is checked against ``dummy_hash(rounds)`` (``rounds``: the cost new
    hashes get), so the answer (False) takes as long as a real check."""
    if not hashed or not isinstance(secret, str):
        dummy = dummy_hash(rounds).encode()
        bcrypt.checkpw(_prepare(secret if isinstance(secret, str) else ""), dummy)
        return False
    try:
        return bcrypt.checkpw(_prepare(secret), hashed.encode("ascii"))
    except ValueError:
        return False


def generate_secret() -> str:
    """A new random secret for an application credential (64 URL-safe characters)."""
    return secrets.token_urlsafe(48)
