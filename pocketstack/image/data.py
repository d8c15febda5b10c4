"""Image data: upload, download, glance-direct import (stage + import), local files.

Reached as ``cloud.image.data``. Status moves ``queued -> saving -> active`` for an upload and
``queued -> uploading -> importing -> active`` for an import; the ``queued``/``uploading``
check and the move are one conditional ``UPDATE`` so two concurrent uploads cannot both win.
A failed upload leaves no data file and the image back in ``queued``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import BadRequest
from pocketstack.image import access, fields
from pocketstack.image.exceptions import (
    ImageDataNotFound,
    ImageForbidden,
    ImageNotFound,
    InvalidImageStatus,
)
from pocketstack.image.formats import virtual_size
from pocketstack.image.models import Image
from pocketstack.image.stores.file import FileStore, Hashes, file_hashes
from pocketstack.image.views import image_view

IMPORT_METHODS = ("glance-direct",)


class ImageDataManager:
    """Moves image data in and out of the file store and keeps the status in step."""

    def __init__(self, cloud: Any, records: Any):
        self.db = cloud.db
        self.records = records
        self.store = FileStore(cloud.conf.path("images"))
        self.staging = FileStore(cloud.conf.path("images", "staging"))

    def image_path(self, image_id: str) -> Path:
        """The local store file of ``image_id`` (it may not exist on other hosts)."""
        return self.store.path(image_id)

    def delete_data(self, image_id: str) -> None:
        """Remove stored and staged data of a deleted image (idempotent)."""
        self.store.delete(image_id)
        self.staging.delete(image_id)

    def upload_image(self, ctx: RequestContext, image_id: str, stream: BinaryIO) -> None:
        """Store ``stream`` as the image's data (Image API "Upload binary image data").

        Sets ``size``, ``checksum`` (MD5), ``os_hash_algo``/``os_hash_value`` (SHA-512) and
        ``virtual_size``; status becomes ``active``.

        Raises:
            ImageNotFound: unknown, not visible, or deleted during the upload.
            ImageForbidden: not the owner. BadRequest: disk/container format not set.
            InvalidImageStatus (409): the image is not ``queued``.
        """
        self._move(ctx, image_id, "queued", "saving")
        try:
            hashes = self.store.add(image_id, stream)
        except BaseException:
            self._set_status(image_id, "saving", "queued")
            raise
        self._finish(image_id, "saving", hashes)

    def download_image(
        self, ctx: RequestContext, image_id: str
    ) -> tuple[Iterator[bytes] | None, dict[str, Any]]:
        """The image's data as chunks (``None`` when it has none yet) and its view.

        Raises:
            ImageNotFound: unknown or not visible. ImageForbidden: deactivated (non-admin).
            ImageDataNotFound: active but the data is not in this host's store.
        """
        with self.db.reader() as s:
            image = access.load_visible(s, ctx, image_id)
            view = image_view(image)
        if view["status"] == "deactivated" and not ctx.is_admin:
            raise ImageForbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        if view["status"] not in ("active", "deactivated") or view["size"] is None:
            return None, view
        try:
            return self.store.read(image_id), view
        except FileNotFoundError:
            raise ImageDataNotFound(f"Image {image_id} has no data on this host.") from None

    def stage_image(self, ctx: RequestContext, image_id: str, stream: BinaryIO) -> None:
        """Stage data for a ``glance-direct`` import; status ``queued -> uploading``.

        Raises the same errors as ``upload_image``.
        """
        self._move(ctx, image_id, "queued", "uploading")
        try:
            self.staging.add(image_id, stream)
        except BaseException:
            self._set_status(image_id, "uploading", "queued")
            raise

    def import_image(self, ctx: RequestContext, image_id: str, method: str) -> None:
        """Import staged data (``glance-direct``); runs to completion before returning.

        Raises:
            BadRequest: an unsupported method. InvalidImageStatus (409): nothing staged.
            ImageNotFound, ImageForbidden: as for ``upload_image``.
        """
        if method not in IMPORT_METHODS:
            raise BadRequest(
                f"Import method {method!r} is not supported; use {', '.join(IMPORT_METHODS)}."
            )
        self._move(ctx, image_id, "uploading", "importing")
        staged = self.staging.path(image_id)
        try:
            hashes = file_hashes(staged)
            self.store.move_from(image_id, staged)
        except BaseException:
            self._set_status(image_id, "importing", "uploading")
            raise
        self._finish(image_id, "importing", hashes)

    @staticmethod
    def import_info() -> dict[str, Any]:
        """The ``/v2/info/import`` document: the import methods this cloud supports."""
        return {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": list(IMPORT_METHODS),
            }
        }

    def create_image_from_file(
        self,
        ctx: RequestContext,
        name: str,
        path: Path,
        disk_format: str = "qcow2",
        container_format: str = "bare",
        visibility: str = "public",
        properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Make a local file an active image (bootstrap's ``cirros``); idempotent.

        An active image named ``name`` with the same MD5 is returned unchanged; otherwise a new
        image is created and the file hard-linked (same file system) or copied into the store.

        Raises:
            OSError: ``path`` cannot be read. BadRequest: an invalid format or property.
        """
        size, md5, _sha = file_hashes(path)
        with self.db.reader() as s:
            found = s.scalars(
                sa.select(Image).where(
                    Image.name == name, Image.status == "active", Image.checksum == md5
                )
            ).first()
            if found is not None:
                return image_view(found)
        core = {
            "name": name,
            "disk_format": fields.coerce("disk_format", disk_format),
            "container_format": fields.coerce("container_format", container_format),
            "visibility": fields.coerce("visibility", visibility),
        }
        props = {k: fields.check_property(k, str(v)) for k, v in (properties or {}).items()}
        image_id = self.records.create_image(ctx, core, props)["id"]
        self._move(ctx, image_id, "queued", "saving")
        try:
            hashes = self.store.add_file(image_id, Path(path))
        except BaseException:
            self._set_status(image_id, "saving", "queued")
            raise
        self._finish(image_id, "saving", hashes)
        return self.records.get_image(ctx, image_id)

    def _move(self, ctx: RequestContext, image_id: str, old: str, new: str) -> None:
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if image.status != old:
                raise InvalidImageStatus(
                    f"Image status transition from {image.status} to {new} is not allowed."
                )
            if not image.disk_format or not image.container_format:
                raise BadRequest(
                    "Properties disk_format, container_format must be set prior to saving data."
                )
            if (
                s.execute(
                    sa.update(Image)
                    .where(Image.id == image_id, Image.status == old)
                    .values(status=new)
                ).rowcount
                != 1
            ):
                raise InvalidImageStatus(f"Image {image_id} is being changed by another request.")

    def _set_status(self, image_id: str, old: str, new: str) -> None:
        with self.db.transaction() as s:
            s.execute(
                sa.update(Image).where(Image.id == image_id, Image.status == old).values(status=new)
            )

    def _finish(self, image_id: str, old: str, hashes: Hashes) -> None:
        size, md5, sha512 = hashes
        with self.db.reader() as s:
            disk_format = s.scalar(sa.select(Image.disk_format).where(Image.id == image_id))
        vsize = virtual_size(self.store.path(image_id), disk_format, size)
        with self.db.transaction() as s:
            done = s.execute(
                sa.update(Image)
                .where(Image.id == image_id, Image.status == old)
                .values(
                    status="active",
                    size=size,
                    checksum=md5,
                    os_hash_algo="sha512",
                    os_hash_value=sha512,
                    virtual_size=vsize,
                )
            ).rowcount
        if done != 1:
            self.delete_data(image_id)
            raise ImageNotFound(f"Image {image_id} was deleted while its data was saved.")
