"""What other services get of the Image service: ``get_image_info`` (a typed record),
``get_image`` (the same as Glance's flat dict) and ``create_image_from_file``."""

from __future__ import annotations

import io

import pytest

from pocketstack.image.exceptions import ImageNotFound
from pocketstack.image.images import ImageInfo


def test_image_info_is_a_typed_record_of_what_a_boot_reads(cloud, demo, alt):
    image = cloud.image.images.create(
        demo,
        {"name": "img", "disk_format": "raw", "container_format": "bare", "min_disk": 2},
        {"hw_disk_bus": "scsi"},
    )
    cloud.image.data.upload(demo, image.id, io.BytesIO(b"x" * 10))
    info = cloud.image.get_image_info(demo, image.id)
    assert isinstance(info, ImageInfo)
    assert (info.status, info.size, info.virtual_size, info.min_disk, info.min_ram) == (
        "active",
        10,
        10,
        2,
        0,
    )
    assert (info.disk_format, info.properties) == ("raw", {"hw_disk_bus": "scsi"})
    assert info.file == f"/v2/images/{image.id}/file"
    with pytest.raises(ImageNotFound):
        cloud.image.get_image_info(alt, image.id)


def test_get_image_is_the_record_as_glances_flat_dict(cloud, demo, alt):
    image = cloud.image.images.create(
        demo, {"name": "img", "disk_format": "qcow2", "container_format": "bare"}, {"k": "v"}
    )
    flat = cloud.image.get_image(demo, image.id)
    assert (flat["id"], flat["status"], flat["disk_format"], flat["k"]) == (
        image.id,
        "queued",
        "qcow2",
        "v",
    )
    assert "properties" not in flat and flat["size"] is None
    with pytest.raises(ImageNotFound):
        cloud.image.get_image(alt, image.id)


def test_create_image_from_file_gives_the_record(cloud, admin, tmp_path):
    path = tmp_path / "disk.raw"
    path.write_bytes(b"d" * 512)
    info = cloud.image.create_image_from_file(admin, "disk", path, disk_format="raw")
    assert isinstance(info, ImageInfo) and (info.status, info.size) == ("active", 512)
    assert cloud.image.image_path(info.id).read_bytes() == b"d" * 512
