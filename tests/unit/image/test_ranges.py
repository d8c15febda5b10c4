"""Ranges of image downloads (``data.byte_range``, Glance's one ``Range`` of
``GET /v2/images/{id}/file``) and the file store's ranged read; the swift store's is
exercised end to end in ``tests/api/test_image_swift_store.py``."""

from __future__ import annotations

import io

import pytest

from pocketstack.image.data import byte_range
from pocketstack.image.exceptions import ImageRangeNotSatisfiable
from pocketstack.image.stores.file import FileStore


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("items=0-9", None),
        ("bytes=a-b", None),
    ],
)
def test_byte_range_of_a_100_byte_image(header, expected):
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=9-3", "bytes=-0", "bytes=0-1,5-6"])
def test_ranges_outside_the_data_are_416_with_its_size(header):
    with pytest.raises(ImageRangeNotSatisfiable) as err:
        byte_range(header, 100)
    assert err.value.status == 416 and err.value.headers == {"Content-Range": "bytes */100"}


def test_file_store_reads_only_the_range(tmp_path):
    store = FileStore(tmp_path)
    data = bytes(range(256)) * 40
    store.add("img", io.BytesIO(data))
    assert b"".join(store.read("img", chunk_size=7, byte_range=(1000, 2999))) == data[1000:3000]
    assert b"".join(store.read("img", byte_range=(len(data) - 1, len(data) - 1))) == data[-1:]
