"""Image uploads and controller crashes, with real processes (fake compute driver).

- ``pocketstack up`` killed -9 in the middle of ``PUT /v2/images/{id}/file`` used to leave the
  image ``saving`` forever (a new upload got 409) and the partial ``.upload-*`` file in the
  store. After a restart the image is ``queued`` again once the dead upload's lease lapses,
  the partial file is gone and a new upload of the same image works.
- Distributed (PostgreSQL): a second controller that starts while the first streams an upload
  must not reset that upload; the upload completes.

The upload lease is 3 s here (``--image-upload-lease``) so the tests wait seconds, not a
minute. The client streams a slow generator body from a thread, so the server is surely
mid-upload when the test acts; every wait polls a condition with a deadline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port, wait_until

LEASE = ["--image-upload-lease", "3"]
VENV_BIN = Path(sys.executable).parent


def _partials(state_dir: Path) -> list[Path]:
    images = state_dir / "images"
    return sorted([*images.glob(".upload-*"), *images.glob("staging/.upload-*")])


class SlowUpload:
    """``PUT <url>`` of a body that trickles 1 KiB chunks until ``finish()`` (then ends) or
    until the server goes away, sent from a thread; ``sent`` is what went out."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token
        self.sent = bytearray()
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self._finish = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-upload", daemon=True)
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        n = 0
        while not self._finish.is_set():
            chunk = f"chunk {n:08d} ".encode() * 64
            self.sent += chunk
            n += 1
            yield chunk
            self._finish.wait(0.05)  # pace the client; the test never waits on this

    def _run(self) -> None:
        headers = {"X-Auth-Token": self.token, "Content-Type": "application/octet-stream"}
        try:
            self.response = httpx.put(self.url, content=self._body(), headers=headers, timeout=120)
        except httpx.HTTPError as exc:
            self.error = exc

    def finish(self, timeout: float = 60.0) -> None:
        """End the body and wait for the answer (or the error)."""
        self._finish.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the upload thread did not end"


def _image(conn: Any, image_id: str) -> Any:
    return conn.image.get_image(image_id)


def _upload_url(cloud: Any, image_id: str) -> str:
    return f"{cloud.url}/image/v2/images/{image_id}/file"


def test_kill9_mid_upload_leaves_image_queued_without_partial_file(up_process):
    up = up_process("fake", LEASE)
    cloud = up.start()
    conn = cloud.sdk()
    image = conn.image.create_image(name="interrupted", disk_format="raw", container_format="bare")
    upload = SlowUpload(_upload_url(cloud, image.id), conn.auth_token)
    wait_until(
        lambda: _image(conn, image.id).status == "saving" and _partials(cloud.state_dir),
        90,
        "the upload to be saving with its partial file",
    )

    up.kill9()
    upload.finish()
    assert upload.response is None and upload.error is not None  # the server died mid-body

    cloud = up.start()
    conn = cloud.sdk()
    wait_until(
        lambda: _image(conn, image.id).status == "queued" and not _partials(cloud.state_dir),
        90,
        "the interrupted upload to be reset",
    )
    data = os.urandom(256 * 1024)
    resp = httpx.put(
        _upload_url(cloud, image.id),
        content=data,
        headers={"X-Auth-Token": conn.auth_token, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert resp.status_code == 204, resp.text
    shown = _image(conn, image.id)
    assert (shown.status, shown.size) == ("active", len(data))
    assert shown.checksum == hashlib.md5(data).hexdigest()
    got = httpx.get(
        _upload_url(cloud, image.id), headers={"X-Auth-Token": conn.auth_token}, timeout=60
    )
    assert got.content == data
    assert _partials(cloud.state_dir) == []


def _lease_expiry(dsn: str, image_id: str) -> dt.datetime | None:
    """The image's ``upload_lease_expires_at`` in the database (``None``: no lease)."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT upload_lease_expires_at FROM images WHERE id = %s", (image_id,))
            row = cur.fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def _start_controller(flags: list[str], env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(VENV_BIN / "pocketstack"), "controller", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    seen = bytearray()

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"second controller exited {proc.returncode}: {seen!r}")
        seen.extend(proc.stdout.read() or b"" if proc.stdout else b"")
        return b"ready in" in seen

    wait_until(ready, 180, "the second controller to be ready")
    return proc


@pytest.mark.distributed
def test_second_controller_starting_mid_upload_leaves_it_alone(distributed_cloud):
    dc = distributed_cloud("fake", LEASE)
    cloud = dc.start_controller()
    conn = cloud.sdk()
    image = conn.image.create_image(name="streaming", disk_format="raw", container_format="bare")
    upload = SlowUpload(_upload_url(cloud, image.id), conn.auth_token)
    second = None
    try:
        wait_until(
            lambda: _image(conn, image.id).status == "saving" and _partials(cloud.state_dir),
            90,
            "the upload to be saving with its partial file",
        )
        # Another controller behind the same public URL (a load balancer), on its own port,
        # sharing the database, the bus and the state directory (keys, passwords, and the
        # image store where the first one's partial file is).
        flags = list(dc.flags)
        flags[flags.index("--port") + 1] = str(free_port())
        flags += ["--public-url", cloud.url]
        # Its start-up round of the reaper has run once it is ready; let its periodic rounds
        # run for a few lease lifetimes while the first controller keeps streaming: until the
        # first one has renewed the lease 4 lifetimes (4 x 3 s) past where it stood now.
        dsn = dc.flags[dc.flags.index("--database") + 1]
        expiry = _lease_expiry(dsn, image.id)
        assert expiry is not None
        second = _start_controller(flags, dc.env)
        wait_until(
            lambda: (_lease_expiry(dsn, image.id) or expiry) >= expiry + dt.timedelta(seconds=12),
            90,
            "the first controller to renew its upload lease over 4 lease lifetimes",
            interval=0.5,
        )
        assert _image(conn, image.id).status == "saving"
        upload.finish()
    finally:
        upload.finish()
        if second is not None:
            second.terminate()
            second.wait(30)
    assert upload.error is None and upload.response is not None
    assert upload.response.status_code == 204, upload.response.text
    shown = _image(conn, image.id)
    assert shown.status == "active"
    assert shown.checksum == hashlib.md5(bytes(upload.sent)).hexdigest()
    assert _partials(cloud.state_dir) == []
