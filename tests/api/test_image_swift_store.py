"""Glance with ``image_store = "swift"`` end to end: ``pocketstack up --image-store swift``
(its three embedded object nodes), driven through openstacksdk. Image data goes into the
hidden ``.glance`` account's ``glance`` container as segments and a manifest, comes back
byte for byte, is gone with the image, boots a (fake-driver) server through the compute
host's download from ``/v2/images/{id}/file``, and segments no upload owns are reaped.

One cloud of its own (``up`` only: a distributed controller starts no object nodes)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pocketstack.common.config import Config
from pocketstack.objectstore.internal_client import close_internal_client, internal_client
from tests.conftest import launch_cloud
from tests.helpers import wait_until

SEGMENT = 1024 * 1024  # image_swift_chunk_size of this cloud
ACCOUNT, CONTAINER = ".glance", "glance"


@pytest.fixture(scope="module")
def swift_cloud(tmp_path_factory) -> Iterator[tuple[object, object]]:
    """The cloud and an internal client of its object nodes (as the controller's own)."""
    state = tmp_path_factory.mktemp("swift-images") / "state"
    extra = ["--image-store", "swift", "--image-swift-chunk-size", str(SEGMENT)]
    with launch_cloud(state, extra=extra, mode="embedded") as cloud:
        conf = Config.load({"state_dir": str(state)}, environ={})
        try:
            yield cloud, internal_client(conf)
        finally:
            close_internal_client(conf)


def _objects(client, image_id: str) -> list[str]:
    return [n for n in client.list_objects(ACCOUNT, CONTAINER) if n.startswith(image_id)]


def test_images_live_in_swift_segmented_and_come_back_whole(swift_cloud):
    cloud, client = swift_cloud
    conn = cloud.sdk()
    big = os.urandom(2 * SEGMENT + 12345)  # three segments
    image = conn.image.create_image(
        name=f"big-{uuid.uuid4().hex[:6]}",
        data=big,
        disk_format="raw",
        container_format="bare",
        allow_duplicates=True,
        validate_checksum=False,
    )
    image = conn.image.get_image(image.id)
    assert image.status == "active" and image.size == len(big)
    assert image.checksum == hashlib.md5(big).hexdigest()
    assert image.hash_algo == "sha512" and image.hash_value == hashlib.sha512(big).hexdigest()
    assert conn.image.download_image(image).content == big
    url = f"{cloud.url}/image/v2/images/{image.id}/file"
    token = {"X-Auth-Token": conn.auth_token}
    across = requests.get(  # the end of segment 1 and the start of segment 2
        url, headers={**token, "Range": f"bytes={SEGMENT - 10}-{SEGMENT + 9}"}, timeout=30
    )
    assert across.status_code == 206 and across.content == big[SEGMENT - 10 : SEGMENT + 10]
    assert across.headers["Content-Range"] == f"bytes {SEGMENT - 10}-{SEGMENT + 9}/{len(big)}"
    tail = requests.get(url, headers={**token, "Range": "bytes=-100"}, timeout=30)
    assert tail.status_code == 206 and tail.content == big[-100:]
    outside = requests.get(url, headers={**token, "Range": f"bytes={len(big)}-"}, timeout=30)
    assert outside.status_code == 416

    names = _objects(client, image.id)
    segments = [n for n in names if "/" in n]
    assert image.id in names and len(segments) == 3
    assert client.head_object(ACCOUNT, CONTAINER, image.id)["x-object-manifest"].startswith(
        f"{CONTAINER}/{image.id}-"
    )

    conn.image.delete_image(image)
    assert _objects(client, image.id) == []


def test_imported_image_boots_a_server_through_the_image_api(swift_cloud):
    cloud, client = swift_cloud
    conn = cloud.sdk()
    data = os.urandom(300 * 1024)
    image = conn.image.create_image(
        name=f"small-{uuid.uuid4().hex[:6]}", disk_format="raw", container_format="bare"
    )
    conn.image.stage_image(image, data=data)
    conn.image.import_image(image, method="glance-direct")
    image = conn.image.wait_for_status(conn.image.get_image(image.id), "active", wait=30)
    assert image.size == len(data) and image.checksum == hashlib.md5(data).hexdigest()
    assert len([n for n in _objects(client, image.id) if "/" in n]) == 1
    assert conn.image.download_image(image).content == data

    server = cloud.create_server(f"sw-{uuid.uuid4().hex[:6]}", image=image.id, wait=True)
    assert server["status"] == "ACTIVE"
    # the compute host fetched it over the Image API into its cache (no store files here)
    assert Path(cloud.state_dir, "images", "cache", image.id).read_bytes() == data
    assert not Path(cloud.state_dir, "images", image.id).exists()
    cloud.openstack("server", "delete", "--wait", server["id"], json_output=False)


def test_broken_upload_and_orphan_segments_leave_nothing(swift_cloud):
    cloud, client = swift_cloud
    conn = cloud.sdk()
    image = conn.image.create_image(
        name=f"cut-{uuid.uuid4().hex[:6]}", disk_format="raw", container_format="bare"
    )

    def cut_short() -> Iterator[bytes]:
        yield os.urandom(SEGMENT + 1000)  # a whole segment is stored before the cut
        raise ConnectionError("client gone")

    url = f"{cloud.url}/image/v2/images/{image.id}/file"
    headers = {"X-Auth-Token": conn.auth_token, "Content-Type": "application/octet-stream"}
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.put(url, data=cut_short(), headers=headers, timeout=30)
    wait_until(
        lambda: conn.image.get_image(image.id).status == "queued",
        15,
        "the cut upload's image back to queued",
    )
    wait_until(lambda: _objects(client, image.id) == [], 15, "the cut upload's segments gone")

    # segments a dead process left (no manifest, no live upload) are reaped
    client.put_object(ACCOUNT, CONTAINER, f"{image.id}-0123456789ab/00001", [b"x" * 100])
    wait_until(lambda: _objects(client, image.id) == [], 15, "the orphan segments reaped")
    assert conn.image.get_image(image.id).status == "queued"
