"""What only the swift image store does, over up's three embedded storage nodes: data past
the single-object size is stored as segments and a manifest (read back whole, sized as a
whole), a replacement removes the old segments, a failed segmented upload leaves nothing."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketstack.common.config import Config
from pocketstack.image.stores.swift import SwiftStore
from pocketstack.objectstore.embedded import start_nodes
from pocketstack.objectstore.internal_client import close_internal_client

SEGMENT = 256 * 1024


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SwiftStore]:
    conf = Config.load(
        {"state_dir": str(tmp_path / "state"), "image_swift_chunk_size": SEGMENT}, environ={}
    )
    nodes = start_nodes(conf)
    try:
        yield SwiftStore.from_conf(conf)
    finally:
        close_internal_client(conf)
        nodes.stop()


class Broken(io.RawIOBase):
    """``good`` bytes, then a dropped connection."""

    def __init__(self, good: int):
        self.left = good

    def read(self, size: int = -1, /) -> bytes:
        if self.left <= 0:
            raise ConnectionError("gone")
        n = min(size, self.left, 65536)
        self.left -= n
        return b"z" * n


def _names(store: SwiftStore) -> list[str]:
    return store.client.list_objects(store.account, store.container)


def test_large_image_is_segments_and_a_manifest(store: SwiftStore):
    data = os.urandom(5 * 1024 * 1024 + 123)  # past 4 MiB: segmented, 21 segments
    size, _md5, _sha = store.add("big", io.BytesIO(data))
    assert size == len(data)
    names = _names(store)
    segments = [n for n in names if n.startswith("big-")]
    assert len(segments) == -(-len(data) // SEGMENT) and "big" in names
    assert store.size("big") == len(data)
    assert b"".join(store.read("big")) == data

    store.add("big", io.BytesIO(b"small now"))
    assert _names(store) == ["big"]  # the old segments went
    assert b"".join(store.read("big")) == b"small now"

    store.add("big", io.BytesIO(data))
    store.delete("big")
    assert _names(store) == []


def test_failed_segmented_upload_leaves_the_old_image(store: SwiftStore):
    store.add("img", io.BytesIO(b"old"))
    with pytest.raises(ConnectionError):
        store.add("img", Broken(4 * 1024 * 1024 + 3 * SEGMENT))
    assert _names(store) == ["img"]
    assert b"".join(store.read("img")) == b"old"


def test_reaper_view_removes_orphan_segments_and_keeps_an_images_own(store: SwiftStore):
    data = os.urandom(SEGMENT + 10)
    partial = store.partial("img")
    assert partial.fill(io.BytesIO(data))[0] == len(data)
    assert store.partial_files() == [("img", partial.prefix)]  # no manifest yet
    partial.commit()
    assert store.partial_files() == []
    store.client.put_object(store.account, store.container, "img-0123456789ab/00001", [b"x"])
    store.client.put_object(store.account, store.container, "gone-0123456789ab/00001", [b"y"])
    found = sorted(store.partial_files())
    assert found == sorted(
        [("img", partial.prefix), ("img", "img-0123456789ab/"), ("gone", "gone-0123456789ab/")]
    )
    for _image_id, prefix in found:
        store.remove_partial(prefix)
    assert b"".join(store.read("img")) == data
    assert sorted(_names(store)) == sorted(["img", *partial.written])


def test_a_cut_stream_leaves_no_segment_behind(store: SwiftStore):
    partial = store.partial("cut")
    with pytest.raises(ConnectionError):
        partial.fill(Broken(SEGMENT + 100))
    partial.discard()
    assert _names(store) == [] and not store.exists("cut")
