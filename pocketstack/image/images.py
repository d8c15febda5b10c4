"""Image records: list, show, create, update (JSON patch), delete, tags, deactivate.

Reached as ``cloud.image.images``. Each function takes the caller's ``RequestContext`` and
returns API view dicts (see ``views.image_view``); visibility rules are in ``access``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import policy
from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import BadRequest, Conflict
from pocketstack.image import access, fields
from pocketstack.image.exceptions import (
    ImageForbidden,
    ImageNotFound,
    ImageProtected,
    PropertyNotFound,
)
from pocketstack.image.models import Image
from pocketstack.image.views import image_view

if TYPE_CHECKING:
    from pocketstack.service import Cloud

SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "virtual_size",
    "id",
    "created_at",
    "updated_at",
    "visibility",
    "owner",
    "min_disk",
    "min_ram",
)
#: filters that accept Glance's ``in:a,b`` operator
IN_FILTERS = ("id", "name", "status", "disk_format", "container_format")
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000


class ImageRecordManager:
    """The image records of the Image service (no data handling: see ``data``)."""

    def __init__(self, cloud: Cloud, on_delete: Any = None):
        self.cloud = cloud
        self.db = cloud.db
        self._on_delete = on_delete or (lambda image_id: None)

    def get_image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The view of image ``image_id``. Raises ImageNotFound (404) when unknown or not
        visible to ``ctx``."""
        with self.db.reader() as s:
            return image_view(access.load_visible(s, ctx, image_id))

    def list_images(
        self,
        ctx: RequestContext,
        filters: dict[str, Any],
        sort: list[tuple[str, str]] | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Images ``ctx`` may list, filtered, sorted and paged (Image API "List images").

        Args:
            filters: ``visibility``, ``member_status`` (default accepted), ``owner``,
                ``size_min``/``size_max`` (bytes), ``protected``, ``os_hidden`` (default
                False), ``tags`` (all must match), ``properties`` (extra properties that must
                be equal), and ``id``/``name``/``status``/``disk_format``/``container_format``
                (a value, or ``in:a,b``).
            sort: ``(key, "asc"|"desc")`` pairs; default newest first.
            limit: page size (default 25, at most 1000). marker: id of the last image seen.
        Returns:
            ``(page, next_marker)``; ``next_marker`` is ``None`` on the last page.
        Raises:
            BadRequest: an unknown sort key or direction, or a marker that is not listed.
        """
        query = sa.select(Image).where(
            access.list_clause(
                ctx, filters.get("visibility"), filters.get("member_status") or "accepted"
            )
        )
        query = query.where(*_column_filters(filters)).order_by(*_order_by(sort))
        with self.db.reader() as s:
            rows = [r for r in s.scalars(query) if _python_filters(r, filters)]
            ids = [r.id for r in rows]
            start = 0
            if marker:
                if marker not in ids:
                    raise BadRequest(f"Invalid marker. Image {marker} could not be found.")
                start = ids.index(marker) + 1
            size = min(limit if limit is not None else DEFAULT_LIMIT, MAX_LIMIT)
            page = rows[start : start + size]
            more = start + size < len(rows)
            return [image_view(r) for r in page], (page[-1].id if more and page else None)

    def create_image(
        self, ctx: RequestContext, core: dict[str, Any], properties: dict[str, str]
    ) -> dict[str, Any]:
        """Record a new image in ``queued`` status (Image API "Create image").

        Args:
            core: validated standard fields (``fields.parse_create``), ``id`` optional.
            properties: extra string properties.
        Raises:
            ImageForbidden: public visibility without admin, or another project as owner.
            Conflict: an image with the given ``id`` exists.
        """
        visibility = core.get("visibility", "shared")
        self._check_visibility(ctx, visibility)
        owner = core.get("owner") or ctx.project_id
        if owner != ctx.project_id and not ctx.is_admin:
            raise ImageForbidden(f"You are not permitted to create images owned by '{owner}'.")
        with self.db.transaction() as s:
            if core.get("id") and s.get(Image, core["id"]) is not None:
                raise Conflict(f"Image with identifier {core['id']} already exists!")
            given = {k: v for k, v in core.items() if k not in ("owner", "visibility", "tags")}
            image = Image(
                **given,
                owner=owner,
                visibility=visibility,
                status="queued",
                properties=dict(properties),
                tags=list(core.get("tags") or []),
            )
            s.add(image)
            s.flush()
            return image_view(image)

    def update_image(
        self, ctx: RequestContext, image_id: str, ops: list[tuple[str, str, Any]]
    ) -> dict[str, Any]:
        """Apply JSON-patch operations (``fields.parse_patch``) to an image, all or none.

        Raises:
            ImageNotFound: unknown or not visible. ImageForbidden: not the owner, a read-only
            attribute, removing a standard attribute, or making it public without admin.
            PropertyNotFound (409): replace/remove of a property the image does not have.
            BadRequest: an invalid value.
        """
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            props = dict(image.properties or {})
            for op, name, value in ops:
                if name in fields.READ_ONLY:
                    raise ImageForbidden(f"Attribute '{name}' is read-only.")
                if name in fields.CORE:
                    self._patch_core(ctx, image, op, name, value)
                elif op == "remove" or (op == "replace" and name not in props):
                    if name not in props:
                        raise PropertyNotFound(f"Property {name} does not exist.")
                    del props[name]
                else:
                    props[name] = fields.check_property(name, value)
            if len(props) > fields.MAX_PROPERTIES:
                raise BadRequest("Maximum number of image properties exceeded.")
            image.properties = props
            s.flush()
            return image_view(image)

    def _patch_core(
        self, ctx: RequestContext, image: Image, op: str, name: str, value: Any
    ) -> None:
        if op == "remove":
            raise ImageForbidden(f"Attribute '{name}' cannot be removed.")
        value = fields.coerce(name, value)
        if name == "visibility":
            self._check_visibility(ctx, value)
        if name == "owner" and not ctx.is_admin:
            raise ImageForbidden("Only an administrator can change the owner of an image.")
        if (
            name in ("disk_format", "container_format")
            and image.status != "queued"
            and getattr(image, name) != value
        ):
            raise ImageForbidden(f"Attribute {name} can be only replaced for a queued image.")
        setattr(image, name, value)

    @staticmethod
    def _check_visibility(ctx: RequestContext, visibility: str) -> None:
        if visibility == "public" and not policy.allowed(ctx, "image:publicize_image"):
            raise ImageForbidden("You are not authorized to complete publicize_image action.")

    def delete_image(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image and its data (Image API "Delete image").

        Raises:
            ImageNotFound: unknown or not visible. ImageForbidden: not the owner.
            ImageProtected (403): the image is protected.
        """
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if image.protected:
                raise ImageProtected(f"Image {image_id} is protected and cannot be deleted.")
            s.delete(image)
        self._on_delete(image_id)

    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Add ``tag`` to the image (idempotent). Raises ImageNotFound, ImageForbidden,
        BadRequest (invalid tag or too many tags)."""
        tag = fields.check_tag(tag)
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if tag not in (image.tags or []):
                image.tags = fields.check_tags([*(image.tags or []), tag])

    def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Remove ``tag`` from the image. Raises ImageNotFound (also for a missing tag),
        ImageForbidden."""
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if tag not in (image.tags or []):
                raise ImageNotFound(f"Tag {tag} not found on image {image_id}.")
            image.tags = [t for t in image.tags if t != tag]

    def set_active(self, ctx: RequestContext, image_id: str, active: bool) -> None:
        """Deactivate (``active=False``) or reactivate an image; admin only by policy.

        A deactivated image cannot be downloaded by non-admins. Raises ImageNotFound, and
        ImageForbidden when the image is neither active nor deactivated.
        """
        with self.db.transaction() as s:
            image = access.load_visible(s, ctx, image_id)
            if image.status not in ("active", "deactivated"):
                verb = "reactivate" if active else "deactivate"
                raise ImageForbidden(f"Not allowed to {verb} image in status '{image.status}'.")
            image.status = "active" if active else "deactivated"


def _column_filters(filters: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = []
    for key in IN_FILTERS:
        value = filters.get(key)
        if value is None:
            continue
        column = getattr(Image, key)
        if isinstance(value, str) and value.startswith("in:"):
            conds.append(column.in_([v.strip('"') for v in value[3:].split(",")]))
        else:
            conds.append(column == value)
    if filters.get("owner") is not None:
        conds.append(Image.owner == filters["owner"])
    if filters.get("size_min") is not None:
        conds.append(Image.size >= filters["size_min"])
    if filters.get("size_max") is not None:
        conds.append(Image.size <= filters["size_max"])
    if filters.get("protected") is not None:
        conds.append(Image.protected == filters["protected"])
    conds.append(Image.os_hidden == bool(filters.get("os_hidden", False)))
    return conds


def _python_filters(image: Image, filters: dict[str, Any]) -> bool:
    tags = image.tags or []
    if any(t not in tags for t in filters.get("tags") or ()):
        return False
    props = image.properties or {}
    return all(props.get(k) == v for k, v in (filters.get("properties") or {}).items())


def _order_by(sort: list[tuple[str, str]] | None) -> list[Any]:
    sort = list(sort or [("created_at", "desc")])
    if "id" not in [k for k, _ in sort]:
        sort.append(("id", sort[-1][1]))
    order = []
    for key, direction in sort:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key: {key}. It is not allowed.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}.")
        column = getattr(Image, key)
        order.append(column.asc() if direction == "asc" else column.desc())
    return order
