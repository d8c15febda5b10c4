"""Objects on disk: a write is all or nothing even when the process dies mid-way, the newest
file wins, and clean-up keeps what is still needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from pocketstack.objectstore.diskfile import RECLAIM_AGE, Devices, DeviceUnavailable, DiskFile
from pocketstack.objectstore.updates import reclaim_tmp
from pocketstack.objectstore.utils import InvalidName, Timestamp, hash_path

HASH = hash_path("", "suffix", "AUTH_a", "c", "o")
#: Timestamps of these tests are T0 + n: recent, so no tombstone is old enough to reclaim.
T0 = float(int(time.time()) - 3600)


def name(n: float, ext: str) -> str:
    return Timestamp(T0 + n).internal + ext


@pytest.fixture
def device(tmp_path):
    (tmp_path / "d1").mkdir()
    return Devices(tmp_path)


def put(df: DiskFile, tmp, ts: float, body: bytes) -> None:
    with df.writer(tmp) as writer:
        writer.write(body)
        writer.commit(Timestamp(ts), {"content-length": str(len(body)), "etag": "x"})


def test_a_process_killed_before_the_rename_leaves_nothing_visible(device, tmp_path):
    df = device.diskfile("d1", 7, HASH)
    tmp = device.tmp_dir("d1")
    put(df, tmp, T0 + 100.0, b"old")
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from pocketstack.objectstore.diskfile import DiskFile
        from pocketstack.objectstore.utils import Timestamp
        df = DiskFile(Path({str(tmp_path / "d1")!r}), 7, {HASH!r})
        writer = df.writer(Path({str(tmp)!r}))
        writer.write(b"new" * 100000)
        os._exit(9)  # dies before commit: no fsync, no rename
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == 9
    state, fh = df.open()
    assert fh is not None
    with fh:
        assert fh.read() == b"old"  # the old version, whole
    assert state.timestamp == Timestamp(T0 + 100.0)
    assert sorted(p.name for p in df.dir.iterdir()) == [
        name(100, ".data"),
        name(100, ".json"),
    ]
    leftover = list(tmp.iterdir())
    assert len(leftover) == 1  # the dead writer's temp file, outside the object
    assert reclaim_tmp(tmp, 3600) == 0  # maybe still being written
    os.utime(leftover[0], (1, 1))
    assert reclaim_tmp(tmp, 3600) == 1 and not list(tmp.iterdir())


def test_an_orphan_sidecar_without_its_data_is_invisible_and_later_cleaned(device):
    df = device.diskfile("d1", 7, HASH)
    tmp = device.tmp_dir("d1")
    put(df, tmp, T0 + 100.0, b"v1")
    # a crash between the two renames of a newer write leaves its .json alone
    (df.dir / name(200, ".json")).write_text(json.dumps({"etag": "y"}))
    assert df.state().timestamp == Timestamp(T0 + 100.0)
    put(df, tmp, T0 + 300.0, b"v3")
    assert sorted(p.name for p in df.dir.iterdir()) == [
        name(300, ".data"),
        name(300, ".json"),
    ]


def test_newest_of_data_and_tombstone_wins_and_meta_applies_only_over_older_data(device):
    df = device.diskfile("d1", 7, HASH)
    tmp = device.tmp_dir("d1")
    put(df, tmp, T0 + 200.0, b"v2")
    df.write_marker(tmp, Timestamp(T0 + 100.0), ".ts", {})  # an older delete arriving late
    assert df.state().exists
    df.write_marker(tmp, Timestamp(T0 + 250.0), ".meta", {"x-object-meta-a": "1"})
    state = df.state()
    assert state.metadata["x-object-meta-a"] == "1" and state.newest == Timestamp(T0 + 250.0)
    df.write_marker(tmp, Timestamp(T0 + 300.0), ".ts", {})
    state = df.state()
    assert state.deleted and not state.exists
    assert [p.name for p in df.dir.iterdir()] == [name(300, ".ts")]


def test_devices_refuse_names_that_are_not_one_plain_segment(device):
    for bad in ("..", ".", "a/b", "", "x\x00"):
        with pytest.raises(InvalidName):
            device.path(bad)
    with pytest.raises(DeviceUnavailable):
        device.path("d2")
    with pytest.raises(InvalidName):
        device.diskfile("d1", 1, "../" + HASH[3:])
    with pytest.raises(InvalidName):
        device.diskfile("d1", -1, HASH)


def test_a_tombstone_is_reclaimed_after_the_reclaim_age(device):
    df = device.diskfile("d1", 7, HASH)
    tmp = device.tmp_dir("d1")
    put(df, tmp, T0 + 100.0, b"v1")
    df.write_marker(tmp, Timestamp(T0 + 200.0), ".ts", {})
    df.cleanup(now=T0 + 200.0 + RECLAIM_AGE - 1)
    assert [p.name for p in df.dir.iterdir()] == [name(200, ".ts")]
    df.cleanup(now=T0 + 200.0 + RECLAIM_AGE + 1)
    assert not list(df.dir.iterdir())
    assert df.state().timestamp is None
