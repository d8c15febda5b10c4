"""The object auditor and the checks on read, against a real node on loopback: a corrupt
object is quarantined (by a pass, or by the GET that finds it) and never served; a pass is
rate limited and runs by itself inside the node."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest

from pocketstack.objectstore import auditor
from pocketstack.objectstore.auditor import Auditor, ObjectCorrupt, verified_stream
from pocketstack.objectstore.diskfile import DiskFile

from .conftest import Node


def _hash_dir(node: Node, name: str) -> Path:
    part = node.ring.get_part("AUTH_a", "c", name)
    return (
        node.device
        / "objects"
        / str(part)
        / node.ring.hash_path("AUTH_a", "c", name)[-3:]
        / (node.ring.hash_path("AUTH_a", "c", name))
    )


def _data_file(node: Node, name: str) -> Path:
    (data,) = _hash_dir(node, name).glob("*.data")
    return data


def _flip(path: Path, offset: int = 0) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x01]))


def _quarantined(node: Node) -> list[str]:
    qdir = node.device / "quarantined" / "objects"
    return sorted(os.listdir(qdir)) if qdir.is_dir() else []


@pytest.fixture
def node(storage_node: Node) -> Node:
    storage_node.make_account()
    storage_node.make_container()
    return storage_node


def test_clean_pass_counts_and_keeps_everything(node: Node):
    bodies = {f"o{i}": os.urandom(1000 + i) for i in range(5)}
    for name, body in bodies.items():
        assert node.put(name, body).status == 201
    stats = Auditor(node.server.node, interval=0).run_once(limited=False)
    assert (stats.objects, stats.bytes, stats.quarantined) == (5, sum(map(len, bodies.values())), 0)
    assert _quarantined(node) == []
    recon = json.loads((node.root / auditor.RECON_FILE).read_bytes())
    assert recon["object_auditor"]["objects"] == 5


@pytest.mark.parametrize(
    "damage",
    ["flip", "truncate", "sidecar"],
)
def test_pass_quarantines_a_damaged_object(node: Node, damage: str):
    assert node.put("bad", b"x" * 5000).status == 201
    assert node.put("good", b"y" * 5000).status == 201
    data = _data_file(node, "bad")
    if damage == "flip":
        _flip(data, 4321)
    elif damage == "truncate":
        os.truncate(data, 4000)
    else:
        data.with_suffix(".json").write_text("{not json")
    stats = Auditor(node.server.node, interval=0).run_once(limited=False)
    assert stats.quarantined == 1
    name_hash = node.ring.hash_path("AUTH_a", "c", "bad")
    assert _quarantined(node) == [name_hash]
    assert not _hash_dir(node, "bad").exists()
    assert node.call("GET", node.path("object", "AUTH_a", "c", "bad")).status == 404
    good = node.call("GET", node.path("object", "AUTH_a", "c", "good"))
    assert (good.status, good.body) == (200, b"y" * 5000)


def test_a_second_quarantine_of_one_name_keeps_both(node: Node):
    for _ in range(2):
        node.put("twice", b"z" * 100)
        _flip(_data_file(node, "twice"))
        Auditor(node.server.node, interval=0).run_once(limited=False)
    names = _quarantined(node)
    assert len(names) == 2 and names[0].startswith(names[1][:32])


@pytest.mark.parametrize("size", [3000, 3 * 1024 * 1024])  # served from memory / streamed
@pytest.mark.parametrize("ranged", [False, True])
def test_get_never_returns_corrupt_bytes(node: Node, size: int, ranged: bool):
    body = os.urandom(size)
    assert node.put("obj", body).status == 201
    path = node.path("object", "AUTH_a", "c", "obj")
    assert node.call("GET", path).body == body  # a good read first (the node remembers it)
    _flip(_data_file(node, "obj"), size // 2)
    headers = {"Range": f"bytes=0-{size - 1}"} if ranged else {}
    reply = node.call("GET", path, headers)
    assert reply.status == 404  # quarantined before a byte was sent: the proxy asks elsewhere
    assert body[:64] not in reply.body
    assert _quarantined(node) == [node.ring.hash_path("AUTH_a", "c", "obj")]
    assert node.call("HEAD", path).status == 404


def test_head_of_a_corrupt_object_does_not_read_it(node: Node):
    node.put("h", b"abc" * 100)
    _flip(_data_file(node, "h"))
    assert node.call("HEAD", node.path("object", "AUTH_a", "c", "h")).status == 200
    assert _quarantined(node) == []


def test_stream_cut_short_when_bytes_change_while_read(node: Node, tmp_path: Path):
    """Bytes that rot after the check before the stream: the last chunk is withheld and the
    object quarantined, so no complete corrupt body is ever sent."""
    body = os.urandom(auditor.CHUNK * 3 + 10)
    node.put("rot", body)
    df = DiskFile(
        node.device, node.ring.get_part("AUTH_a", "c", "rot"), _hash_dir(node, "rot").name
    )
    state, fh = df.open()
    assert fh is not None
    state.metadata["etag"] = hashlib.md5(b"something else").hexdigest()
    sent = []
    with pytest.raises(ObjectCorrupt):
        for chunk in verified_stream(fh, state):
            sent.append(chunk)
    assert len(b"".join(sent)) < len(body)
    assert fh.closed
    assert _quarantined(node) == [_hash_dir(node, "rot").name]


def test_pass_is_rate_limited(node: Node):
    for i in range(4):
        node.put(f"r{i}", b"r" * 50_000)
    started = time.monotonic()
    Auditor(node.server.node, interval=0, bytes_per_second=400_000, files_per_second=0).run_once()
    assert time.monotonic() - started >= 0.4  # 200 kB at 400 kB/s, at least 0.5 s less slack


def test_auditor_runs_by_itself_inside_the_node(node: Node):
    node.put("auto", b"a" * 2000)
    _flip(_data_file(node, "auto"))
    storage = node.server.node
    storage.auditor = Auditor(storage, interval=0.1, bytes_per_second=0)
    storage.auditor.start()
    try:
        deadline = time.monotonic() + 10
        while not _quarantined(node):
            assert time.monotonic() < deadline, "the auditor thread quarantined nothing"
            time.sleep(0.05)
    finally:
        storage.auditor.stop()
    recon = node.call("GET", "/recon/object").json()
    assert recon["quarantined"]["objects"] == 1  # type: ignore[index]
    assert recon["objects"] == 0  # type: ignore[index]


def test_md5_of_reads_from_the_start():
    fh = io.BytesIO(b"hello world")
    fh.seek(5)
    assert auditor.md5_of(fh) == hashlib.md5(b"hello world").hexdigest()
