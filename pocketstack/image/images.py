"""Image records: list, get, create, update (JSON patch), delete, tags, deactivate/reactivate.

Reached as ``cloud.image.images`` (``Images``). Each method takes the caller's
``RequestContext`` and returns ``models.Image`` rows (detached, readable after the call); the
API renders them through ``api/views.py``. Visibility rules are in ``access``, statuses and
their transitions in ``states``.

Lists page in SQL (``common.paging``): every filter, tags and extra properties included, is
a condition of the one ``SELECT``, so ``limit`` and ``marker`` count the rows the caller sees.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import policy
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import json_contains, json_has_item
from pocketstack.common.errors import BadRequest, Conflict
from pocketstack.common.paging import SortSpec, paginate
from pocketstack.image import access, fields, states
from pocketstack.image.exceptions import (
    ImageForbidden,
    ImageNotFound,
    ImageProtected,
    InvalidImageStatus,
    PropertyNotFound,
)
from pocketstack.image.models import Image

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
#: Glance's sort keys -> columns; newest first by default, ``id`` breaks ties
SORT = SortSpec(
    columns={key: getattr(Image, key) for key in SORT_KEYS},
    default=[("created_at", "desc")],
    tie_breaker=Image.id,
)
#: filters that accept Glance's ``in:a,b`` operator
IN_FILTERS = ("id", "name", "status", "disk_format", "container_format")
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000


@dataclass(frozen=True)
class ImageInfo:
    """What other services read of an image (compute's boot): a typed record, not the API
    view.

    Attributes:
        id, name, status, disk_format, container_format: as the Image API shows them.
        size, virtual_size: bytes (``None`` until data is uploaded).
        min_disk: GB; min_ram: MB. checksum: MD5 hex of the data.
        properties: the extra properties (``os_distro``, ``hw_disk_bus``...).
        file: the path of the data below the Image API's root (``/v2/images/<id>/file``).
    """

    id: str
    name: str | None
    status: str
    visibility: str
    owner: str | None
    disk_format: str | None
    container_format: str | None
    size: int | None
    virtual_size: int | None
    min_disk: int
    min_ram: int
    checksum: str | None
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        """The data's path below the Image API root, as Glance's ``file`` attribute."""
        return f"/v2/images/{self.id}/file"

    @classmethod
    def of(cls, image: Image) -> ImageInfo:
        """The record of an image row."""
        return cls(
            id=image.id,
            name=image.name,
            status=image.status,
            visibility=image.visibility,
            owner=image.owner,
            disk_format=image.disk_format,
            container_format=image.container_format,
            size=image.size,
            virtual_size=image.virtual_size,
            min_disk=image.min_disk or 0,
            min_ram=image.min_ram or 0,
            checksum=image.checksum,
            properties=dict(image.properties or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        """Glance's flat shape: the extra properties, then the standard fields above as
        top-level keys (what ``ImageManager.get_image`` gives callers that read a dict)."""
        flat: dict[str, Any] = dict(self.properties)
        flat.update({k: v for k, v in self.__dict__.items() if k != "properties"})
        flat["file"] = self.file
        return flat


@dataclass(frozen=True)
class ImagePage:
    """One page of a list: the rows, and the marker of the next page (``None``: the last)."""

    images: list[Image]
    next_marker: str | None


class Images:
    """The image records of the Image service (no data handling: see ``data``).

    Args:
        cloud: supplies ``db``. on_delete: ``image_id -> None``, called after a delete
            commits (``ImageManager`` removes the data).
    """

    def __init__(self, cloud: Cloud, on_delete: Callable[[str], None] | None = None):
        self.cloud = cloud
        self.db = cloud.db
        self._on_delete = on_delete or (lambda image_id: None)

    def get(self, ctx: RequestContext, image_id: str) -> Image:
        """Image ``image_id`` (Image API "Show image").

        Raises:
            ImageNotFound (404): unknown or not visible to ``ctx``.
        """
        with self.db.reader() as s:
            return access.load_visible(s, ctx, image_id)

    def list(
        self,
        ctx: RequestContext,
        filters: dict[str, Any],
        sort: builtins.list[tuple[str, str]] | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> ImagePage:
        """Images ``ctx`` may list, filtered, sorted and paged in SQL (Image API "List images").

        Args:
            filters: ``visibility``, ``member_status`` (default accepted), ``owner``,
                ``size_min``/``size_max``/``size`` (bytes), ``protected``, ``os_hidden`` (default
                False), ``tags`` (all must match), ``properties`` (extra properties that must
                be equal), and ``id``/``name``/``status``/``disk_format``/``container_format``
                (a value, or ``in:a,b``).
            sort: ``(key, "asc"|"desc")`` pairs (keys of ``SORT_KEYS``); default newest first.
            limit: page size (default 25, at most 1000).
            marker: id of the last image seen; it must be one this list holds.
        Returns:
            The page and the next page's marker (``None`` on the last page).
        Raises:
            BadRequest (400): an unknown sort key or direction, or a marker that is not
                listed ("Invalid marker. Image <id> could not be found.").
        """
        order = SORT.order(*_checked_sort(sort))
        size = min(limit if limit is not None else DEFAULT_LIMIT, MAX_LIMIT)
        with self.db.reader() as s:
            query = sa.select(Image).where(
                access.list_clause(
                    ctx, filters.get("visibility"), filters.get("member_status") or "accepted"
                ),
                *_column_filters(filters),
                *_json_filters(s, filters),
            )
            page = list(
                s.scalars(
                    paginate(
                        s,
                        query,
                        order,
                        limit=size + 1,
                        marker=marker or None,
                        marker_row=lambda s, m: s.scalars(query.where(Image.id == m)).first(),
                        marker_missing=lambda m: BadRequest(
                            f"Invalid marker. Image {m} could not be found."
                        ),
                    )
                )
            )
        more = len(page) > size
        page = page[:size]
        return ImagePage(page, page[-1].id if more and page else None)

    def create(
        self, ctx: RequestContext, core: dict[str, Any], properties: dict[str, str]
    ) -> Image:
        """Record a new image in ``queued`` status (Image API "Create image").

        Args:
            core: validated standard fields (``fields.parse_create``), ``id`` optional.
            properties: extra string properties.
        Raises:
            ImageForbidden (403): public visibility without admin, or another project as
                owner.
            Conflict (409): an image with the given ``id`` exists.
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
                status=states.QUEUED,
                properties=dict(properties),
                tags=list(core.get("tags") or []),
            )
            s.add(image)
            s.flush()
            return image

    def update(
        self, ctx: RequestContext, image_id: str, ops: builtins.list[tuple[str, str, Any]]
    ) -> Image:
        """Apply JSON-patch operations (``fields.parse_patch``) to an image, all or none
        (Image API "Update image").

        Raises:
            ImageNotFound (404): unknown or not visible. ImageForbidden (403): not the owner,
            a read-only attribute, removing a standard attribute, or making it public without
            admin. PropertyNotFound (409): replace/remove of a property the image does not
            have. BadRequest (400): an invalid value.
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
            return image

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
            and image.status != states.QUEUED
            and getattr(image, name) != value
        ):
            raise ImageForbidden(f"Attribute {name} can be only replaced for a queued image.")
        setattr(image, name, value)

    @staticmethod
    def _check_visibility(ctx: RequestContext, visibility: str) -> None:
        if visibility == "public" and not policy.allowed(ctx, "image:publicize_image"):
            raise ImageForbidden("You are not authorized to complete publicize_image action.")

    def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image and its data (Image API "Delete image"); the row is removed.

        Raises:
            ImageNotFound (404): unknown or not visible. ImageForbidden (403): not the owner.
            ImageProtected (403): the image is protected.
        """
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if image.protected:
                raise ImageProtected(f"Image {image_id} is protected and cannot be deleted.")
            s.delete(image)
        self._on_delete(image_id)

    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Add ``tag`` to the image, idempotent (Image API "Add image tag").

        Raises:
            ImageNotFound (404), ImageForbidden (403), BadRequest (400): an invalid tag or
            too many tags.
        """
        tag = fields.check_tag(tag)
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if tag not in (image.tags or []):
                image.tags = fields.check_tags([*(image.tags or []), tag])

    def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Remove ``tag`` from the image (Image API "Delete image tag").

        Raises:
            ImageNotFound (404): also for a tag the image does not have. ImageForbidden (403).
        """
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if tag not in (image.tags or []):
                raise ImageNotFound(f"Tag {tag} not found on image {image_id}.")
            image.tags = [t for t in image.tags if t != tag]

    def deactivate(self, ctx: RequestContext, image_id: str) -> None:
        """Deactivate an image (Image API "Deactivate image"; admin only by policy): only
        admins may download its data then. A deactivated image stays so (204 in Glance).

        Raises:
            ImageNotFound (404). ImageForbidden (403): the image is neither active nor
            deactivated. InvalidImageStatus (409): its status changed meanwhile.
        """
        self._act(ctx, image_id, "deactivate")

    def reactivate(self, ctx: RequestContext, image_id: str) -> None:
        """Reactivate a deactivated image (Image API "Reactivate image"; admin only by
        policy). An active image stays so.

        Raises:
            As ``deactivate``.
        """
        self._act(ctx, image_id, "reactivate")

    def _act(self, ctx: RequestContext, image_id: str, action: str) -> None:
        with self.db.transaction() as s:
            image = access.load_visible(s, ctx, image_id)
            target = states.action_target(action, image.status)
            if target is None:
                raise ImageForbidden(f"Not allowed to {action} image in status '{image.status}'.")
            if target != image.status and not states.transition(s, image_id, image.status, target):
                raise InvalidImageStatus(f"Image {image_id} is being changed by another request.")


def _checked_sort(
    sort: list[tuple[str, str]] | None,
) -> tuple[list[str] | None, list[str] | None]:
    """``sort`` as ``SortSpec.order``'s keys and directions, refused with Glance's messages.

    Raises:
        BadRequest (400): an unknown key or direction.
    """
    if not sort:
        return None, None
    for key, direction in sort:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key: {key}. It is not allowed.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}.")
    return [k for k, _ in sort], [d for _, d in sort]


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
    if filters.get("size") is not None:
        conds.append(Image.size == filters["size"])
    if filters.get("protected") is not None:
        conds.append(Image.protected == filters["protected"])
    conds.append(Image.os_hidden == bool(filters.get("os_hidden", False)))
    return conds


def _json_filters(session: Session, filters: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    """SQL for the ``tag`` filters (the image has every tag) and the extra-property filters
    (the image has each property with that exact value), on the JSON columns of ``images``
    (``common.db.json_contains``, ``json_has_item``)."""
    return [json_contains(session, Image.tags, t) for t in filters.get("tags") or ()] + [
        json_has_item(session, Image.properties, k, v)
        for k, v in (filters.get("properties") or {}).items()
    ]
