"""The swift backup store over ``pocketstack up``'s three embedded storage nodes: the store's
rules (put/get/list/delete, names that could escape), and a chain of backups made and
restored byte for byte by the real BackupService with ``backup_store = "swift"``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketstack.common.config import Config
from pocketstack.objectstore.embedded import start_nodes
from pocketstack.objectstore.internal_client import close_internal_client
from pocketstack.volume.backup import BackupService
from pocketstack.volume.backup.stores import (
    BackupObjectNotFound,
    SwiftBackupStore,
    store_from_conf,
)

MIB = 1024 * 1024


@pytest.fixture
def conf(tmp_path: Path) -> Iterator[Config]:
    conf = Config.load(
        {
            "state_dir": str(tmp_path / "state"),
            "backup_store": "swift",
            "backup_chunk_size": MIB,
        },
        environ={},
    )
    nodes = start_nodes(conf)
    try:
        yield conf
    finally:
        close_internal_client(conf)
        nodes.stop()


def test_store_rules(conf: Config):
    store = store_from_conf(conf)
    assert isinstance(store, SwiftBackupStore)
    store.put_object("c", "volume_v/1_backup_b/backup_00001", b"one")
    store.put_object("c", "volume_v/1_backup_b/metadata", b"{}")
    store.put_object("c", "volume_w/2_backup_x/metadata", b"{}")
    store.put_object("c", "volume_v/1_backup_b/metadata", b"{new}")  # replaced whole
    assert store.get_object("c", "volume_v/1_backup_b/metadata") == b"{new}"
    assert store.list("c", "volume_v/") == [
        "volume_v/1_backup_b/backup_00001",
        "volume_v/1_backup_b/metadata",
    ]
    assert store.list("missing") == []
    store.delete_object("c", "volume_v/1_backup_b/metadata")
    store.delete_object("c", "volume_v/1_backup_b/metadata")  # gone: still fine
    with pytest.raises(BackupObjectNotFound):
        store.get_object("c", "volume_v/1_backup_b/metadata")
    for container, name in [("c", "../x"), ("c", "/abs"), ("c/d", "x"), ("c", "a//b")]:
        with pytest.raises(ValueError):
            store.put_object(container, name, b"x")
    # the objects are Swift objects: three replicas on the nodes' disks
    data_files = list(Path(conf.state_dir, "objects").glob("n*/d*/objects/*/*/*/*.data"))
    assert len(data_files) == 2 * 3  # two live objects


def test_backup_chain_restores_byte_for_byte(conf: Config, tmp_path: Path):
    service = BackupService(driver=None, conf=conf)
    assert isinstance(service.store, SwiftBackupStore)
    volume = tmp_path / "vol"
    with open(volume, "wb") as f:
        f.truncate(4 * MIB)
        f.write(os.urandom(MIB + 5))
    backup = {"id": "b1", "volume_id": "v1", "created_at": "2026-11-30T18:00:00"}
    first = service.create(backup, str(volume), None)
    with open(volume, "r+b") as f:
        f.seek(3 * MIB)
        f.write(b"changed")
    parent = {**backup, **{k: first[k] for k in ("container", "service_metadata")}}
    second = service.create({**backup, "id": "b2"}, str(volume), parent)
    target = tmp_path / "restored"
    with open(target, "wb") as f:
        f.truncate(4 * MIB)
    made = {**backup, "id": "b2", **{k: second[k] for k in ("container", "service_metadata")}}
    service.restore(made, str(target))
    assert target.read_bytes() == volume.read_bytes()
    assert second["container"] == "volumebackups"
