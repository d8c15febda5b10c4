"""Fernet tokens: issue, validate (with a short in-memory cache) and revoke.

Token format
    A Fernet token (AES-128-CBC + HMAC-SHA256, ``cryptography.fernet``) over a compact JSON
    payload: ``u`` user id, ``m`` auth methods, ``p`` project id or ``d`` domain id (scope),
    ``i`` issued-at and ``e`` expires-at (UNIX seconds, float), ``a`` audit ids (this
    token's, then its parent's when rescoped), ``c`` application credential id, ``s``
    (``"all"``) for a system-scoped token, ``t`` the trust id of a trust-scoped token
    (OS-TRUST; ``u`` is then the trustor when the trust impersonates, else the trustee), ``o``
    the OS-OAUTH1 access token of a token got with one (``u`` its authorizing user). Roles are
    not in the token: they are recomputed at validation (see "Validation cost" for when a
    change of roles is seen).

Keys and rotation
    Keys live in ``<state_dir>/keys/``, one file per key named by an integer, mode 0600. The
    highest number is the primary key (encrypts new tokens); every key decrypts. Key ``0`` is
    created on first use (atomically: several controllers sharing the directory agree on one
    key). To rotate: ``TokenProvider.rotate_keys()`` (or write a new file ``N+1`` with
    ``Fernet.generate_key()``); other processes load new keys when a token fails to decrypt
    with the keys they know (at most every few seconds). Remove an old key only after
    ``token_expiration`` seconds, when no valid token can use it any more.

Validation cost and its trade-off
    Validation runs on every API call. A validated token's context is cached in memory for
    ``CACHE_TTL`` seconds (keyed by the token string). Revocation is checked on every call,
    cache hits included, against an in-memory copy of the revocation events that is
    refreshed from the database at most every ``REVOCATION_REFRESH`` seconds (one indexed
    ``id > last`` query), and at once in the process that records one.

    Changes that are not revocations but change what a token may do (a role assignment
    granted or revoked, group membership, a role or an implication deleted) record an
    *invalidation* event: a revocation event matching no token. Whenever a refresh loads
    any new event, the process's cache generation moves on and every context cached before
    is recomputed at its next use (a context being built while the event arrives is never
    cached as current). So the controller that made the change sees it on the very next
    request and the others within ``REVOCATION_REFRESH`` seconds; a token keeps working
    after losing a role as long as some role on its project is left (401 when none is).
    Only a rename of a project or user may stay visible for ``CACHE_TTL`` seconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pocketstack.common.auth import RequestContext
from pocketstack.common.config import Config
from pocketstack.common.db import Database, utcnow
from pocketstack.common.errors import Unauthorized
from pocketstack.identity.assignment import SYSTEM_ID, effective_roles
from pocketstack.identity.assignment_list import Ref
from pocketstack.identity.models import (
    ApplicationCredential,
    Domain,
    Project,
    RevocationEvent,
    Trust,
    User,
)
from pocketstack.identity.oauth1_models import AccessToken

LOG = logging.getLogger(__name__)

#: Seconds a validated token's context is reused without touching the database.
CACHE_TTL = 5.0
#: Seconds between refreshes of the in-memory revocation list from the database.
REVOCATION_REFRESH = 1.0
#: Most cached contexts kept; the cache is emptied when it grows past this.
CACHE_MAX = 20000
#: Seconds between key directory reloads triggered by undecryptable tokens.
KEY_RELOAD_INTERVAL = 5.0


def new_audit_id() -> str:
    """A 22-character URL-safe audit id (Keystone's form)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


@dataclass
class TokenPayload:
    """What a token says: who, scope, how, when. Times are UNIX seconds (float)."""

    user_id: str
    methods: list[str]
    expires_at: float
    issued_at: float = field(default_factory=time.time)
    audit_ids: list[str] = field(default_factory=lambda: [new_audit_id()])
    project_id: str | None = None
    domain_id: str | None = None
    app_cred_id: str | None = None
    system: bool = False
    trust_id: str | None = None
    oauth_id: str | None = None

    def pack(self) -> bytes:
        """The compact JSON sealed in the Fernet token (keys u, m, e, i, a, p, d, c, s, t, o)."""
        data: dict[str, Any] = {
            "u": self.user_id,
            "m": self.methods,
            "e": self.expires_at,
            "i": self.issued_at,
            "a": self.audit_ids,
        }
        for key, value in (
            ("p", self.project_id),
            ("d", self.domain_id),
            ("c", self.app_cred_id),
            ("t", self.trust_id),
            ("o", self.oauth_id),
        ):
            if value:
                data[key] = value
        if self.system:
            data["s"] = "all"
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def unpack(cls, raw: bytes) -> TokenPayload:
        """Inverse of ``pack``; raises KeyError/ValueError on a malformed payload."""
        d = json.loads(raw)
        return cls(
            user_id=d["u"],
            methods=list(d["m"]),
            expires_at=float(d["e"]),
            issued_at=float(d["i"]),
            audit_ids=list(d["a"]),
            project_id=d.get("p"),
            domain_id=d.get("d"),
            app_cred_id=d.get("c"),
            system=d.get("s") == "all",
            trust_id=d.get("t"),
            oauth_id=d.get("o"),
        )


@dataclass(frozen=True)
class DomainScopedRef:
    """The id and name of a token's user or project, and its domain."""

    id: str
    name: str
    domain: Ref


@dataclass(frozen=True)
class AppCredRef:
    """The application credential a token was obtained with."""

    id: str
    name: str
    restricted: bool


@dataclass(frozen=True)
class TrustRef:
    """The trust of a trust-scoped token (its ``OS-TRUST:trust`` section)."""

    id: str
    impersonation: bool
    trustor_id: str
    trustee_id: str


@dataclass(frozen=True)
class OAuthRef:
    """The OS-OAUTH1 access token a token was got with (its ``OS-OAUTH1`` section)."""

    access_token_id: str
    consumer_id: str


@dataclass
class TokenInfo:
    """A validated token: payload, the caller's context and the names for the token body
    (``api/views.py`` renders Keystone's token body from it).

    ``project`` or ``domain`` is the scope, or ``system`` is True (none: unscoped); ``roles``
    are the effective roles on it; ``app_cred`` is set for a token from an application credential,
    ``trust`` for a trust-scoped one, ``oauth`` for one got with an OS-OAUTH1 access token.
    """

    payload: TokenPayload
    context: RequestContext
    user: DomainScopedRef
    roles: list[Ref]
    project: DomainScopedRef | None = None
    domain: Ref | None = None
    app_cred: AppCredRef | None = None
    system: bool = False
    trust: TrustRef | None = None
    oauth: OAuthRef | None = None


class KeyRing:
    """The Fernet keys in ``<state_dir>/keys`` (see the module docstring)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._lock = threading.Lock()
        self._fernet: MultiFernet | None = None
        self._loaded_at = 0.0

    def _ensure(self) -> MultiFernet:
        if self._fernet is None:
            with self._lock:
                if self._fernet is None:
                    self._load()
        assert self._fernet is not None
        return self._fernet

    def _key_files(self) -> list[Path]:
        files = [p for p in self.directory.glob("*") if p.name.isdigit()]
        return sorted(files, key=lambda p: int(p.name), reverse=True)

    def _load(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self._key_files():
            self._write_key(0)
        keys = [Fernet(p.read_bytes().strip()) for p in self._key_files()]
        self._fernet = MultiFernet(keys)
        self._loaded_at = time.monotonic()

    def _write_key(self, number: int) -> None:
        tmp = self.directory / f".tmp-{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
        try:
            os.link(tmp, self.directory / str(number))  # atomic; fails if another won
        except FileExistsError:
            pass
        finally:
            tmp.unlink()

    def rotate(self) -> None:
        """Add a new primary key (the next number); older keys keep decrypting."""
        with self._lock:
            self._ensure_dir_loaded()
            files = self._key_files()
            self._write_key(int(files[0].name) + 1 if files else 0)
            self._load()

    def _ensure_dir_loaded(self) -> None:
        if self._fernet is None:
            self._load()

    def encrypt(self, data: bytes) -> str:
        """Encrypt with the primary key."""
        return self._ensure().encrypt(data).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        """Decrypt with any key; raises ``InvalidToken``."""
        fernet = self._ensure()
        try:
            return fernet.decrypt(token.encode("ascii"))
        except InvalidToken:
            if time.monotonic() - self._loaded_at < KEY_RELOAD_INTERVAL:
                raise
            with self._lock:
                self._load()
            return self._ensure().decrypt(token.encode("ascii"))


class Revocations:
    """In-memory copy of the revocation events, refreshed incrementally (see module doc).

    ``generation`` counts the refreshes that loaded new events: a cached context built
    under an older generation may be out of date.
    """

    def __init__(self, db: Database, retention: float, clock: Callable[[], float] = time.monotonic):
        self.db = db
        self.retention = retention
        self.clock = clock
        self.generation = 0
        self._lock = threading.Lock()
        self._last_id = 0
        self._refreshed: float | None = None
        self.audit_ids: set[str] = set()
        self.app_creds: set[str] = set()
        self.users: dict[str, float] = {}
        self.projects: dict[str, float] = {}

    def refresh(self, force: bool = False) -> None:
        """Load events newer than the last seen one (at most every REVOCATION_REFRESH s, or
        now with ``force``); new events move ``generation`` on."""
        last = self._refreshed
        if not force and last is not None and self.clock() - last < REVOCATION_REFRESH:
            return
        if not self._lock.acquire(blocking=force):
            return  # another thread is refreshing; use what we have
        try:
            self._refreshed = self.clock()
            with self.db.reader() as s:
                rows = s.scalars(
                    sa.select(RevocationEvent)
                    .where(RevocationEvent.id > self._last_id)
                    .order_by(RevocationEvent.id)
                ).all()
            for ev in rows:
                self._add(ev)
            if rows:
                self.generation += 1
        finally:
            self._lock.release()

    def _add(self, ev: RevocationEvent) -> None:
        self._last_id = max(self._last_id, ev.id)
        before = ev.issued_before.replace(tzinfo=dt.UTC).timestamp()
        if ev.audit_id:
            self.audit_ids.add(ev.audit_id)
        if ev.app_cred_id:
            self.app_creds.add(ev.app_cred_id)
        if ev.user_id:
            self.users[ev.user_id] = max(before, self.users.get(ev.user_id, 0.0))
        if ev.project_id:
            self.projects[ev.project_id] = max(before, self.projects.get(ev.project_id, 0.0))

    def is_revoked(self, p: TokenPayload) -> bool:
        """Whether any event matches the token."""
        if any(a in self.audit_ids for a in p.audit_ids):
            return True
        if p.app_cred_id and p.app_cred_id in self.app_creds:
            return True
        if p.issued_at <= self.users.get(p.user_id, -1.0):
            return True
        return bool(p.project_id and p.issued_at <= self.projects.get(p.project_id, -1.0))

    def record(self, **match: str) -> None:
        """Insert one event (``audit_id=``, ``user_id=``, ``project_id=`` or
        ``app_cred_id=``; none for an invalidation) and apply it here at once; prunes
        events past retention."""
        now = utcnow()
        with self.db.transaction() as s:
            s.add(RevocationEvent(issued_before=now, created_at=now, **match))
            cutoff = now.replace(tzinfo=dt.UTC).timestamp() - self.retention
            s.execute(
                sa.delete(RevocationEvent).where(RevocationEvent.created_at < _from_ts(cutoff))
            )
        self.refresh(force=True)


class TokenProvider:
    """Issues and validates Fernet tokens; implements ``common.auth.TokenValidator``.

    Args:
        conf: uses ``state_dir`` (keys) and ``token_expiration`` (seconds).
        db: the identity tables.
        clock: monotonic seconds for the cache and the refresh interval.
        wall_clock: UNIX seconds for issue and expiry times. (Tests pass their own clocks to
            move time instead of sleeping.)
    """

    def __init__(
        self,
        conf: Config,
        db: Database,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.conf = conf
        self.db = db
        self.clock = clock
        self.wall_clock = wall_clock
        self.keys = KeyRing(Path(conf.state_dir, "keys"))
        self.revocations = Revocations(db, 2.0 * conf.token_expiration + 60, clock)
        # token -> (info, cached at, revocation generation it was built under)
        self._cache: dict[str, tuple[TokenInfo, float, int]] = {}
        self._cache_generation = 0

    # -- issue ---------------------------------------------------------------------------
    def issue(self, payload: TokenPayload) -> str:
        """The token string for ``payload`` (encrypted with the primary key)."""
        return self.keys.encrypt(payload.pack())

    def new_payload(self, user_id: str, methods: list[str], **scope: Any) -> TokenPayload:
        """A payload expiring ``conf.token_expiration`` seconds from now."""
        now = self.wall_clock()
        return TokenPayload(
            user_id=user_id,
            methods=methods,
            issued_at=now,
            expires_at=now + self.conf.token_expiration,
            **scope,
        )

    # -- validate ------------------------------------------------------------------------
    def decode(self, token: str) -> TokenPayload:
        """Decrypt and parse; raises ``Unauthorized`` when malformed, tampered or expired."""
        try:
            payload = TokenPayload.unpack(self.keys.decrypt(token))
        except (InvalidToken, ValueError, KeyError, TypeError, UnicodeError):
            raise Unauthorized("The request you have made requires authentication.") from None
        if payload.expires_at <= self.wall_clock():
            raise Unauthorized("The token has expired.")
        return payload

    def validate(self, token: str) -> RequestContext:
        """The caller's context for ``token``; raises ``Unauthorized`` (see module doc)."""
        return self.inspect(token).context

    def inspect(self, token: str) -> TokenInfo:
        """Full validation result (for GET /v3/auth/tokens and rescoping).

        Raises:
            Unauthorized: malformed, tampered, expired, revoked, user or project disabled or
                deleted, or no role left on the project.
        """
        self.revocations.refresh()
        generation = self.revocations.generation
        if generation != self._cache_generation:
            self._cache.clear()  # contexts of an older generation may be out of date
            self._cache_generation = generation
        now = self.clock()
        hit = self._cache.get(token)
        if hit is not None and hit[2] == generation and now - hit[1] < CACHE_TTL:
            info = hit[0]
            if info.payload.expires_at <= self.wall_clock():
                raise Unauthorized("The token has expired.")
        else:
            payload = self.decode(token)
            info = self._build(payload)
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[token] = (info, now, generation)
        if self.revocations.is_revoked(info.payload):
            raise Unauthorized("The token has been revoked.")
        return info

    def _build(self, p: TokenPayload) -> TokenInfo:
        with self.db.reader() as s:
            user = s.get(User, p.user_id)
            if user is None or not user.enabled or not _domain_enabled(s, user.domain_id):
                raise Unauthorized("The user of this token is disabled or deleted.")
            info = TokenInfo(
                payload=p,
                context=RequestContext(),
                user=DomainScopedRef(user.id, user.name, _domain_ref(s, user.domain_id)),
                roles=[],
            )
            restrict = None
            roles_of = user.id  # whose roles the token carries: the trustor's for a trust
            if p.app_cred_id:
                restrict = self._app_cred(s, p, info)
            if p.trust_id:
                restrict, roles_of = self._trust(s, p, info)
            if p.oauth_id:
                restrict = self._oauth(s, p, info)
            if p.project_id:
                project = s.get(Project, p.project_id)
                if (
                    project is None
                    or not project.enabled
                    or not _domain_enabled(s, project.domain_id)
                ):
                    raise Unauthorized("The project of this token is disabled or deleted.")
                info.project = DomainScopedRef(
                    project.id, project.name, _domain_ref(s, project.domain_id)
                )
                roles = effective_roles(s, roles_of, "project", project.id, restrict)
            elif p.domain_id:
                if not _domain_enabled(s, p.domain_id):
                    raise Unauthorized("The domain of this token is disabled or deleted.")
                info.domain = _domain_ref(s, p.domain_id)
                roles = effective_roles(s, user.id, "domain", p.domain_id)
            elif p.system:
                info.system = True
                roles = effective_roles(s, user.id, "system", SYSTEM_ID)
            else:
                roles = []
            if (p.project_id or p.domain_id or p.system) and not roles:
                raise Unauthorized("The user has no role on the scope of this token.")
            info.roles = [Ref(r.id, r.name) for r in roles]
        info.context = _context(info)
        return info

    @staticmethod
    def _app_cred(s: Any, p: TokenPayload, info: TokenInfo) -> list[str]:
        cred = s.get(ApplicationCredential, p.app_cred_id)
        if cred is None or (cred.expires_at is not None and cred.expires_at <= utcnow()):
            raise Unauthorized("The application credential of this token is gone.")
        info.app_cred = AppCredRef(cred.id, cred.name, not cred.unrestricted)
        return list(cred.roles)

    @staticmethod
    def _trust(s: Any, p: TokenPayload, info: TokenInfo) -> tuple[list[str], str]:
        """``(the trust's role ids, the trustor's id)``; Unauthorized when the trust is
        deleted or expired, or its trustor or trustee disabled or deleted."""
        trust = s.get(Trust, p.trust_id)
        if trust is None or (trust.expires_at is not None and trust.expires_at <= utcnow()):
            raise Unauthorized("The trust of this token is gone or expired.")
        for party in (trust.trustor_user_id, trust.trustee_user_id):
            row = s.get(User, party)
            if row is None or not row.enabled:
                raise Unauthorized("A party to the trust of this token is disabled or deleted.")
        info.trust = TrustRef(
            trust.id, trust.impersonation, trust.trustor_user_id, trust.trustee_user_id
        )
        return list(trust.roles), trust.trustor_user_id

    @staticmethod
    def _oauth(s: Any, p: TokenPayload, info: TokenInfo) -> list[str]:
        """The delegated role ids of the token's OS-OAUTH1 access token; Unauthorized when
        the access token (or its consumer) is deleted or expired."""
        row = s.get(AccessToken, p.oauth_id)
        if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
            raise Unauthorized("The OAuth access token of this token is gone or expired.")
        info.oauth = OAuthRef(row.id, row.consumer_id)
        return list(row.role_ids)

    # -- revoke --------------------------------------------------------------------------
    def revoke_token(self, token: str) -> None:
        """Revoke one token and the tokens rescoped from it (DELETE /v3/auth/tokens).

        Raises ``Unauthorized`` (Keystone answers 404 for an invalid subject token; the
        API maps this) when the token does not validate.
        """
        payload = self.decode(token)
        self.revocations.record(audit_id=payload.audit_ids[-1])
        self._cache.pop(token, None)

    def revoke_user(self, user_id: str) -> None:
        """Revoke every token of a user issued until now (delete, disable, new password)."""
        self.revocations.record(user_id=user_id)

    def revoke_project(self, project_id: str) -> None:
        """Revoke every token scoped to a project issued until now (delete, disable)."""
        self.revocations.record(project_id=project_id)

    def revoke_app_cred(self, app_cred_id: str) -> None:
        """Revoke every token obtained with an application credential (delete)."""
        self.revocations.record(app_cred_id=app_cred_id)

    def invalidate(self) -> None:
        """Have every controller recompute the contexts it cached (roles, scope) at their
        next use: here at once, elsewhere within ``REVOCATION_REFRESH`` seconds. For changes
        that alter what tokens may do without revoking them (role assignments, group
        membership, roles and implications)."""
        self.revocations.record()

    def rotate_keys(self) -> None:
        """Add a new primary Fernet key (see "Keys and rotation")."""
        self.keys.rotate()


def _context(info: TokenInfo) -> RequestContext:
    project, domain, app_cred = info.project, info.domain, info.app_cred
    domain_id = project.domain.id if project else (domain.id if domain else None)
    return RequestContext(
        user_id=info.user.id,
        user_name=info.user.name,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        domain_id=domain_id,
        roles=tuple(r.name for r in info.roles if r.name is not None),
        app_cred_id=app_cred.id if app_cred else None,
        app_cred_restricted=bool(app_cred and app_cred.restricted),
        system_scope=info.system,
        oauth_access_token_id=info.oauth.access_token_id if info.oauth else None,
    )


def _domain_ref(s: Any, domain_id: str) -> Ref:
    dom = s.get(Domain, domain_id)
    return Ref(domain_id, dom.name if dom else None)


def _domain_enabled(s: Any, domain_id: str) -> bool:
    dom = s.get(Domain, domain_id)
    return dom is not None and dom.enabled


def _from_ts(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC).replace(tzinfo=None)
