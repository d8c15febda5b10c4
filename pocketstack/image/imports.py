"""Interoperable image import (Image API v2 "Interoperable image import"),
``cloud.image.imports``: ``POST /v2/images/{id}/import`` with method ``glance-direct``
(staged data, ``data.ImageData.import_``) or ``web-download`` (the data fetched from a
URI), each recorded as a task (``tasks.Tasks``).

``web-download`` follows Glance's URI filtering (``[import_filtering_opts]``): only ``http``
and ``https`` URIs whose host is in ``[image] image_import_allowed_hosts`` (default
``127.0.0.1,localhost``: nothing outside this machine), else 400 before anything changes.
The image (``queued``) goes ``importing`` while the data streams into the store through
the same lease, size cap and quota as an upload, then ``active``. The import runs before
the 202 returns; a download that fails (unreachable, an HTTP error, over a limit) puts the
image back to ``queued`` and its task to ``failure`` with the reason, as Glance's
asynchronous import leaves them.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import BadRequest
from pocketstack.image import states
from pocketstack.image.limits import LimitedReader

if TYPE_CHECKING:
    from pocketstack.image.data import ImageData
    from pocketstack.image.tasks import Tasks

#: seconds to wait for the remote server (connect and each read)
DOWNLOAD_TIMEOUT = 30.0


def check_uri(uri: str | None, allowed_hosts: str) -> str:
    """``uri`` when it passes the filtering; BadRequest (400) otherwise.

    Args:
        allowed_hosts: comma-separated host names or addresses (``[image]
            image_import_allowed_hosts``).
    """
    if not uri:
        raise BadRequest("URI is required for web-download import method.")
    parts = urllib.parse.urlsplit(uri)
    hosts = {h.strip().lower() for h in allowed_hosts.split(",") if h.strip()}
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() not in hosts:
        raise BadRequest(f"URI for web-download does not pass filtering: {uri}")
    return uri


class Imports:
    """Imports with their tasks (``cloud.image.imports``)."""

    def __init__(self, data: ImageData, tasks: Tasks, allowed_hosts: str):
        self.data = data
        self.tasks = tasks
        self.allowed_hosts = allowed_hosts

    def run(self, ctx: RequestContext, image_id: str, method: dict[str, Any]) -> str:
        """Import ``image_id`` with ``method`` (``{"name": ..., "uri": ...}``); returns the
        task id.

        Raises (before any task is recorded): BadRequest (400) for an unsupported method
        or a URI that does not pass filtering; ImageNotFound, ImageForbidden,
        InvalidImageStatus (409: not ``queued`` for web-download, nothing staged for
        glance-direct). glance-direct's failures are raised as ``data.import_`` raises
        them (its task records them too); web-download's are only recorded.
        """
        name = method.get("name")
        if name == "web-download":
            uri = check_uri(method.get("uri"), self.allowed_hosts)
            lease, allowance = self.data._begin(ctx, image_id, "web-download")
            task_id = self.tasks.start(ctx, image_id, {"import_req": {"method": method}})
            try:
                self.data._receive(
                    lease,
                    states.IMPORTING,
                    self.data.store,
                    lambda partial: _download(partial, uri, allowance),
                    lambda partial, hashes: self.data._record_active(
                        lease, states.IMPORTING, hashes, partial
                    ),
                )
            except Exception as exc:  # recorded on the task, as Glance's async import
                self.tasks.finish(task_id, exc)
                return task_id
            self.tasks.finish(task_id)
            return task_id
        task_id = self.tasks.start(ctx, image_id, {"import_req": {"method": method}})
        try:
            self.data.import_(ctx, image_id, str(name))
        except Exception as exc:
            self.tasks.finish(task_id, exc)
            raise
        self.tasks.finish(task_id)
        return task_id


def _download(partial: Any, uri: str, allowance: Any) -> Any:
    """Stream ``uri`` into ``partial``; an HTTP error or an unreachable host raises."""
    try:
        response = urllib.request.urlopen(uri, timeout=DOWNLOAD_TIMEOUT)  # noqa: S310
    except (urllib.error.URLError, OSError) as exc:
        raise BadRequest(f"Failed to download {uri}: {exc}") from None
    with response:
        return partial.fill(LimitedReader(response, allowance))
