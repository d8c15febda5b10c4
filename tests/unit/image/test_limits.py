"""image_size_cap and image_user_storage_quota (pocketstack.image.limits): 413 past either,
whether the size is announced or not, and nothing kept: no data or partial file, the image
back in queued, the project's usage unchanged; the next smaller upload works."""

from __future__ import annotations

import hashlib
import io
import itertools

import pytest

from pocketstack.image.exceptions import ImageSizeLimitExceeded, StorageQuotaFull
from pocketstack.image.limits import Allowance, LimitedReader
from pocketstack.service import Cloud

CAP = 1000
QUOTA = 2500


@pytest.fixture
def limited(conf, db, bus):
    """A cloud whose images are capped at 1000 bytes and projects' data at 2500 bytes."""
    return Cloud(conf.replace(image_size_cap=CAP, image_user_storage_quota=QUOTA), db, bus)


class Endless(io.RawIOBase):
    """A client that would send forever; counts what was asked of it."""

    def __init__(self):
        self.given = 0

    def read(self, size=-1):
        size = 65536 if size is None or size < 0 else size
        self.given += size
        return b"x" * size


class Untouched(io.RawIOBase):
    def read(self, size=-1):
        raise AssertionError("the body was read although its Content-Length was refused")


def new_image(cloud, ctx, name="img"):
    return cloud.image.images.create(
        ctx, {"name": name, "disk_format": "raw", "container_format": "bare"}, {}
    ).id


def assert_nothing_kept(cloud, ctx, image_id):
    shown = cloud.image.get_image(ctx, image_id)
    assert (shown["status"], shown["size"], shown["checksum"]) == ("queued", None, None)
    data = cloud.image.data
    assert not data.store.exists(image_id) and not data.staging.exists(image_id)
    assert data.store.partial_files() == [] and data.staging.partial_files() == []


def usage(cloud, ctx):
    images = cloud.image.images.list(ctx, {"owner": ctx.project_id}).images
    return sum(i.size or 0 for i in images)


def test_announced_size_over_the_cap_is_refused_before_reading(limited, demo):
    image_id = new_image(limited, demo)
    with pytest.raises(ImageSizeLimitExceeded) as err:
        limited.image.data.upload(demo, image_id, Untouched(), size=CAP + 1)
    assert err.value.status == 413
    assert err.value.message.startswith("The incoming image is too large")
    assert_nothing_kept(limited, demo, image_id)


def test_endless_body_without_size_is_stopped_at_the_cap(limited, demo):
    image_id = new_image(limited, demo)
    client = Endless()
    with pytest.raises(ImageSizeLimitExceeded):
        limited.image.data.upload(demo, image_id, client)
    assert client.given == CAP + 1
    assert_nothing_kept(limited, demo, image_id)
    data = b"y" * CAP
    limited.image.data.upload(demo, image_id, io.BytesIO(data))
    shown = limited.image.get_image(demo, image_id)
    assert (shown["status"], shown["checksum"]) == ("active", hashlib.md5(data).hexdigest())


def test_body_longer_than_its_announced_size_is_still_stopped_at_the_cap(limited, demo):
    image_id = new_image(limited, demo)
    with pytest.raises(ImageSizeLimitExceeded):
        limited.image.data.upload(demo, image_id, Endless(), size=10)
    assert_nothing_kept(limited, demo, image_id)


def test_upload_over_the_quota_is_413_and_usage_is_unchanged(limited, demo, alt):
    for _ in range(2):
        limited.image.data.upload(demo, new_image(limited, demo), io.BytesIO(b"z" * 900))
    before = usage(limited, demo)
    assert before == 1800
    image_id = new_image(limited, demo)
    with pytest.raises(StorageQuotaFull) as err:
        limited.image.data.upload(demo, image_id, io.BytesIO(b"z" * 701), size=701)
    assert err.value.status == 413
    assert err.value.message.startswith("Image exceeds the storage quota")
    assert "700 bytes remaining" in err.value.message
    with pytest.raises(StorageQuotaFull):  # the same without Content-Length: stopped at 701
        limited.image.data.upload(demo, image_id, Endless())
    assert_nothing_kept(limited, demo, image_id)
    assert usage(limited, demo) == before
    limited.image.data.upload(demo, image_id, io.BytesIO(b"z" * 700))
    assert usage(limited, demo) == QUOTA
    other = new_image(limited, alt)  # the quota is per project
    limited.image.data.upload(alt, other, io.BytesIO(b"z" * 900))


def test_quota_is_checked_again_when_concurrent_uploads_are_recorded(limited, demo):
    first, second = new_image(limited, demo), new_image(limited, demo)
    limited.image.data.upload(demo, new_image(limited, demo), io.BytesIO(b"a" * 1000))

    class WhileSecondUploads(io.RawIOBase):
        """The first upload's body: mid-way, a second upload of the project runs whole."""

        def __init__(self):
            self.parts = [b"b" * 400, b"b" * 500]

        def read(self, size=-1):
            if len(self.parts) == 1:
                limited.image.data.upload(demo, second, io.BytesIO(b"c" * 900))
            return self.parts.pop(0) if self.parts else b""

    # Both began with 1500 bytes left; the second recorded 900 first, so 900 more is over.
    with pytest.raises(StorageQuotaFull):
        limited.image.data.upload(demo, first, WhileSecondUploads())
    assert_nothing_kept(limited, demo, first)
    assert usage(limited, demo) == 1900


def test_stage_is_capped_and_keeps_nothing(limited, demo):
    image_id = new_image(limited, demo)
    with pytest.raises(ImageSizeLimitExceeded):
        limited.image.data.stage(demo, image_id, Endless())
    assert_nothing_kept(limited, demo, image_id)
    limited.image.data.stage(demo, image_id, io.BytesIO(b"s" * 10))
    assert limited.image.get_image(demo, image_id)["status"] == "uploading"


def test_import_over_the_quota_is_413_and_removes_the_staged_data(limited, demo):
    image_id = new_image(limited, demo)
    limited.image.data.stage(demo, image_id, io.BytesIO(b"s" * 1000))
    for _ in range(2):  # meanwhile the project fills its quota up to 500 bytes left
        limited.image.data.upload(demo, new_image(limited, demo), io.BytesIO(b"u" * 1000))
    with pytest.raises(StorageQuotaFull):
        limited.image.data.import_(demo, image_id, "glance-direct")
    assert_nothing_kept(limited, demo, image_id)


def test_operator_files_are_not_limited(limited, admin, tmp_path):
    path = tmp_path / "big.raw"
    path.write_bytes(b"b" * (QUOTA + 1))
    image = limited.image.create_image_from_file(admin, "big", path, disk_format="raw")
    assert (image.status, image.size) == ("active", QUOTA + 1)


@pytest.mark.parametrize(
    ("allowance", "size", "refused"),
    [
        (Allowance(CAP), CAP, None),
        (Allowance(CAP), CAP + 1, ImageSizeLimitExceeded),
        (Allowance(CAP), None, None),
        (Allowance(CAP, QUOTA, 2000), 500, None),
        (Allowance(CAP, QUOTA, 2000), 501, StorageQuotaFull),
        (Allowance(CAP, QUOTA, 2000), CAP + 1, ImageSizeLimitExceeded),
        (Allowance(CAP, QUOTA, QUOTA), None, StorageQuotaFull),  # nothing left: Glance refuses
        (Allowance(CAP, QUOTA, QUOTA), 0, None),
        (Allowance(None), 10**15, None),
    ],
)
def test_allowance_check(allowance, size, refused):
    if refused is None:
        allowance.check(size)
    else:
        with pytest.raises(refused):
            allowance.check(size)


def test_limited_reader_never_asks_past_the_limit_plus_one():
    source = Endless()
    reader = LimitedReader(source, Allowance(CAP, QUOTA, QUOTA - 300))
    got = b"".join(itertools.islice(iter(lambda: reader.read(128), b""), 2))
    assert len(got) == 256
    with pytest.raises(StorageQuotaFull):
        while reader.read(1 << 20):
            pass
    assert source.given == 301
