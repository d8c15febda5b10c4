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
from pathlib import Path
from typing import Any, Protocol

#: chunk size of reads and writes
CHUNK = 1024 * 1024

#: (size in bytes, MD5 hex digest, SHA-512 hex digest)
Hashes = tuple[int, str, str]

#: (first, last) byte offsets of a part of an image's data, both included
ByteRange = tuple[int, int]


class Readable(Protocol):
    """What a store reads data from: ``read(n)`` gives up to ``n`` bytes, ``b""`` at the
    end (a file, a request body stream, a ``LimitedReader``)."""

    def read(self, size: int = -1, /) -> bytes: ...


class PartialData(Protocol):
    """The data of one image being written, invisible until ``commit`` (what the image
    service's uploads, imports and ``create_from_file`` write through; see
    ``ImageStore.partial``). ``commit`` runs inside the transaction that records the image,
    so it must be quick; a failure to commit rolls that record back.

    Attributes:
        committed: whether ``commit()`` ran.
    """

    committed: bool

    def fill(self, stream: Readable) -> Hashes:
        """Write ``stream`` (read to EOF, in this thread) as the data; returns its hashes.
        Raises whatever reading or writing raises (the caller then ``discard``s)."""
        ...

    def link_from(self, source: Path) -> Hashes:
        """Make the local file ``source`` the data (a link where the store can, else a
        copy); returns its hashes. Raises ``OSError`` (``FileNotFoundError``) when it
        cannot be read."""
        ...

    def virtual_size(self, disk_format: str | None, size: int) -> int | None:
        """The virtual size in bytes of the data written, or ``None`` when unknown."""
        ...

    def commit(self) -> None:
        """Make the data the image's (atomic; idempotent)."""
        ...

    def discard(self) -> None:
        """Remove the data unless it was committed (idempotent)."""
        ...

    def revert(self) -> None:
        """Remove the data that ``commit`` put in place (its record was rolled back)."""
        ...


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
    def read(
        self, image_id: str, chunk_size: int = CHUNK, byte_range: ByteRange | None = None
    ) -> Iterator[bytes]:
        """Iterate over the data of ``image_id`` in chunks of up to ``chunk_size`` bytes
        (only bytes ``first..last`` of it with ``byte_range``, which lies inside the data).

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

    def partial(self, image_id: str) -> PartialData:
        """New partial data of ``image_id`` (two-phase writes, for the image service).

        Raises:
            ValueError: an invalid image id. NotImplementedError: the store has none.
        """
        raise NotImplementedError(f"image store {self.name!r} has no two-phase writes")

    def partial_files(self) -> list[tuple[str, Any]]:
        """``(image id, reference)`` of partial data in the store that may belong to no
        upload any more (the lease reaper removes those whose image has no live lease, with
        ``remove_partial``); the id is ``""`` when unknown."""
        return []

    def remove_partial(self, reference: Any) -> None:
        """Remove the partial data ``reference`` (from ``partial_files``) unless it has
        become an image's data meanwhile; succeeds when it is gone."""
        raise NotImplementedError(f"image store {self.name!r} lists no partial data")
