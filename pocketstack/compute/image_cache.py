"""Images on a compute host: the image store's file when it is local, else a cached download.

A remote agent (``pocketstack compute`` on another machine) has no access to the image store,
so it downloads ``GET /image/v2/images/{id}/file`` into ``<state_dir>/images/cache/<id>`` (a
temporary file, renamed when complete, so a crash never leaves a half image under the final
name). One download per image at a time.

The download carries a token of the compute service's own user (``service_auth.ServiceAuth``,
as Nova's image API calls use its ``[service_user]``), asked for only when a download is
needed; a token refused with 401 (revoked, expired early) is dropped and the download tried
once more with a new one. Nothing of the requesting user's travels with the spec.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from pocketstack.compute.drivers.base import DriverError


class TokenSource(Protocol):
    """Where downloads get their token (``service_auth.ServiceAuth``)."""

    def token(self) -> str:
        """A valid token; raises DriverError when none can be had."""
        ...

    def invalidate(self) -> None:
        """Forget the current token (it was refused)."""
        ...


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(image_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(image_id, threading.Lock())


def ensure_image(conf: Any, image: dict[str, Any], auth: TokenSource | str | None) -> str:
    """A local path of ``image`` (the spec's ``image`` dict: id, path, url).

    Args:
        auth: the token source of downloads (the agent's ``ServiceAuth``), or a fixed token
            (None: no token).

    Raises:
        DriverError: the image is not local and the download failed (or no token could be
            had for it).
    """
    path = image.get("path")
    if path and os.path.exists(path):
        return str(path)
    cached = Path(conf.state_dir, "images", "cache", image["id"])
    with _lock(image["id"]):
        if cached.exists():
            return str(cached)
        if not image.get("url"):
            raise DriverError(f"Image {image['id']} is not available on this host.")
        cached.parent.mkdir(parents=True, exist_ok=True)
        _download_with(auth, image["url"], cached)
    return str(cached)


def _download_with(auth: TokenSource | str | None, url: str, dest: Path) -> None:
    """``_download`` with a token of ``auth``; a token source's token refused with 401 is
    invalidated and the download tried once more with a new one."""
    if auth is None or isinstance(auth, str):
        _download(url, auth, dest)
        return
    try:
        _download(url, auth.token(), dest)
    except _Unauthorized:
        auth.invalidate()
        _download(url, auth.token(), dest)


class _Unauthorized(DriverError):
    """The image service refused the token (401)."""


def _download(url: str, token: str | None, dest: Path) -> None:
    """Download ``url`` to ``dest`` through a temporary file, removed whatever happens.

    Raises:
        DriverError: the image service refused or could not be reached, the connection broke
            or the disk is full (``OSError``: ``URLError``, ``HTTPError`` and timeouts are
            ones; ``HTTPException``: a malformed answer), or the body was shorter than its
            ``Content-Length``. Anything else is a bug and propagates as it is.
    """
    request = urllib.request.Request(url, headers={"X-Auth-Token": token or ""})
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as resp:
            shutil.copyfileobj(resp, out, 1024 * 1024)
            if resp.length:  # http.client ends a short body silently: never cache half an image
                raise DriverError(
                    f"Downloading image from {url} failed: the connection closed "
                    f"{resp.length} bytes before the end."
                )
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, urllib.error.HTTPError) and exc.code == 401:
            raise _Unauthorized(f"Downloading image from {url} failed: {exc}") from exc
        raise DriverError(f"Downloading image from {url} failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):  # renamed into place: nothing left
            os.unlink(tmp)
