"""The image store contract: where the image service keeps image data (after Glance's stores).

A store holds the bytes of images by image id; the image service (``pocketstack.image.data``)
owns the records, statuses, leases and limits, the store only moves bytes. Rules every store
keeps (checked by ``tests/contract/test_image_stores.py`` against every store):

- ``add`` is all or nothing: readers never see part of an image, and a write that fails
  (the stream raises, the disk fills) removes its partial data before the error propagates
  and leaves earlier data of that id as it was.
- ``delete`` of data that is already gone (or never existed) succeeds.
- Backend names (paths, object names, containers) stay inside the store; callers speak
  image ids. An id that could escape the store (empty, ``/``, leading ``.``) is refused with
  ``ValueError``.
- The store imports neither the database nor another store.
- ``capabilities`` declares what it supports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, Protocol

#: chunk size of reads and writes
CHUNK = 1024 * 1024

#: (size in bytes, MD5 hex digest, SHA-512 hex digest)
Hashes = tuple[int, str, str]


class Readable(Protocol):
    """What a store reads data from: ``read(n)`` gives up to ``n`` bytes, ``b""`` at the
    end (a file, a request body stream, a ``LimitedReader``)."""

    def read(self, size: int = -1, /) -> bytes: ...


class ImageStore(ABC):
    """Base of every image store.

    Attributes:
        name: registry name (``file``).
        capabilities: ``{"local_path": bool}``: whether the data of an image is a file on
            this host that a hypervisor can open directly.
    """

    name = "base"
    capabilities: dict[str, bool] = {}

    @classmethod
    @abstractmethod
    def from_conf(cls, conf: Any) -> ImageStore:
        """The store this host's configuration describes (``conf`` is a ``Config``)."""

    @abstractmethod
    def add(self, image_id: str, stream: Readable) -> Hashes:
        """Store ``stream`` (read to EOF) as the data of ``image_id``; returns its hashes.

        Replaces existing data once the new data is complete.

        Raises:
            ValueError: an invalid image id.
            Whatever reading ``stream`` or writing raises, after removing the partial data.
        """

    @abstractmethod
    def read(self, image_id: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Iterate over the data of ``image_id`` in chunks of up to ``chunk_size`` bytes.

        Raises:
            FileNotFoundError: no data for ``image_id`` (raised by this call, not on the
                first iteration).
        """

    @abstractmethod
    def delete(self, image_id: str) -> None:
        """Remove the data of ``image_id``; succeeds when it is already gone."""

    @abstractmethod
    def exists(self, image_id: str) -> bool:
        """Whether the store holds (complete) data for ``image_id``."""

    @abstractmethod
    def size(self, image_id: str) -> int:
        """The size in bytes of the data of ``image_id``.

        Raises:
            FileNotFoundError: no data for ``image_id``.
        """
