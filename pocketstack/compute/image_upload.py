"""A compute agent's upload of a snapshot to the Image API (``createImage``).

``PUT /image/v2/images/{id}/file`` ("Upload binary image data") of a local file, with the
token of the compute service's own user (``service_auth.ServiceAuth``; it is admin, so it
may fill an image that the server's project owns), as ``image_cache`` downloads. A token
refused with 401 is dropped and the upload tried once more with a new one.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.image_cache import TokenSource

#: seconds one read or write of the upload may block
UPLOAD_TIMEOUT = 120.0


class _Unauthorized(DriverError):
    """The image service refused the token (401)."""


def upload_image(url: str, path: Path, auth: TokenSource | str | None) -> None:
    """Upload the file ``path`` as the data of the queued image at ``url`` (its ``/file``).

    Args:
        auth: the agent's token source, or a fixed token (None: no token).

    Raises:
        DriverError: the image service refused (the image is no longer queued, deleted...)
            or could not be reached, or no token could be had.
    """
    if auth is None or isinstance(auth, str):
        _put(url, path, auth)
        return
    try:
        _put(url, path, auth.token())
    except _Unauthorized:
        auth.invalidate()
        _put(url, path, auth.token())


def _put(url: str, path: Path, token: str | None) -> None:
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as body:
            request = urllib.request.Request(
                url,
                data=body,
                method="PUT",
                headers={
                    "X-Auth-Token": token or "",
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(size),
                },
            )
            with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT) as resp:
                resp.read()
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, urllib.error.HTTPError) and exc.code == 401:
            raise _Unauthorized(f"Uploading the snapshot to {url} failed: {exc}") from exc
        raise DriverError(f"Uploading the snapshot to {url} failed: {exc}") from exc
