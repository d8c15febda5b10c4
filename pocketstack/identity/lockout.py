"""Password checks with an even cost and Keystone's lockout (``[security_compliance]``
``lockout_failure_attempts`` and ``lockout_duration``).

Even cost
    Every check makes exactly one bcrypt verification: against the user's hash, or against
    ``hashing.DUMMY_HASH`` when the user is unknown, disabled (or its domain is) or has no
    password. A failure then writes the failure count (for an unknown user the same
    statement matches no row). So an unknown name and a wrong password answer in about the
    same time, and the answer does not tell which names exist.

Lockout
    After ``lockout_failure_attempts`` failed checks in a row a user is locked out for
    ``lockout_duration`` seconds after the last one (0: until an admin unlocks it), even with
    the right password; a successful check resets the count, and so does an admin setting
    the user's password or ``enabled`` flag (``Users.update``). The count and the
    time of the last failure live in the user's row, so every controller sees them. Unlike
    Keystone, the "account is locked" message is given only to a caller who gave the right
    password: to anyone else a locked user looks like any failure, so locking a name out
    does not reveal that it exists. Failures while locked are not counted (they would
    extend the lock for ever).

Every failure is logged at WARNING with who was named (user id, or name and domain),
where the request came from and why, never the password.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.config import Config
from pocketstack.common.db import Database, utcnow
from pocketstack.identity import exceptions as exc
from pocketstack.identity.hashing import check_secret
from pocketstack.identity.models import Domain, User

LOG = logging.getLogger(__name__)


def log_failure(who: str, source: str | None, reason: str) -> None:
    """One WARNING line for a failed authentication (``who`` is quoted: it is the caller's
    text and may hold anything)."""
    LOG.warning("Authentication failed for %r from %s: %s", who, source or "unknown", reason)


class PasswordChecker:
    """Checks users' passwords (``cloud.identity.auth.passwords``).

    Args:
        conf: uses ``lockout_failure_attempts``, ``lockout_duration`` and
            ``password_hash_rounds`` (the cost of the dummy check when there is no hash).
        db: the identity tables.
        clock: naive UTC now (``common.db.utcnow``); tests pass their own.
    """

    def __init__(self, conf: Config, db: Database, clock: Callable[[], dt.datetime] = utcnow):
        self.attempts = int(conf.lockout_failure_attempts)
        self.duration = int(conf.lockout_duration)
        self.rounds = int(conf.password_hash_rounds)
        self.db = db
        self.clock = clock

    def check(
        self, s: Session, user: User | None, password: Any, who: str, source: str | None
    ) -> None:
        """Pass when ``password`` is ``user``'s and the user may log in.

        Args:
            s: an open session (to look at the user's domain).
            user: the user named by the request, or None when there is none.
            who: how the request named the user, for the log.
            source: the client's address, for the log.

        Raises:
            AccountLocked (401): the right password for a locked-out user.
            AuthenticationFailed (401): anything else that is not a success.
        """
        reason = self._unusable(s, user)
        hashed = user.password_hash if user and not reason else None
        ok = check_secret(password, hashed, self.rounds)
        if reason is None and user is not None and self.locked(user):
            log_failure(who, source, "account locked" + ("" if ok else ", wrong password"))
            if ok:
                raise exc.AccountLocked(user.id)
            raise exc.AuthenticationFailed()
        if not ok:
            self._record_failure(user.id if user is not None and reason is None else "")
            log_failure(who, source, reason or "wrong password")
            raise exc.AuthenticationFailed()
        if user is not None and user.failed_auth_count:
            self.unlock(user.id)

    def _unusable(self, s: Session, user: User | None) -> str | None:
        """Why ``user`` cannot log in with a password, or None."""
        if user is None:
            return "unknown user"
        if not user.enabled:
            return "user disabled"
        dom = s.get(Domain, user.domain_id)
        if dom is None or not dom.enabled:
            return "domain disabled"
        if not user.password_hash:
            return "user has no password"
        return None

    def locked(self, user: User) -> bool:
        """Whether ``user`` is locked out now (see the module doc)."""
        if self.attempts <= 0 or (user.failed_auth_count or 0) < self.attempts:
            return False
        if self.duration <= 0 or user.failed_auth_at is None:
            return True
        return user.failed_auth_at + dt.timedelta(seconds=self.duration) > self.clock()

    def _record_failure(self, user_id: str) -> None:
        """Count one failure; after an expired lock the count starts again at 1."""
        now = self.clock()
        count: Any = User.failed_auth_count + 1
        if self.attempts > 0 and self.duration > 0:
            expired = sa.and_(
                User.failed_auth_count >= self.attempts,
                User.failed_auth_at <= now - dt.timedelta(seconds=self.duration),
            )
            count = sa.case((expired, 1), else_=count)
        with self.db.transaction() as s:
            s.execute(
                sa.update(User)
                .where(User.id == user_id)
                .values(failed_auth_count=count, failed_auth_at=now)
            )

    def unlock(self, user_id: str) -> None:
        """Forget the user's failed logins (a success, or an admin's update)."""
        with self.db.transaction() as s:
            s.execute(
                sa.update(User)
                .where(User.id == user_id)
                .values(failed_auth_count=0, failed_auth_at=None)
            )
