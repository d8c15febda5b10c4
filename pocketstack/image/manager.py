"""The Image service's manager: one object per resource family, reached as
``cloud.image.<family>``:

- ``images`` (``images.Images``): list, get, create, update, delete, add_tag/delete_tag,
  deactivate/reactivate;
- ``data`` (``data.ImageData``): upload, download, stage/import, local files;
- ``members`` (``members.ImageMembers``): sharing with other projects;
- ``metadefs`` (``metadefs.Metadefs``): the metadata definitions catalog (namespaces,
  resource types, objects, properties, tags);
- ``tasks`` (``tasks.Tasks``) and ``imports`` (``imports.Imports``): interoperable imports
  (glance-direct, web-download), each recorded as a task.

The families return model rows (``models.Image``, ``models.ImageMember``); only the API
renders them (``api/views.py``). Other services call the functions defined here:
``get_image_info`` (a typed ``images.ImageInfo``), ``get_image`` (the same as a flat dict),
``image_path`` and ``create_image_from_file``.

A controller ``start()``s the service's periodic task: it renews the data leases of this
process's uploads and puts back to ``queued`` the uploads no process serves any more (see
``pocketstack.image.uploads``); one round runs at once, so a restart after a crash clears
what that crash left as soon as the leases lapse.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.periodic import PeriodicTasks
from pocketstack.image.images import ImageInfo

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class ImageManager:
    """Entry point of the Image service for the API layer and other services."""

    def __init__(self, cloud: Cloud):
        from pocketstack.image import policies  # noqa: F401 - registers the rules
        from pocketstack.image.data import ImageData
        from pocketstack.image.images import Images
        from pocketstack.image.imports import Imports
        from pocketstack.image.members import ImageMembers
        from pocketstack.image.metadefs import Metadefs
        from pocketstack.image.tasks import Tasks
        from pocketstack.image.usage import Usage

        self.cloud = cloud
        self.images = Images(cloud, on_delete=self._delete_data)
        self.data = ImageData(cloud, self.images)
        self.members = ImageMembers(cloud)
        self.metadefs = Metadefs(cloud)
        self.tasks = Tasks(cloud)
        self.usage = Usage(cloud)
        self.imports = Imports(self.data, self.tasks, cloud.conf.image_import_allowed_hosts)
        interval = min(cloud.conf.periodic_interval, cloud.conf.image_upload_lease / 3)
        self._periodic = PeriodicTasks(
            "image-periodic", interval, [self.data.leases.renew, self.data.reaper.run]
        )

    def start(self) -> None:
        """Run one round of the periodic task now (reset the uploads of dead processes whose
        lease has lapsed, remove stale partial files), then every
        ``min(periodic_interval, image_upload_lease / 3)`` seconds in a daemon thread."""
        self._periodic.run_once()
        self._periodic.start()

    def stop(self) -> None:
        """Stop the periodic task (uploads still running keep their leases until they end
        or lapse)."""
        self._periodic.stop()

    def _delete_data(self, image_id: str) -> None:
        self.data.delete_data(image_id)

    def get_image_info(self, ctx: RequestContext, image_id: str) -> ImageInfo:
        """What another service needs of an image: ``images.ImageInfo`` (id, name, status,
        visibility, owner, disk_format, container_format, size and virtual_size in bytes,
        min_disk (GB), min_ram (MB), checksum, properties, and the data's ``file`` path).

        Raises:
            ImageNotFound (404): unknown or not visible to ``ctx``.
        """
        return ImageInfo.of(self.images.get(ctx, image_id))

    def get_image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """``get_image_info`` as Glance's flat dict (``ImageInfo.as_dict``: the fields above,
        ``file``, and the extra properties as top-level keys), for callers that read one.

        Raises:
            ImageNotFound (404): unknown or not visible to ``ctx``.
        """
        return self.get_image_info(ctx, image_id).as_dict()

    def image_path(self, image_id: str) -> Path | None:
        """The local store file of ``image_id`` (may not exist on other hosts); ``None``
        when the image store keeps no files (``swift``: hosts download the data)."""
        return self.data.image_path(image_id)

    def create_image_from_file(
        self,
        ctx: RequestContext,
        name: str,
        path: Path,
        disk_format: str = "qcow2",
        container_format: str = "bare",
        visibility: str = "public",
        properties: dict[str, Any] | None = None,
    ) -> ImageInfo:
        """Upload a local file as an active image; idempotent on name + checksum.

        See ``data.ImageData.create_from_file``.
        """
        return ImageInfo.of(
            self.data.create_from_file(
                ctx, name, Path(path), disk_format, container_format, visibility, properties
            )
        )
