"""image_size_cap and image_user_storage_quota through the real clients (openstacksdk, the
``openstack`` CLI and raw httpx) against a cloud started with a 1 MiB cap and a 4 MiB quota.

A 100 MB upload used to be accepted with no limit at all. Past either limit the answer is 413
in Glance's error body, nothing is kept (no data, no partial file, the image back to queued,
the project's usage unchanged) and the next smaller upload works.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import launch_cloud

CAP = 1 << 20
QUOTA = 4 << 20
LIMITS = ["--image-size-cap", str(CAP), "--image-user-storage-quota", str(QUOTA)]
DATA = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def limited_cloud(tmp_path_factory):
    """One cloud with the limits for the module (a cloud start is 10-15 s)."""
    with launch_cloud(tmp_path_factory.mktemp("limits") / "state", extra=LIMITS) as running:
        yield running


@pytest.fixture
def cloud(limited_cloud):
    """The limited cloud, demo owning no image when the test starts: the images a test made
    are deleted after it (the quota test counts demo's usage from zero)."""
    conn = limited_cloud.sdk()
    assert usage(conn) == 0 and partials(limited_cloud) == []
    yield limited_cloud
    for image in list(conn.image.images(owner=conn.current_project_id)):
        conn.image.delete_image(image)


def partials(cloud) -> list[Path]:
    images = cloud.state_dir / "images"
    return [*images.glob(".upload-*"), *images.glob("staging/.upload-*")]


def assert_glance_413(status: int, body: dict, message_start: str) -> None:
    assert status == 413
    assert (body["code"], body["title"]) == (413, "Request Entity Too Large")
    assert body["message"].startswith(message_start), body


def assert_nothing_kept(conn, cloud, image_id: str) -> None:
    image = conn.image.get_image(image_id)
    assert (image.status, image.size, image.checksum) == ("queued", None, None)
    assert not (cloud.state_dir / "images" / image_id).exists()
    assert partials(cloud) == []


def usage(conn) -> int:
    project = conn.current_project_id
    return sum(i.size or 0 for i in conn.image.images(owner=project))


def new_image(conn, name: str):
    return conn.image.create_image(name=name, disk_format="raw", container_format="bare")


def test_upload_over_the_size_cap_is_413_and_keeps_nothing(cloud):
    conn = cloud.sdk()
    image = new_image(conn, "too-big")
    response = image.upload(conn.image, data=os.urandom(CAP + 1))  # with Content-Length
    assert_glance_413(response.status_code, response.json(), "The incoming image is too large")
    assert_nothing_kept(conn, cloud, image.id)

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(3 * 16):
            yield b"c" * (CAP // 16)

    url = f"{cloud.url}/image/v2/images/{image.id}/file"
    headers = {"X-Auth-Token": conn.auth_token, **DATA}
    response = httpx.put(url, content=chunked(), headers=headers, timeout=60)
    assert_glance_413(response.status_code, response.json(), "The incoming image is too large")
    assert_nothing_kept(conn, cloud, image.id)

    data = os.urandom(CAP)
    assert image.upload(conn.image, data=data).status_code == 204
    shown = conn.image.get_image(image.id)
    assert (shown.status, shown.size) == ("active", CAP)
    assert shown.checksum == hashlib.md5(data).hexdigest()
    assert partials(cloud) == []


def test_upload_over_the_project_quota_is_413_and_usage_is_unchanged(cloud, tmp_path):
    conn = cloud.sdk()
    for n, size in enumerate((CAP, CAP, CAP, CAP // 2)):
        assert new_image(conn, f"fill-{n}").upload(conn.image, data=b"f" * size).status_code == 204
    before = usage(conn)
    assert before == QUOTA - CAP // 2  # what is left is under the cap: the quota decides
    over = tmp_path / "over.raw"
    over.write_bytes(os.urandom(QUOTA - before + 1))
    proc = cloud.openstack(
        "image",
        "create",
        "--file",
        str(over),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "over-quota",
        check=False,
    )
    assert proc.returncode != 0
    assert "Image exceeds the storage quota" in proc.stderr, proc.stderr
    assert list(conn.image.images(name="over-quota")) == []  # the client deleted it
    assert usage(conn) == before and partials(cloud) == []

    image = new_image(conn, "over-quota-sdk")
    response = image.upload(conn.image, data=over.read_bytes())
    assert_glance_413(response.status_code, response.json(), "Image exceeds the storage quota")
    assert_nothing_kept(conn, cloud, image.id)
    assert usage(conn) == before
    fits = os.urandom(QUOTA - before)
    assert image.upload(conn.image, data=fits).status_code == 204
    assert conn.image.get_image(image.id).checksum == hashlib.md5(fits).hexdigest()
    assert usage(conn) == QUOTA
    with pytest.raises(subprocess.CalledProcessError) as err:
        cloud.openstack("image", "create", "--file", str(over), "--disk-format", "raw", "more")
    assert "413" in err.value.stderr or "storage quota" in err.value.stderr
