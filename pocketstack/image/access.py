"""Who sees which image (Glance v2 visibility rules), shared by every image manager.

- ``public`` and ``community``: everyone, by id; ``community`` images of other projects are
  listed only when asked for with ``visibility=community`` (or ``all``).
- ``private``: the owner only.
- ``shared``: the owner and member projects; others' shared images are listed for a member
  whose membership status matches ``member_status`` (``accepted`` by default).
- Admin sees everything. An image the caller may not see is answered 404, never 403.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.image.exceptions import ImageForbidden, ImageNotFound
from pocketstack.image.models import Image, ImageMember

VISIBILITIES = ("public", "private", "shared", "community")
MEMBER_STATUSES = ("pending", "accepted", "rejected")


def member_status(session: Session, image_id: str, project_id: str | None) -> str | None:
    """The membership status of ``project_id`` on the image, or ``None`` if not a member."""
    if project_id is None:
        return None
    return session.scalar(
        sa.select(ImageMember.status).where(
            ImageMember.image_id == image_id, ImageMember.member_id == project_id
        )
    )


def is_visible(ctx: RequestContext, image: Image, status: str | None) -> bool:
    """Whether ``ctx`` may see ``image`` by id; ``status`` is ctx's membership status."""
    if ctx.is_admin or image.visibility in ("public", "community") or ctx.owns(image.owner):
        return True
    return image.visibility == "shared" and status is not None


def load_visible(session: Session, ctx: RequestContext, image_id: str) -> Image:
    """The image ``image_id`` if ``ctx`` may see it.

    Raises:
        ImageNotFound: unknown id or not visible to ``ctx``.
    """
    image = session.get(Image, image_id) if image_id else None
    if image is None or not is_visible(
        ctx, image, member_status(session, image_id, ctx.project_id)
    ):
        raise ImageNotFound(f"No image found with ID {image_id}")
    return image


def load_owned(session: Session, ctx: RequestContext, image_id: str) -> Image:
    """The image ``image_id`` if ``ctx`` owns it (or is admin).

    Raises:
        ImageNotFound: unknown or not visible. ImageForbidden: visible but not ctx's.
    """
    image = load_visible(session, ctx, image_id)
    if not (ctx.is_admin or ctx.owns(image.owner)):
        raise ImageForbidden("You are not permitted to modify this image.")
    return image


def list_clause(
    ctx: RequestContext, visibility: str | None, status: str = "accepted"
) -> sa.ColumnElement[bool]:
    """The SQL condition selecting the images ``ctx`` lists.

    Args:
        visibility: the ``visibility`` filter (one of ``VISIBILITIES``, ``all`` or ``None``).
        status: the ``member_status`` filter for others' shared images (or ``all``).
    """
    if ctx.is_admin:
        if visibility in (None, "all"):
            return sa.true()
        return Image.visibility == visibility
    own = Image.owner == ctx.project_id
    members = sa.select(ImageMember.image_id).where(ImageMember.member_id == ctx.project_id)
    if status != "all":
        members = members.where(ImageMember.status == status)
    shared = sa.and_(Image.visibility == "shared", Image.id.in_(members))
    if visibility is None:
        return sa.or_(own, Image.visibility == "public", shared)
    if visibility == "all":
        return sa.or_(own, Image.visibility.in_(("public", "community")), shared)
    if visibility in ("public", "community"):
        return Image.visibility == visibility
    if visibility == "private":
        return sa.and_(own, Image.visibility == "private")
    return sa.or_(sa.and_(own, Image.visibility == "shared"), shared)
