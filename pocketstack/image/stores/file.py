"""The file store: image data as plain files in ``<state_dir>/images/<image id>``.

Data is written to a temporary file in the same directory and renamed into place, so a failed
or interrupted upload never leaves a partial image file behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024

#: (size in bytes, MD5 hex digest, SHA-512 hex digest)
Hashes = tuple[int, str, str]


class FileStore:
    """Image data files under ``root`` (created on first use)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, image_id: str) -> Path:
        """Where the data of ``image_id`` lives (the file may not exist)."""
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise ValueError(f"invalid image id {image_id!r}")
        return self.root / image_id

    def _tempfile(self) -> tuple[int, str]:
        self.root.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=self.root, prefix=".upload-")

    def add(self, image_id: str, stream: BinaryIO) -> Hashes:
        """Write ``stream`` (read to EOF) as the data of ``image_id``; returns its hashes.

        Replaces existing data. Raises whatever reading or writing raises (``OSError``...),
        after removing the temporary file.
        """
        fd, tmp = self._tempfile()
        try:
            md5, sha512, size = hashlib.md5(), hashlib.sha512(), 0
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    md5.update(chunk)
                    sha512.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path(image_id))
        except BaseException:
            _unlink(tmp)
            raise
        return size, md5.hexdigest(), sha512.hexdigest()

    def add_file(self, image_id: str, source: Path) -> Hashes:
        """Make ``source`` the data of ``image_id``: a hard link when ``source`` is on the same
        file system (no copy), else a copy. Returns its hashes.

        Raises:
            OSError: ``source`` cannot be read or the store cannot be written.
        """
        fd, tmp = self._tempfile()
        os.close(fd)
        try:
            try:
                os.unlink(tmp)
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            hashes = file_hashes(Path(tmp))
            os.replace(tmp, self.path(image_id))
        except BaseException:
            _unlink(tmp)
            raise
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

    def read(self, image_id: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Iterate over the data of ``image_id`` in chunks.

        Raises:
            FileNotFoundError: no data for ``image_id`` (raised on creation, not on first
                iteration: the file is opened before the iterator is returned).
        """
        handle = open(self.path(image_id), "rb")  # noqa: SIM115 - closed by the generator

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(chunk_size):
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
