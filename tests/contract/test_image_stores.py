"""The image store contract (``pocketstack.image.stores.base``), run against every store
registered in ``pocketstack.common.drivers.IMAGE_STORES``.

Each store is built with ``Class.from_conf(conf)`` over a temp state directory. ``LEFTOVERS``
says, per store, how to list everything it keeps (to check that a failed write left nothing):
a new store adds its entry there, and ``BACKENDS`` what must run for it (the swift store's
three storage nodes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import uuid as uuidlib
from collections.abc import Callable, Iterator

import pytest

from pocketstack.common.config import Config
from pocketstack.common.drivers import IMAGE_STORES
from pocketstack.image.stores.base import ImageStore


def _file_store_names(store: ImageStore) -> set[str]:
    root = store.root  # type: ignore[attr-defined]
    return set(os.listdir(root)) if os.path.isdir(root) else set()


def _swift_store_names(store: ImageStore) -> set[str]:
    client = store.client  # type: ignore[attr-defined]
    return set(client.list_objects(store.account, store.container))  # type: ignore[attr-defined]


#: store name -> every name the store holds (data and partial data alike)
LEFTOVERS: dict[str, Callable[[ImageStore], set[str]]] = {
    "file": _file_store_names,
    "swift": _swift_store_names,
}


@contextlib.contextmanager
def _swift_backend(conf: Config) -> Iterator[None]:
    """Three storage nodes of a 3-replica ring in the state directory (``pocketstack up``'s
    embedded nodes), stopped afterwards with the store's internal client."""
    from pocketstack.objectstore.embedded import start_nodes
    from pocketstack.objectstore.internal_client import close_internal_client

    nodes = start_nodes(conf)
    try:
        yield
    finally:
        close_internal_client(conf)
        nodes.stop()


#: store name -> what must run for a store over ``conf``'s state directory
BACKENDS: dict[str, Callable[[Config], contextlib.AbstractContextManager]] = {
    "file": lambda conf: contextlib.nullcontext(),
    "swift": _swift_backend,
}


class FailingStream(io.RawIOBase):
    """Gives ``chunks`` chunks of data, then fails like a dropped connection."""

    def __init__(self, chunks: int = 2):
        self.left = chunks

    def read(self, size: int = -1, /) -> bytes:
        if self.left == 0:
            raise ConnectionError("client went away")
        self.left -= 1
        return b"x" * 1000


@pytest.fixture(params=IMAGE_STORES.names)
def store(request, tmp_path) -> Iterator[ImageStore]:
    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    with BACKENDS[request.param](conf):
        yield IMAGE_STORES.load_class(request.param).from_conf(conf)


def _image_id() -> str:
    return str(uuidlib.uuid4())


def _hashes(data: bytes) -> tuple[int, str, str]:
    return len(data), hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest()


def test_registered_under_its_name_with_capabilities(store):
    assert store.name in IMAGE_STORES.names
    assert set(store.capabilities) >= {"local_path"}
    assert all(isinstance(v, bool) for v in store.capabilities.values())
    assert store.name in LEFTOVERS


def test_add_returns_hashes_and_read_gives_the_bytes(store):
    image_id, data = _image_id(), os.urandom(3 * 1024 * 1024 + 17)
    assert store.add(image_id, io.BytesIO(data)) == _hashes(data)
    assert store.exists(image_id)
    assert store.size(image_id) == len(data)
    assert b"".join(store.read(image_id)) == data


def test_read_in_chunks(store):
    image_id, data = _image_id(), os.urandom(10_000)
    store.add(image_id, io.BytesIO(data))
    chunks = list(store.read(image_id, chunk_size=4096))
    assert [len(c) for c in chunks] == [4096, 4096, 1808]
    assert b"".join(chunks) == data


def test_empty_image(store):
    image_id = _image_id()
    assert store.add(image_id, io.BytesIO(b"")) == _hashes(b"")
    assert store.exists(image_id) and store.size(image_id) == 0
    assert b"".join(store.read(image_id)) == b""


def test_add_replaces_existing_data(store):
    image_id = _image_id()
    store.add(image_id, io.BytesIO(b"old" * 100))
    store.add(image_id, io.BytesIO(b"new"))
    assert b"".join(store.read(image_id)) == b"new"
    assert store.size(image_id) == 3


def test_failed_add_leaves_nothing(store):
    image_id = _image_id()
    before = LEFTOVERS[store.name](store)
    with pytest.raises(ConnectionError):
        store.add(image_id, FailingStream())
    assert not store.exists(image_id)
    assert LEFTOVERS[store.name](store) == before


def test_failed_add_keeps_earlier_data(store):
    image_id = _image_id()
    store.add(image_id, io.BytesIO(b"good data"))
    before = LEFTOVERS[store.name](store)
    with pytest.raises(ConnectionError):
        store.add(image_id, FailingStream())
    assert b"".join(store.read(image_id)) == b"good data"
    assert LEFTOVERS[store.name](store) == before


def test_delete_then_gone_and_twice_is_ok(store):
    image_id = _image_id()
    store.add(image_id, io.BytesIO(b"data"))
    store.delete(image_id)
    assert not store.exists(image_id)
    with pytest.raises(FileNotFoundError):
        store.read(image_id)
    store.delete(image_id)
    store.delete(_image_id())  # never existed


def test_missing_image(store):
    image_id = _image_id()
    assert not store.exists(image_id)
    with pytest.raises(FileNotFoundError):
        store.read(image_id)  # raised by the call, before any iteration
    with pytest.raises(FileNotFoundError):
        store.size(image_id)


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", ".hidden"])
def test_ids_that_could_escape_the_store_are_refused(store, bad):
    with pytest.raises(ValueError):
        store.add(bad, io.BytesIO(b"x"))
    with pytest.raises(ValueError):
        store.delete(bad)


def test_reader_of_old_data_unaffected_by_replace_and_delete(store):
    image_id = _image_id()
    store.add(image_id, io.BytesIO(b"A" * 10_000))
    reader = store.read(image_id, chunk_size=1000)
    first = next(reader)
    store.add(image_id, io.BytesIO(b"B" * 10_000))
    store.delete(image_id)
    assert first + b"".join(reader) == b"A" * 10_000


def test_concurrent_adds(store):
    items = {_image_id(): os.urandom(50_000) for _ in range(8)}
    errors: list[Exception] = []

    def add(image_id: str, data: bytes) -> None:
        try:
            store.add(image_id, io.BytesIO(data))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=item) for item in items.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for image_id, data in items.items():
        assert b"".join(store.read(image_id)) == data
    assert LEFTOVERS[store.name](store) >= set(items)


def test_new_store_over_the_same_state_sees_the_data(store, tmp_path):
    image_id = _image_id()
    store.add(image_id, io.BytesIO(b"kept"))
    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    again = type(store).from_conf(conf)
    assert b"".join(again.read(image_id)) == b"kept"


def test_store_root_is_made_on_first_write(tmp_path):
    """A fresh state directory: reading finds nothing, writing creates what it needs."""
    for name in IMAGE_STORES.names:
        conf = Config.load({"state_dir": str(tmp_path / name)}, environ={})
        with BACKENDS[name](conf):
            store = IMAGE_STORES.load_class(name).from_conf(conf)
            assert not store.exists("x")
            store.delete("x")
            store.add("x", io.BytesIO(b"1"))
            assert store.exists("x")
