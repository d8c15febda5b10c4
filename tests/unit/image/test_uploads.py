"""Data leases (pocketstack.image.uploads): an upload a live controller serves is never reset,
one whose controller died is put back to queued once its lease lapses, and its partial file is
removed. Two ``ImageData``s over one database and state directory play two controller
processes; time is a fake clock moved by hand (nothing sleeps)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
import sqlalchemy as sa

from pocketstack.image.data import ImageData
from pocketstack.image.exceptions import InvalidImageStatus, UploadLeaseLost
from pocketstack.image.models import Image

TTL = 60.0  # the conf fixture's image_upload_lease (the default)


class Clock:
    """A naive-UTC clock that moves only when told."""

    def __init__(self):
        self.now = dt.datetime(2026, 11, 30, 12, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class During(io.RawIOBase):
    """A client body: ``data`` in two halves, calling ``between()`` after the first half (the
    moment the upload is surely in ``saving`` with its partial file open)."""

    def __init__(self, data: bytes, between):
        self.parts = [data[: len(data) // 2], data[len(data) // 2 :]]
        self.between = between
        self.sent = 0

    def read(self, size=-1):
        if self.sent == 1:
            self.between()
        if self.sent == len(self.parts):
            return b""
        self.sent += 1
        return self.parts[self.sent - 1]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def controllers(cloud, clock):
    """Controller processes A and B: two data managers on one database and state dir."""
    return (
        ImageData(cloud, cloud.image.images, clock=clock),
        ImageData(cloud, cloud.image.images, clock=clock),
    )


def new_image(cloud, ctx):
    return cloud.image.images.create(
        ctx, {"name": "img", "disk_format": "raw", "container_format": "bare"}, {}
    ).id


def status(cloud, ctx, image_id):
    return cloud.image.get_image(ctx, image_id)["status"]


def partials(data):
    return [p for store in (data.store, data.staging) for _id, p in store.partial_files()]


def lease_columns(cloud, image_id):
    with cloud.db.reader() as s:
        return s.execute(
            sa.select(Image.upload_lease_owner, Image.upload_lease_expires_at).where(
                Image.id == image_id
            )
        ).one()


def crashed_mid_upload(data, ctx, image_id):
    """What a controller killed mid-upload leaves: the image saving under its lease, and a
    partial file with half the data."""
    lease, _allowance = data._begin(ctx, image_id, "upload")
    data.store.partial(image_id).path.write_bytes(b"half an image")
    return lease


def test_live_upload_is_not_reset_by_another_controller_starting(cloud, demo, clock, controllers):
    a, b = controllers
    image_id = new_image(cloud, demo)
    data = b"image data" * 1000
    seen = {}

    def between():
        seen["status"], seen["partials"] = status(cloud, demo, image_id), len(partials(a))
        for _ in range(3):  # three lease lifetimes while A streams and renews
            clock.advance(TTL * 0.6)
            assert a.leases.renew() == []
            seen.setdefault("reset", []).extend(b.reaper.run())  # B starts, then its rounds

    a.upload(demo, image_id, During(data, between))
    assert seen == {"status": "saving", "partials": 1, "reset": []}
    shown = cloud.image.get_image(demo, image_id)
    assert (shown["status"], shown["checksum"]) == ("active", hashlib.md5(data).hexdigest())
    assert partials(a) == [] and tuple(lease_columns(cloud, image_id)) == (None, None)


def test_upload_of_a_dead_controller_is_reset_once_its_lease_lapses(
    cloud, demo, clock, controllers
):
    a, b = controllers
    image_id = new_image(cloud, demo)
    crashed_mid_upload(a, demo, image_id)
    clock.advance(TTL - 1)
    assert b.reaper.run() == []  # not lapsed yet: it may still be streaming
    assert status(cloud, demo, image_id) == "saving" and len(partials(b)) == 1
    clock.advance(2)
    assert b.reaper.run() == [image_id]
    assert status(cloud, demo, image_id) == "queued"
    assert partials(b) == [] and tuple(lease_columns(cloud, image_id)) == (None, None)
    assert b.reaper.run() == []
    b.upload(demo, image_id, io.BytesIO(b"whole"))
    assert cloud.image.get_image(demo, image_id)["checksum"] == hashlib.md5(b"whole").hexdigest()


def test_new_upload_is_409_while_the_dead_upload_still_holds_its_lease(
    cloud, demo, clock, controllers
):
    a, b = controllers
    image_id = new_image(cloud, demo)
    crashed_mid_upload(a, demo, image_id)
    with pytest.raises(InvalidImageStatus):
        b.upload(demo, image_id, io.BytesIO(b"x"))
    assert status(cloud, demo, image_id) == "saving"


def test_owner_that_lost_its_lease_writes_nothing(cloud, demo, clock, controllers):
    a, b = controllers
    image_id = new_image(cloud, demo)
    reset = []

    def between():  # A stalls past its lease without renewing; B takes the upload over
        clock.advance(TTL + 1)
        reset.extend(b.reaper.run())

    with pytest.raises(UploadLeaseLost):
        a.upload(demo, image_id, During(b"lost data" * 100, between))
    assert reset == [image_id]
    assert status(cloud, demo, image_id) == "queued"
    assert not a.store.exists(image_id) and partials(a) == []
    b.upload(demo, image_id, io.BytesIO(b"again"))
    assert status(cloud, demo, image_id) == "active"


def test_renew_reports_a_lease_taken_over_and_stops_renewing_it(cloud, demo, clock, controllers):
    a, b = controllers
    image_id = new_image(cloud, demo)
    lease = crashed_mid_upload(a, demo, image_id)
    assert a.leases.held() == [lease]
    clock.advance(TTL + 1)
    assert b.reaper.run() == [image_id]
    assert a.leases.renew() == [lease]
    assert a.leases.held() == []


def test_stage_of_a_dead_controller_is_reset_and_its_partial_removed(
    cloud, demo, clock, controllers
):
    a, b = controllers
    image_id = new_image(cloud, demo)
    a._begin(demo, image_id, "stage")
    a.staging.partial(image_id).path.write_bytes(b"half")
    clock.advance(TTL + 1)
    assert b.reaper.run() == [image_id]
    assert status(cloud, demo, image_id) == "queued" and partials(b) == []


def test_import_of_a_dead_controller_is_reset_and_its_data_removed(cloud, demo, clock, controllers):
    a, b = controllers
    image_id = new_image(cloud, demo)
    a.stage(demo, image_id, io.BytesIO(b"staged"))
    a._begin(demo, image_id, "import")  # ... and A dies mid-import
    clock.advance(TTL + 1)
    assert b.reaper.run() == [image_id]
    assert status(cloud, demo, image_id) == "queued"
    assert not b.staging.exists(image_id) and not b.store.exists(image_id)


def test_staged_image_waiting_for_its_import_is_left_alone(cloud, demo, clock, controllers):
    a, b = controllers
    image_id = new_image(cloud, demo)
    a.stage(demo, image_id, io.BytesIO(b"staged"))
    clock.advance(TTL * 10)
    assert b.reaper.run() == []
    assert status(cloud, demo, image_id) == "uploading" and b.staging.exists(image_id)
    b.import_(demo, image_id, "glance-direct")
    assert status(cloud, demo, image_id) == "active"


def test_partial_files_without_a_live_lease_are_removed_and_others_kept(
    cloud, demo, clock, controllers
):
    a, b = controllers
    live_id, queued_id = new_image(cloud, demo), new_image(cloud, demo)
    crashed_mid_upload(a, demo, live_id)
    left = b.store.partial(queued_id)  # e.g. another controller's reaper reset its upload
    older = b.store.root / ".upload-k3j4h5g6"  # named by a version without ids in names
    older.write_bytes(b"x")
    assert b.reaper.run() == []
    assert len(partials(b)) == 1 and not left.path.exists() and not older.exists()
    assert status(cloud, demo, live_id) == "saving"


def test_failed_upload_in_process_releases_the_lease(cloud, demo, controllers):
    a, _b = controllers
    image_id = new_image(cloud, demo)

    class Broken(io.RawIOBase):
        def read(self, size=-1):
            raise OSError("store device gone")

    with pytest.raises(OSError):
        a.upload(demo, image_id, Broken())
    assert status(cloud, demo, image_id) == "queued"
    assert tuple(lease_columns(cloud, image_id)) == (None, None)
    assert a.leases.held() == [] and partials(a) == []


def test_reset_skips_a_lease_renewed_since_it_was_seen_lapsed(cloud, demo, clock, controllers):
    a, b = controllers
    image_id = new_image(cloud, demo)
    crashed_mid_upload(a, demo, image_id)
    clock.advance(TTL + 1)
    [(seen_id, seen_status, token)] = b.leases.lapsed()
    assert a.leases.renew() == []  # A was only slow: it renews before B acts
    assert b.reaper.reset(seen_id, seen_status, token) is False
    assert status(cloud, demo, image_id) == "saving" and len(partials(b)) == 1


def test_image_stuck_saving_before_the_upgrade_is_reset_by_the_first_round(tmp_path):
    """Images a crash left ``saving`` before leases existed were stuck for good; the migration
    gives them a lapsed lease."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from pocketstack.common.db import Database, alembic_config
    from pocketstack.image.stores.file import FileStore
    from pocketstack.image.uploads import Reaper, UploadLeases

    url = f"sqlite:///{tmp_path}/old.db"
    config = alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision("0003").down_revision
    command.upgrade(config, str(before))
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO images (id, status, visibility, min_disk, min_ram, protected,"
                " os_hidden, properties, tags, created_at) VALUES"
                " (:id, :status, 'private', 0, 0, 0, 0, '{}', '[]', '2026-01-01 00:00:00')"
            ),
            [{"id": "stuck-saving", "status": "saving"}, {"id": "staged", "status": "uploading"}],
        )
    db.upgrade()
    reaper = Reaper(UploadLeases(db, TTL), [FileStore(tmp_path / "images")])
    assert reaper.run() == ["stuck-saving"]
    with db.reader() as s:
        rows = dict(s.execute(sa.select(Image.id, Image.status)).all())
    assert rows == {"stuck-saving": "queued", "staged": "uploading"}
    db.dispose()
