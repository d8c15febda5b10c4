"""Image data: upload, download, glance-direct import (stage + import), local files.

Reached as ``cloud.image.data`` (``ImageData``). Status moves ``queued -> saving -> active``
for an upload and ``queued -> uploading -> importing -> active`` for an import (Image API v2
"Image data" and "Interoperable image import"); every move is a ``states.transition`` and each
operation starts only from the status ``states.ACTIONS`` gives it.

Every data operation runs under the image's data lease (``pocketstack.image.uploads``):

1. begin: one transaction checks the caller, the status and the limits (``limits``; a
   ``Content-Length`` over them is refused here, before anything is read) and takes the lease
   with the status move, so two concurrent uploads cannot both win;
2. the data streams into the store's partial data (``ImageStore.partial``: a partial file
   of the file store, segments of the swift store), counted against the limits as it arrives;
3. record: one transaction re-checks the quota, records the outcome, releases the lease and
   commits the partial data (renames the file into place, writes the swift manifest); it
   writes nothing if the lease was lost.

An upload that fails in this process (client gone, store error, size cap or quota) removes
its partial data and puts the image back to ``queued``, as Glance does; one whose process died
is put back by a reaper once its lease lapses, and the reaper removes the partial data no
live upload owns (``ImageStore.partial_files``).

The store is ``conf.image_store``: ``file`` (``<state_dir>/images``, a path the local compute
host opens directly) or ``swift`` (object storage; compute hosts download the image from
``/v2/images/{id}/file``). glance-direct staging is always a local directory, as Glance's
``node_staging_uri``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.common.drivers import IMAGE_STORES
from pocketstack.common.errors import BadRequest, RequestTooLarge
from pocketstack.image import access, fields, states
from pocketstack.image.exceptions import (
    ImageDataNotFound,
    ImageForbidden,
    ImageNotFound,
    ImageRangeNotSatisfiable,
    InvalidImageStatus,
    UploadLeaseLost,
)
from pocketstack.image.images import Images
from pocketstack.image.limits import Allowance, ImageLimits, LimitedReader
from pocketstack.image.models import Image
from pocketstack.image.stores.base import ByteRange, Hashes, ImageStore, PartialData, Readable
from pocketstack.image.stores.file import FileStore, file_hashes
from pocketstack.image.uploads import Clock, Lease, Reaper, UploadLeases

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

IMPORT_METHODS = ("glance-direct", "web-download")


def _store(conf: Any) -> ImageStore:
    """The store named by ``conf.image_store`` (``file`` or ``swift``).

    Raises:
        UnknownDriver (a ``ValueError``): an unregistered store name.
        ImageStoreUnavailable (a ``ValueError``): swift without object storage here.
    """
    return IMAGE_STORES.load_class(conf.image_store).from_conf(conf)


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """``(first, last)`` of a ``Range: bytes=first-[last]`` or ``bytes=-suffix`` header over
    ``size`` bytes (RFC 9110 14.1.2; Glance serves one range); ``None`` for no header or one
    this does not parse (the whole data is sent, as HTTP allows).

    Raises:
        ImageRangeNotSatisfiable (416): several ranges, or no byte of the data in it.
    """
    if not header or not header.strip().startswith("bytes="):
        return None
    spec = header.strip()[6:].strip()
    unsatisfiable = {"Content-Range": f"bytes */{size}"}
    if "," in spec:
        raise ImageRangeNotSatisfiable("Only one byte range is supported.", headers=unsatisfiable)
    first_text, dash, last_text = spec.partition("-")
    if not dash or not (first_text.strip() or last_text.strip()):
        return None
    try:
        if not first_text.strip():
            first, last = max(size - int(last_text), 0), size - 1
            if int(last_text) == 0:
                raise ImageRangeNotSatisfiable(
                    f"Range {header} is outside the image's {size} bytes.", headers=unsatisfiable
                )
        else:
            first = int(first_text)
            last = min(int(last_text), size - 1) if last_text.strip() else size - 1
    except ValueError:
        return None
    if first < 0 or first > last or first >= size:
        raise ImageRangeNotSatisfiable(
            f"Range {header} is outside the image's {size} bytes.", headers=unsatisfiable
        )
    return first, last


class ImageData:
    """Moves image data in and out of the image store and keeps the status in step.

    Args:
        cloud: supplies ``conf`` and ``db``. records: the image records (``Images``).
        clock: naive-UTC "now" of the leases (tests inject one).

    Attributes:
        store, staging: this host's image store (``conf.image_store``) and glance-direct
            staging area.
        leases: this process's data leases (renewed by ``ImageManager``'s periodic task).
        limits: ``image_size_cap`` and ``image_user_storage_quota``.
        reaper: puts images whose lease lapsed back to ``queued``, removes stale partials.
    """

    def __init__(self, cloud: Cloud, records: Images, clock: Clock = utcnow):
        conf = cloud.conf
        self.db = cloud.db
        self.records = records
        self.store = _store(conf)
        self.staging = FileStore(conf.path("images", "staging"))
        self.leases = UploadLeases(self.db, conf.image_upload_lease, clock=clock)
        self.limits = ImageLimits(conf.image_size_cap, conf.image_user_storage_quota)
        self.reaper = Reaper(self.leases, (self.store, self.staging))

    def image_path(self, image_id: str) -> Path | None:
        """The local store file of ``image_id`` (it may not exist on other hosts); ``None``
        when the store keeps no files (``swift``: read the data through the Image API)."""
        if isinstance(self.store, FileStore):
            return self.store.path(image_id)
        return None

    def delete_data(self, image_id: str) -> None:
        """Remove stored and staged data of a deleted image (idempotent)."""
        self.store.delete(image_id)
        self.staging.delete(image_id)

    def upload(
        self, ctx: RequestContext, image_id: str, stream: Readable, size: int | None = None
    ) -> None:
        """Store ``stream`` as the image's data (Image API "Upload binary image data").

        Args:
            stream: the data, read to EOF (a file-like object with ``read(n)``).
            size: the announced size in bytes (``Content-Length``), ``None`` when unknown;
                the data itself is counted as it arrives whatever this says.

        Sets ``size`` (bytes), ``checksum`` (MD5), ``os_hash_algo``/``os_hash_value``
        (SHA-512) and ``virtual_size``; status becomes ``active``. On any failure the image is
        back in ``queued`` and no data is kept.

        Raises:
            ImageNotFound: unknown, not visible, or deleted during the upload.
            ImageForbidden: not the owner. BadRequest: disk/container format not set.
            InvalidImageStatus (409): the image is not ``queued``.
            ImageSizeLimitExceeded, StorageQuotaFull (413): over ``image_size_cap`` or the
                owner's ``image_user_storage_quota``.
            UploadLeaseLost (409): another controller took the upload over (this one had
                stopped renewing its lease).
            Whatever reading ``stream`` raises (``errors.ClientDisconnected`` for a client gone).
        """
        lease, allowance = self._begin(ctx, image_id, "upload", size)
        self._receive(
            lease,
            states.SAVING,
            self.store,
            lambda partial: partial.fill(LimitedReader(stream, allowance)),
            lambda partial, hashes: self._record_active(lease, states.SAVING, hashes, partial),
        )

    def download(
        self, ctx: RequestContext, image_id: str, range_header: str | None = None
    ) -> tuple[Iterator[bytes] | None, Image]:
        """The image's data as chunks (``None`` when it has none yet) and the image (Image
        API "Download binary image data"; ``checksum`` and ``size`` give the headers).
        With a ``Range`` header (``range_header``), only the bytes ``byte_range`` gives.

        Raises:
            ImageNotFound (404): unknown or not visible. ImageForbidden (403): deactivated
            (non-admin). ImageDataNotFound (404): active but the data is not in this host's
            store. ImageRangeNotSatisfiable (416): a range outside the data.
        """
        with self.db.reader() as s:
            image = access.load_visible(s, ctx, image_id)
        if image.status == states.DEACTIVATED and not ctx.is_admin:
            raise ImageForbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        if image.status not in states.DOWNLOADABLE or image.size is None:
            return None, image
        try:
            return self.store.read(image_id, byte_range=byte_range(range_header, image.size)), image
        except FileNotFoundError:
            raise ImageDataNotFound(f"Image {image_id} has no data on this host.") from None

    def stage(
        self, ctx: RequestContext, image_id: str, stream: Readable, size: int | None = None
    ) -> None:
        """Stage data for a ``glance-direct`` import (Image API "Stage binary image data");
        status ``queued -> uploading``, where it stays until the import.

        Staged data is limited like an upload; a failed stage keeps nothing and the image is
        back in ``queued``. Raises the same errors as ``upload``.
        """
        lease, allowance = self._begin(ctx, image_id, "stage", size)
        self._receive(
            lease,
            states.UPLOADING,
            self.staging,
            lambda partial: partial.fill(LimitedReader(stream, allowance)),
            lambda partial, _hashes: self._record_staged(lease, partial),
        )

    def import_(self, ctx: RequestContext, image_id: str, method: str) -> None:
        """Import staged data (``glance-direct``; Image API "Import an image"); runs to
        completion before returning. (``import`` is a Python keyword, hence the ``_``.)

        A failure puts the image back to ``uploading`` while the staged data is still there
        (the import can be retried), else to ``queued``; data over the cap or the quota is
        removed (``queued``).

        Raises:
            BadRequest: an unsupported method. InvalidImageStatus (409): nothing staged.
            ImageDataNotFound: the staged data is not on this host.
            ImageSizeLimitExceeded, StorageQuotaFull (413).
            ImageNotFound, ImageForbidden, UploadLeaseLost: as for ``upload``.
        """
        if method != "glance-direct":  # web-download: imports.Imports
            raise BadRequest(
                f"Import method {method!r} is not supported; use {', '.join(IMPORT_METHODS)}."
            )
        # The limits are checked as the import is recorded, on the staged data's size.
        lease, _allowance = self._begin(ctx, image_id, "import", limited=False)
        staged = self.staging.path(image_id)
        data = self.store.partial(image_id)
        try:
            try:  # the file store links the staged file (no copy), swift uploads it
                hashes = data.link_from(staged)
            except FileNotFoundError:
                raise ImageDataNotFound(
                    f"Image {image_id} has no staged data on this host."
                ) from None
            self._record_active(lease, states.IMPORTING, hashes, data)
        except BaseException as exc:
            data.discard()
            if isinstance(exc, RequestTooLarge) or data.committed:
                self.staging.delete(image_id)
            retry = not data.committed and staged.exists()
            back = states.UPLOADING if retry else states.QUEUED
            self._unwind(lease, states.IMPORTING, back, data)
            raise
        finally:
            self.leases.done(lease)
        self.staging.delete(image_id)

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

    def create_from_file(
        self,
        ctx: RequestContext,
        name: str,
        path: Path,
        disk_format: str = "qcow2",
        container_format: str = "bare",
        visibility: str = "public",
        properties: dict[str, Any] | None = None,
    ) -> Image:
        """Make a local file an active image (bootstrap's ``cirros``); idempotent.

        An active image named ``name`` with the same MD5 is returned unchanged; otherwise a new
        image is created and the file hard-linked (same file system) or copied into the store
        (uploaded, for ``swift``).
        The operator's files are not subject to the size cap or the quota.

        Raises:
            OSError: ``path`` cannot be read. BadRequest: an invalid format or property.
        """
        size, md5, _sha = file_hashes(path)
        with self.db.reader() as s:
            found = s.scalars(
                sa.select(Image).where(
                    Image.name == name, Image.status == states.ACTIVE, Image.checksum == md5
                )
            ).first()
            if found is not None:
                return found
        core = {
            "name": name,
            "disk_format": fields.coerce("disk_format", disk_format),
            "container_format": fields.coerce("container_format", container_format),
            "visibility": fields.coerce("visibility", visibility),
        }
        props = {k: fields.check_property(k, str(v)) for k, v in (properties or {}).items()}
        image_id = self.records.create(ctx, core, props).id
        lease, _allowance = self._begin(ctx, image_id, "upload", limited=False)
        self._receive(
            lease,
            states.SAVING,
            self.store,
            lambda partial: partial.link_from(Path(path)),
            lambda partial, hashes: self._record_active(
                lease, states.SAVING, hashes, partial, limited=False
            ),
        )
        return self.records.get(ctx, image_id)

    # ------------------------------------------------------------------ the three steps

    def _begin(
        self,
        ctx: RequestContext,
        image_id: str,
        action: str,
        size: int | None = None,
        limited: bool = True,
    ) -> tuple[Lease, Allowance]:
        """Check the caller, status (``states.ACTIONS[action]``), formats and limits, then
        move the image into the action's status taking its lease, in one transaction. Returns
        the lease and what the upload may write."""
        ((old, new),) = states.ACTIONS[action].items()
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if states.action_target(action, image.status) is None:
                raise InvalidImageStatus(
                    f"Image status transition from {image.status} to {new} is not allowed."
                )
            if not image.disk_format or not image.container_format:
                raise BadRequest(
                    "Properties disk_format, container_format must be set prior to saving data."
                )
            allowance = self.limits.allowance(s, image) if limited else Allowance(None)
            allowance.check(size)
            lease = self.leases.take(s, image_id, old, new)
            if lease is None:
                raise InvalidImageStatus(f"Image {image_id} is being changed by another request.")
        return lease, allowance

    def _receive(
        self,
        lease: Lease,
        status: str,
        store: ImageStore,
        fill: Callable[[PartialData], Hashes],
        record: Callable[[PartialData, Hashes], None],
    ) -> None:
        """Fill partial data in ``store``, then ``record`` (which commits it); on any
        failure (``BaseException``: a cancelled worker too) undo everything and re-raise."""
        partial = store.partial(lease.image_id)
        try:
            record(partial, fill(partial))
        except BaseException:
            partial.discard()
            self._unwind(lease, status, states.QUEUED, partial)
            raise
        finally:
            self.leases.done(lease)

    def _record_active(
        self,
        lease: Lease,
        old: str,
        hashes: Hashes,
        data: PartialData,
        limited: bool = True,
    ) -> None:
        """Record ``hashes`` and move ``old -> active``, release the lease and commit ``data``
        into the store, in one transaction (the quota re-checked with the owner's rows
        locked)."""
        size, md5, sha512 = hashes
        with self.db.reader() as s:
            disk_format = s.scalar(sa.select(Image.disk_format).where(Image.id == lease.image_id))
        vsize = data.virtual_size(disk_format, size)
        with self.db.transaction() as s:
            owner = s.scalar(sa.select(Image.owner).where(Image.id == lease.image_id))
            if limited:
                self.limits.check_recorded(s, lease.image_id, owner, size)
            recorded = self.leases.release(
                s,
                lease,
                old,
                states.ACTIVE,
                size=size,
                checksum=md5,
                os_hash_algo="sha512",
                os_hash_value=sha512,
                virtual_size=vsize,
            )
            if not recorded:
                raise self._lost(lease)
            data.commit()

    def _record_staged(self, lease: Lease, partial: PartialData) -> None:
        """Release the lease (the image stays ``uploading``) and commit the staged data."""
        with self.db.transaction() as s:
            if not self.leases.release(s, lease, states.UPLOADING, states.UPLOADING):
                raise self._lost(lease)
            partial.commit()

    def _lost(self, lease: Lease) -> Exception:
        with self.db.reader() as s:
            exists = s.get(Image, lease.image_id) is not None
        if not exists:
            return ImageNotFound(f"Image {lease.image_id} was deleted while its data was saved.")
        return UploadLeaseLost(
            f"The upload to image {lease.image_id} was taken over by another controller."
        )

    def _unwind(self, lease: Lease, status: str, back: str, data: PartialData) -> None:
        """After a failure: move the image ``status -> back`` and release the lease, removing
        ``data`` if it was renamed into place (its record rolled back) while the lease is still
        held. Never raises: if this fails too, the lease lapses and a reaper finishes it."""
        try:
            with self.db.transaction() as s:
                if self.leases.release(s, lease, status, back):
                    data.revert()
        except Exception:  # already failing: must not hide the first error; logged
            LOG.exception(
                "could not put image %s back to %s; a reaper will once its lease lapses",
                lease.image_id,
                back,
            )
