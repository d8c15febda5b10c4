"""The file store: image data as plain files in ``<state_dir>/images/<image id>``.

Data is written to a partial file ``.upload-<image id>-<random>`` in the same directory and
renamed into place, so readers never see half an image. A failed write removes its partial
file at once; one left by a process that died mid-write is found by ``partial_files()`` (the
name says which image it was for) and removed by the image service's lease reaper
(``pocketstack.image.uploads``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pocketstack.image.formats import virtual_size
from pocketstack.image.stores.base import CHUNK, ByteRange, Hashes, ImageStore, Readable

#: name prefix of a partial file: ``.upload-<image id>-<random>``
PARTIAL_PREFIX = ".upload-"


class PartialFile:
    """A partial file being filled with the data of one image; ``commit()`` renames it into
    place, ``discard()`` removes it (both idempotent, and ``discard`` after ``commit`` is a
    no-op).

    Attributes:
        path: the partial file. target: where ``commit()`` puts it.
        committed: whether ``commit()`` ran.
    """

    def __init__(self, path: Path, target: Path):
        self.path = path
        self.target = target
        self.committed = False

    def fill(self, stream: Readable) -> Hashes:
        """Write ``stream`` (read to EOF, in chunks of up to 1 MiB) and fsync; returns the
        hashes. Raises whatever reading or writing raises (the caller discards)."""
        md5, sha512, size = hashlib.md5(), hashlib.sha512(), 0
        with open(self.path, "wb") as out:
            while chunk := stream.read(CHUNK):
                md5.update(chunk)
                sha512.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return size, md5.hexdigest(), sha512.hexdigest()

    def link_from(self, source: Path) -> Hashes:
        """Make the partial file ``source`` itself (a hard link on the same file system, no
        copy) or a copy of it; returns the hashes. Raises ``OSError`` when ``source`` cannot
        be read.

        The image's data is its owner's only either way: a link shares the source's mode
        (the guest image cache's file may be 0644), so it is narrowed, the source with it."""
        try:
            _unlink(self.path)
            os.link(source, self.path)
            os.chmod(self.path, os.stat(self.path).st_mode & 0o700)
        except OSError:
            _unlink(self.path)
            shutil.copyfile(source, self.path)
        return file_hashes(self.path)

    def virtual_size(self, disk_format: str | None, size: int) -> int | None:
        """The virtual size in bytes of the partial file's data (``formats.virtual_size``)."""
        return virtual_size(self.path, disk_format, size)

    def commit(self) -> None:
        """Rename the partial file into place (atomic; replaces existing data)."""
        if not self.committed:
            os.replace(self.path, self.target)
            self.committed = True

    def discard(self) -> None:
        """Remove the partial file unless it was committed."""
        if not self.committed:
            _unlink(self.path)

    def revert(self) -> None:
        """Remove the file ``commit`` renamed into place (nothing when it did not run)."""
        if self.committed:
            _unlink(self.target)


class FileStore(ImageStore):
    """Image data files under ``root`` (created on first use).

    Besides the ``ImageStore`` contract, the image service uses what only a local store has:
    ``path``, two-phase writes (``partial``), ``add_file``, ``move_from``, ``partial_files``.
    """

    name = "file"
    capabilities = {"local_path": True}

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @classmethod
    def from_conf(cls, conf: Any) -> FileStore:
        """The store in ``<state_dir>/images``."""
        return cls(conf.path("images"))

    def path(self, image_id: str) -> Path:
        """Where the data of ``image_id`` lives (the file may not exist)."""
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise ValueError(f"invalid image id {image_id!r}")
        return self.root / image_id

    def partial(self, image_id: str) -> PartialFile:
        """A new, empty partial file for the data of ``image_id`` (the root is created)."""
        target = self.path(image_id)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f"{PARTIAL_PREFIX}{image_id}-")
        os.close(fd)
        return PartialFile(Path(tmp), target)

    def partial_files(self) -> list[tuple[str, Path]]:
        """``(image id, path)`` of every partial file in the store (none when it is missing);
        the id is ``""`` for a partial file of an older version, whose name did not carry it."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            if name.startswith(PARTIAL_PREFIX):
                image_id = name[len(PARTIAL_PREFIX) :].rpartition("-")[0]
                found.append((image_id, self.root / name))
        return found

    def remove_partial(self, reference: Path) -> None:
        """Remove the partial file ``reference`` (from ``partial_files``); a committed one
        was renamed away, so nothing of an image is touched."""
        _unlink(reference)

    def add(self, image_id: str, stream: Readable) -> Hashes:
        """Write ``stream`` (read to EOF) as the data of ``image_id``; returns its hashes.

        Replaces existing data. Raises whatever reading or writing raises (``OSError``...),
        after removing the partial file.
        """
        partial = self.partial(image_id)
        try:
            hashes = partial.fill(stream)
            partial.commit()
        finally:
            partial.discard()
        return hashes

    def add_file(self, image_id: str, source: Path) -> Hashes:
        """Make ``source`` the data of ``image_id``: a hard link when ``source`` is on the same
        file system (no copy), else a copy. Returns its hashes.

        Raises:
            OSError: ``source`` cannot be read or the store cannot be written.
        """
        partial = self.partial(image_id)
        try:
            hashes = partial.link_from(source)
            partial.commit()
        finally:
            partial.discard()
        return hashes

    def move_from(self, image_id: str, source: Path) -> None:
        """Rename ``source`` (e.g. a staged upload on the same file system) into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.replace(source, self.path(image_id))

    def delete(self, image_id: str) -> None:
        """Remove the data of ``image_id``; succeeds when it is already gone."""
        _unlink(self.path(image_id))

    def exists(self, image_id: str) -> bool:
        """Whether this host's store holds data for ``image_id``."""
        return self.path(image_id).is_file()

    def size(self, image_id: str) -> int:
        """The size in bytes of the data of ``image_id``.

        Raises:
            FileNotFoundError: no data for ``image_id``.
        """
        return self.path(image_id).stat().st_size

    def read(
        self, image_id: str, chunk_size: int = CHUNK, byte_range: ByteRange | None = None
    ) -> Iterator[bytes]:
        """Iterate over the data of ``image_id`` in chunks (``byte_range``: its bytes
        ``first..last`` only).

        Raises:
            FileNotFoundError: no data for ``image_id`` (raised on creation, not on first
                iteration: the file is opened before the iterator is returned).
        """
        handle = open(self.path(image_id), "rb")  # noqa: SIM115 - closed by the generator

        def chunks() -> Iterator[bytes]:
            with handle:
                if byte_range is None:
                    while chunk := handle.read(chunk_size):
                        yield chunk
                    return
                handle.seek(byte_range[0])
                left = byte_range[1] - byte_range[0] + 1
                while left > 0 and (chunk := handle.read(min(chunk_size, left))):
                    left -= len(chunk)
                    yield chunk

        return chunks()


def file_hashes(path: Path) -> Hashes:
    """Size, MD5 and SHA-512 of the file at ``path``."""
    md5, sha512, size = hashlib.md5(), hashlib.sha512(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha512.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest(), sha512.hexdigest()


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
