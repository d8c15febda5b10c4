"""Image data: upload, download, status moves, import, files from disk, virtual size."""

from __future__ import annotations

import hashlib
import io
import struct
from types import SimpleNamespace

import pytest

from pocketstack.common.drivers import UnknownDriver
from pocketstack.common.errors import BadRequest
from pocketstack.image.data import ImageData
from pocketstack.image.exceptions import ImageForbidden, ImageNotFound, InvalidImageStatus


class Broken(io.RawIOBase):
    def read(self, size=-1):
        raise ConnectionError("client went away")


def qcow2_header(virtual: int) -> bytes:
    return b"QFI\xfb" + struct.pack(">I", 3) + b"\0" * 16 + struct.pack(">Q", virtual) + b"\0" * 100


def new_image(cloud, ctx, **core):
    return cloud.image.images.create(
        ctx, {"name": "img", "disk_format": "qcow2", "container_format": "bare", **core}, {}
    )


def test_upload_sets_size_hashes_virtual_size_and_download_returns_the_bytes(cloud, demo):
    img = new_image(cloud, demo)
    data = qcow2_header(1 << 30) + b"payload"
    cloud.image.data.upload(demo, img.id, io.BytesIO(data))
    shown = cloud.image.images.get(demo, img.id)
    assert shown.status == "active"
    assert shown.size == len(data)
    assert shown.checksum == hashlib.md5(data).hexdigest()
    assert shown.os_hash_algo == "sha512"
    assert shown.os_hash_value == hashlib.sha512(data).hexdigest()
    assert shown.virtual_size == 1 << 30
    chunks, image = cloud.image.data.download(demo, img.id)
    assert b"".join(chunks) == data and image.id == img.id
    assert cloud.image.image_path(img.id).read_bytes() == data


def test_raw_virtual_size_is_the_size(cloud, demo):
    img = new_image(cloud, demo, disk_format="raw")
    cloud.image.data.upload(demo, img.id, io.BytesIO(b"x" * 4096))
    assert cloud.image.get_image(demo, img.id)["virtual_size"] == 4096


def test_second_upload_conflicts(cloud, demo):
    img = new_image(cloud, demo)
    cloud.image.data.upload(demo, img.id, io.BytesIO(b"one"))
    with pytest.raises(InvalidImageStatus):
        cloud.image.data.upload(demo, img.id, io.BytesIO(b"two"))
    assert b"".join(cloud.image.data.download(demo, img.id)[0]) == b"one"


def test_failed_upload_leaves_image_queued_and_no_file(cloud, demo):
    img = new_image(cloud, demo)
    with pytest.raises(ConnectionError):
        cloud.image.data.upload(demo, img.id, Broken())
    assert cloud.image.get_image(demo, img.id)["status"] == "queued"
    assert not cloud.image.image_path(img.id).exists()
    assert [p.name for p in cloud.image.image_path(img.id).parent.iterdir() if p.is_file()] == []


def test_upload_needs_formats_and_ownership(cloud, demo, alt):
    img = cloud.image.images.create(demo, {"name": "x"}, {})
    with pytest.raises(BadRequest):
        cloud.image.data.upload(demo, img.id, io.BytesIO(b"x"))
    with pytest.raises(ImageNotFound):
        cloud.image.data.upload(alt, img.id, io.BytesIO(b"x"))


def test_queued_image_has_no_data(cloud, demo):
    img = new_image(cloud, demo)
    assert cloud.image.data.download(demo, img.id)[0] is None


def test_delete_removes_the_data(cloud, demo):
    img = new_image(cloud, demo)
    cloud.image.data.upload(demo, img.id, io.BytesIO(b"data"))
    cloud.image.images.delete(demo, img.id)
    assert not cloud.image.image_path(img.id).exists()


def test_deactivated_image_downloads_only_for_admin(cloud, demo, admin):
    img = new_image(cloud, demo)
    cloud.image.data.upload(demo, img.id, io.BytesIO(b"data"))
    cloud.image.images.deactivate(admin, img.id)
    assert cloud.image.get_image(demo, img.id)["status"] == "deactivated"
    with pytest.raises(ImageForbidden):
        cloud.image.data.download(demo, img.id)
    assert b"".join(cloud.image.data.download(admin, img.id)[0]) == b"data"
    cloud.image.images.reactivate(admin, img.id)
    assert cloud.image.get_image(demo, img.id)["status"] == "active"


def test_glance_direct_import(cloud, demo):
    img = new_image(cloud, demo)
    cloud.image.data.stage(demo, img.id, io.BytesIO(b"staged"))
    assert cloud.image.get_image(demo, img.id)["status"] == "uploading"
    with pytest.raises(BadRequest):
        cloud.image.data.import_(demo, img.id, "web-download")
    cloud.image.data.import_(demo, img.id, "glance-direct")
    shown = cloud.image.get_image(demo, img.id)
    assert (shown["status"], shown["size"]) == ("active", 6)
    with pytest.raises(InvalidImageStatus):
        cloud.image.data.import_(demo, img.id, "glance-direct")


def test_create_image_from_file_is_idempotent(cloud, admin, tmp_path):
    path = tmp_path / "cirros.qcow2"
    path.write_bytes(qcow2_header(112 << 20))
    first = cloud.image.create_image_from_file(
        admin, "cirros", path, properties={"os_distro": "cirros"}
    )
    assert (first.status, first.visibility, first.properties["os_distro"]) == (
        "active",
        "public",
        "cirros",
    )
    assert first.virtual_size == 112 << 20
    again = cloud.image.create_image_from_file(admin, "cirros", path)
    assert again.id == first.id
    path.unlink()  # a rebuilt image is a new file (the store hard-links the old one)
    path.write_bytes(qcow2_header(200 << 20))
    changed = cloud.image.create_image_from_file(admin, "cirros", path)
    assert changed.id != first.id


def test_the_store_is_the_configured_one(cloud):
    assert cloud.conf.image_store == "file" and cloud.image.data.store.name == "file"
    elsewhere = SimpleNamespace(conf=cloud.conf.replace(image_store="rbd"), db=cloud.db)
    with pytest.raises(UnknownDriver, match="unknown image_store 'rbd': known are file, swift"):
        ImageData(elsewhere, cloud.image.images)
