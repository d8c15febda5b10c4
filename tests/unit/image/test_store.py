"""The file store: atomic writes, hashes, hard links, idempotent delete."""

from __future__ import annotations

import hashlib
import io

import pytest

from pocketstack.image.stores.file import FileStore


class FailingStream(io.RawIOBase):
    """Yields some data, then fails like a dropped connection."""

    def __init__(self):
        self.calls = 0

    def read(self, size=-1):
        self.calls += 1
        if self.calls > 2:
            raise ConnectionError("client went away")
        return b"x" * 1000


def test_add_returns_size_and_hashes_and_read_gives_the_bytes(tmp_path):
    store = FileStore(tmp_path / "images")
    data = b"hello image" * 1000
    size, md5, sha512 = store.add("img-1", io.BytesIO(data))
    assert size == len(data)
    assert md5 == hashlib.md5(data).hexdigest()
    assert sha512 == hashlib.sha512(data).hexdigest()
    assert store.path("img-1") == tmp_path / "images" / "img-1"
    assert b"".join(store.read("img-1", chunk_size=7)) == data


def test_failed_write_leaves_no_file(tmp_path):
    store = FileStore(tmp_path / "images")
    with pytest.raises(ConnectionError):
        store.add("img-1", FailingStream())
    assert list((tmp_path / "images").iterdir()) == []
    assert not store.exists("img-1")


def test_failed_rewrite_keeps_previous_data(tmp_path):
    store = FileStore(tmp_path)
    store.add("img-1", io.BytesIO(b"old"))
    with pytest.raises(ConnectionError):
        store.add("img-1", FailingStream())
    assert store.path("img-1").read_bytes() == b"old"


def test_add_file_hard_links_on_the_same_file_system(tmp_path):
    source = tmp_path / "disk.qcow2"
    source.write_bytes(b"disk" * 100)
    store = FileStore(tmp_path / "images")
    size, md5, _ = store.add_file("img-1", source)
    assert (size, md5) == (400, hashlib.md5(b"disk" * 100).hexdigest())
    assert store.path("img-1").stat().st_ino == source.stat().st_ino


def test_delete_is_idempotent(tmp_path):
    store = FileStore(tmp_path)
    store.add("img-1", io.BytesIO(b"data"))
    store.delete("img-1")
    store.delete("img-1")
    assert not store.exists("img-1")


def test_read_of_missing_data_raises_at_once(tmp_path):
    with pytest.raises(FileNotFoundError):
        FileStore(tmp_path).read("nope")


@pytest.mark.parametrize("bad", ["", "../etc", ".hidden", "a/b"])
def test_path_refuses_ids_that_escape_the_store(tmp_path, bad):
    with pytest.raises(ValueError):
        FileStore(tmp_path).path(bad)


def test_partial_files_carry_their_image_id(tmp_path):
    store = FileStore(tmp_path / "images")
    assert store.partial_files() == []
    image_id = "0f8e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
    partial = store.partial(image_id)
    assert partial.path.name.startswith(f".upload-{image_id}-")
    assert store.partial_files() == [(image_id, partial.path)]


def test_partial_commit_renames_into_place_and_discard_after_it_is_a_no_op(tmp_path):
    store = FileStore(tmp_path)
    partial = store.partial("img-1")
    partial.fill(io.BytesIO(b"data"))
    partial.commit()
    partial.discard()
    assert store.path("img-1").read_bytes() == b"data"
    assert store.partial_files() == []
    dropped = store.partial("img-2")
    dropped.fill(io.BytesIO(b"half"))
    dropped.discard()
    assert store.partial_files() == [] and not store.exists("img-2")
