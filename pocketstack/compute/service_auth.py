"""The compute service's own Keystone token, for what an agent fetches over HTTP (images).

A compute agent downloads images from the Image API with a token of its *service user*
(``[service_user]`` in the configuration, as Nova's ``[service_user]`` section), not with the
token of the user who asked for the server: a user's token is not the agent's to keep (it
would have to travel on the bus) and is gone when a spawn is retried or re-done after a
restart. Identity bootstrap creates that user (``nova``, admin on project ``service``, as
devstack does) with the password of ``[service_user] password``.

``ServiceAuth.token()`` gets a project-scoped token with ``POST {auth_url}/v3/auth/tokens``
(password method, domain ``default``) and keeps it until ``REFRESH_MARGIN`` seconds before
its ``expires_at``; ``invalidate()`` drops it (the image service answered 401: revoked).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from pocketstack.compute.drivers.base import DriverError

#: seconds before its expiry a cached token is replaced
REFRESH_MARGIN = 300.0


class ServiceAuth:
    """Tokens of the service user named by ``conf`` (thread-safe; one request at a time).

    Args:
        conf: supplies ``service_user_name``, ``service_user_password``,
            ``service_user_project`` and ``service_auth_url`` (default: ``public_url`` +
            ``/identity``).
        clock: seconds since the epoch (tests inject one).
    """

    def __init__(self, conf: Any, clock: Callable[[], float] = time.time):
        self.username: str = conf.service_user_name
        self.password: str = conf.service_user_password
        self.project: str = conf.service_user_project
        base = conf.service_auth_url or f"{conf.public_url.rstrip('/')}/identity"
        self.url = f"{base.rstrip('/')}/v3/auth/tokens"
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        """A valid token of the service user, from the cache or a new one.

        Raises:
            DriverError: no password is configured, Identity refused the credentials or
                could not be reached.
        """
        with self._lock:
            if self._token is None or self._clock() >= self._expires - REFRESH_MARGIN:
                self._token, self._expires = self._issue()
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the next ``token()`` gets a new one)."""
        with self._lock:
            self._token = None

    def _issue(self) -> tuple[str, float]:
        if not self.password:
            raise DriverError(
                "The compute service has no credentials to fetch images: set "
                "[service_user] password (POCKETSTACK_SERVICE_USER_PASSWORD)."
            )
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "domain": {"id": "default"},
                            "password": self.password,
                        }
                    },
                },
                "scope": {"project": {"name": self.project, "domain": {"id": "default"}}},
            }
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                token = resp.headers.get("X-Subject-Token")
                data = json.loads(resp.read() or b"{}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DriverError(
                f"The compute service user {self.username!r} could not get a token from "
                f"{self.url}: {exc}"
            ) from exc
        if not token:
            raise DriverError(f"{self.url} answered without an X-Subject-Token.")
        expires_at = (data.get("token") or {}).get("expires_at")
        if not expires_at:  # Keystone always sends it; else keep the token ten minutes
            return token, self._clock() + REFRESH_MARGIN + 600.0
        return token, _timestamp(expires_at)


def _timestamp(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (``2026-01-01T00:00:00.000000Z``)."""
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
