"""The chunked backup service on a real file store: chunking, incrementals that store only
what changed, restore of a chain byte for byte (holes included), corruption detected."""

from __future__ import annotations

import os
import types
import zlib
from pathlib import Path

import pytest

from pocketstack.volume.backup import (
    BackupCorrupt,
    BackupInvalid,
    BackupService,
    BackupStoreUnavailable,
    FileBackupStore,
)

MIB = 1024 * 1024
CHUNK = 1 * MIB
BLOCK = 32 * 1024


def make_service(tmp_path: Path, **options: object) -> BackupService:
    values = {"backup_chunk_size": CHUNK, "backup_sha_block_size": BLOCK, **options}
    conf = types.SimpleNamespace(path=lambda *parts: Path(tmp_path, *parts), **values)
    return BackupService(driver=None, conf=conf)


@pytest.fixture
def service(tmp_path: Path) -> BackupService:
    return make_service(tmp_path)


def make_volume(path: Path, size: int, writes: dict[int, bytes]) -> Path:
    """A sparse file of ``size`` bytes with ``writes`` (offset -> bytes) in it."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in writes.items():
            f.seek(offset)
            f.write(data)
    return path


def backup_dict(backup_id: str, result: dict | None = None) -> dict:
    backup = {"id": backup_id, "volume_id": "vol1", "created_at": "2026-11-30T18:00:00"}
    if result:
        backup.update(container=result["container"], service_metadata=result["service_metadata"])
    return backup


def data_objects(service: BackupService, result: dict) -> list[str]:
    prefix = result["service_metadata"]["prefix"] + "/"
    names = service.store.list(result["container"], prefix)
    return [n for n in names if n.rsplit("/", 1)[1].startswith("backup_")]


def test_full_backup_stores_one_compressed_object_per_chunk_with_data(service, tmp_path):
    noise = os.urandom(CHUNK)
    volume = make_volume(tmp_path / "vol", 4 * CHUNK + 1000, {0: noise, 2 * CHUNK: b"x" * 10})

    result = service.create(backup_dict("b1"), str(volume), None)

    # chunks 0 and 2 hold data, 1 and 3 are holes, the 1000-byte tail is zeros: 2 objects
    assert result["object_count"] == 2
    assert result["size"] == 1
    assert result["is_incremental"] is False
    names = data_objects(service, result)
    assert names == [
        "volume_vol1/20261130180000_backup_b1/backup_00001",
        "volume_vol1/20261130180000_backup_b1/backup_00002",
    ]
    stored = service.store.get_object(result["container"], names[0])
    assert zlib.decompress(stored) == noise
    manifest = service.chain(backup_dict("b1", result))[0]
    assert [e["object"] for e in manifest["extents"]] == [
        "backup_00001",
        None,
        "backup_00002",
        None,
        None,
    ]


def test_chunk_size_is_configurable(tmp_path):
    service = make_service(tmp_path, backup_chunk_size=256 * 1024)
    volume = make_volume(tmp_path / "vol", MIB, {0: os.urandom(MIB)})
    result = service.create(backup_dict("b1"), str(volume), None)
    assert result["object_count"] == 4


def test_incremental_stores_only_the_changed_blocks(service, tmp_path):
    original = os.urandom(4 * CHUNK)
    volume = make_volume(tmp_path / "vol", 4 * CHUNK, {0: original})
    full = service.create(backup_dict("full"), str(volume), None)
    assert full["object_count"] == 4

    # two changed blocks in chunk 1 (one run), one in chunk 3
    with open(volume, "r+b") as f:
        f.seek(CHUNK + 5 * BLOCK)
        f.write(os.urandom(2 * BLOCK))
        f.seek(3 * CHUNK + 100)
        f.write(b"changed")
    incr = service.create(backup_dict("incr"), str(volume), backup_dict("full", full))

    assert incr["is_incremental"] is True
    assert incr["parent_id"] == "full"
    assert incr["object_count"] == 2
    sizes = [
        len(zlib.decompress(service.store.get_object(incr["container"], name)))
        for name in data_objects(service, incr)
    ]
    assert sizes == [2 * BLOCK, BLOCK]

    unchanged = service.create(backup_dict("same"), str(volume), backup_dict("incr", incr))
    assert unchanged["object_count"] == 0


def test_restore_walks_the_chain_byte_identical_and_keeps_holes(service, tmp_path):
    volume = make_volume(
        tmp_path / "vol", 8 * CHUNK, {0: os.urandom(CHUNK), 5 * CHUNK: os.urandom(3000)}
    )
    b1 = service.create(backup_dict("b1"), str(volume), None)
    with open(volume, "r+b") as f:
        f.seek(CHUNK // 2)
        f.write(bytes(CHUNK))  # data turned to zeros: must restore as zeros
        f.seek(6 * CHUNK)
        f.write(os.urandom(BLOCK * 3))
    b2 = service.create(backup_dict("b2"), str(volume), backup_dict("b1", b1))
    with open(volume, "r+b") as f:
        f.seek(7 * CHUNK + 17)
        f.write(b"third")
    b3 = service.create(backup_dict("b3"), str(volume), backup_dict("b2", b2))
    expected = volume.read_bytes()

    target = make_volume(tmp_path / "new", 8 * CHUNK, {})
    result = service.restore(backup_dict("b3", b3), str(target))

    assert result["volume_size"] == 8 * CHUNK
    assert target.read_bytes() == expected
    # the restored volume stays thin: holes of the source are not written
    assert os.stat(target).st_blocks * 512 < 4 * CHUNK

    # into an existing volume full of other data: zero regions are written as zeros
    dirty = make_volume(tmp_path / "dirty", 8 * CHUNK + MIB, {0: b"\xff" * (8 * CHUNK + MIB)})
    service.restore(backup_dict("b3", b3), str(dirty))
    data = dirty.read_bytes()
    assert data[: 8 * CHUNK] == expected
    assert data[8 * CHUNK :] == b"\xff" * MIB  # past the backup's size: left alone

    # an earlier point of the chain
    first = service.restore(backup_dict("b1", b1), str(target))
    assert first["volume_size"] == 8 * CHUNK
    restored = target.read_bytes()
    assert restored[CHUNK // 2 : CHUNK] != bytes(CHUNK // 2)  # b1 still had data there
    assert restored[6 * CHUNK :] == bytes(2 * CHUNK)  # written after b1


def test_restore_refuses_a_volume_smaller_than_the_backup(service, tmp_path):
    volume = make_volume(tmp_path / "vol", 2 * CHUNK, {0: b"data"})
    result = service.create(backup_dict("b1"), str(volume), None)
    small = make_volume(tmp_path / "small", CHUNK, {})
    with pytest.raises(BackupInvalid, match="smaller"):
        service.restore(backup_dict("b1", result), str(small))


def corrupt(service: BackupService, result: dict, name: str, change) -> None:
    container = result["container"]
    service.store.put_object(container, name, change(service.store.get_object(container, name)))


def test_corrupt_chunk_is_detected_before_its_bytes_are_written(service, tmp_path):
    volume = make_volume(tmp_path / "vol", 3 * CHUNK, {0: os.urandom(3 * CHUNK)})
    result = service.create(backup_dict("b1"), str(volume), None)
    second = data_objects(service, result)[1]
    # valid zlib, other bytes: only the SHA-256 can tell
    corrupt(service, result, second, lambda _: zlib.compress(os.urandom(CHUNK)))

    target = make_volume(tmp_path / "new", 3 * CHUNK, {})
    with pytest.raises(BackupCorrupt, match="SHA-256"):
        service.restore(backup_dict("b1", result), str(target))
    # nothing of the corrupt chunk reached the volume
    assert target.read_bytes()[CHUNK : 2 * CHUNK] == bytes(CHUNK)


def test_truncated_or_missing_objects_are_reported_as_corrupt(service, tmp_path):
    volume = make_volume(tmp_path / "vol", 2 * CHUNK, {0: os.urandom(2 * CHUNK)})
    result = service.create(backup_dict("b1"), str(volume), None)
    first, second = data_objects(service, result)
    corrupt(service, result, second, lambda data: data[: len(data) // 2])
    target = make_volume(tmp_path / "new", 2 * CHUNK, {})
    with pytest.raises(BackupCorrupt, match="truncated"):
        service.restore(backup_dict("b1", result), str(target))

    service.store.delete_object(result["container"], first)
    with pytest.raises(BackupCorrupt, match="missing"):
        service.restore(backup_dict("b1", result), str(target))


def test_restore_of_an_incremental_whose_parent_is_gone_fails(service, tmp_path):
    volume = make_volume(tmp_path / "vol", CHUNK, {0: b"a"})
    full = service.create(backup_dict("full"), str(volume), None)
    incr = service.create(backup_dict("incr"), str(volume), backup_dict("full", full))
    service.delete(backup_dict("full", full))
    target = make_volume(tmp_path / "new", CHUNK, {})
    with pytest.raises(BackupInvalid, match="missing"):
        service.restore(backup_dict("incr", incr), str(target))


def test_delete_removes_every_object_and_tolerates_gone(service, tmp_path):
    volume = make_volume(tmp_path / "vol", 2 * CHUNK, {0: os.urandom(2 * CHUNK)})
    result = service.create(backup_dict("b1"), str(volume), None)
    assert len(service.store.list(result["container"])) == 4  # 2 chunks, sha256file, metadata
    service.delete(backup_dict("b1", result))
    assert service.store.list(result["container"]) == []
    service.delete(backup_dict("b1", result))
    service.delete({"id": "never-written"})


def test_a_failed_create_leaves_no_objects(tmp_path):
    class FailingStore(FileBackupStore):
        puts = 0

        def put_object(self, container, name, data):
            self.puts += 1
            if self.puts == 3:
                raise OSError("disk full")
            super().put_object(container, name, data)

    store = FailingStore(tmp_path / "backups")
    conf = types.SimpleNamespace(backup_chunk_size=CHUNK, backup_sha_block_size=BLOCK)
    service = BackupService(None, conf, store=store)
    volume = make_volume(tmp_path / "vol", 4 * CHUNK, {0: os.urandom(4 * CHUNK)})
    with pytest.raises(OSError, match="disk full"):
        service.create(backup_dict("b1"), str(volume), None)
    assert store.list("volumebackups") == []


def test_swift_store_without_object_storage_is_refused(tmp_path):
    with pytest.raises(BackupStoreUnavailable, match="needs object storage"):
        make_service(tmp_path, backup_store="swift", object_ring="", state_dir=str(tmp_path))
    with pytest.raises(BackupStoreUnavailable, match="unknown backup_store"):
        make_service(tmp_path, backup_store="tape")


def test_delete_of_an_unfinished_create_removes_what_it_wrote(service, tmp_path):
    volume = make_volume(tmp_path / "vol", 2 * CHUNK, {0: os.urandom(2 * CHUNK)})
    result = service.create(backup_dict("b1"), str(volume), None)
    container = result["container"]
    # as if the agent died before the manifest: data objects only, no service_metadata
    service.store.delete_object(container, result["service_metadata"]["manifest"])
    assert service.store.list(container)
    service.delete(backup_dict("b1"))  # id, volume_id and created_at only
    assert service.store.list(container) == []
