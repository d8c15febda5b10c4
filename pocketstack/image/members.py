"""Image members: sharing a ``shared`` image with other projects (Image API "Image members").

Reached as ``cloud.image.members`` (``ImageMembers``). The owner adds, lists and removes
members; a member sees its own membership and sets its status (pending, accepted, rejected).
An accepted image shows in the member's default image list. Methods return
``models.ImageMember`` rows; the API renders them through ``api/views.py``.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import BadRequest
from pocketstack.image import access
from pocketstack.image.exceptions import DuplicateMember, ImageForbidden, MemberNotFound
from pocketstack.image.models import ImageMember

if TYPE_CHECKING:
    from pocketstack.service import Cloud

MAX_MEMBERS = 128


class ImageMembers:
    """Members of shared images (Image API v2 "Image members")."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    def list(self, ctx: RequestContext, image_id: str) -> builtins.list[ImageMember]:
        """All members (owner, admin) or only the caller's own membership (a member), oldest
        first (Image API "List image members").

        Raises:
            ImageNotFound (404): the image is unknown or not visible.
        """
        with self.db.reader() as s:
            image = access.load_visible(s, ctx, image_id)
            query = sa.select(ImageMember).where(ImageMember.image_id == image_id)
            if not (ctx.is_admin or ctx.owns(image.owner)):
                query = query.where(ImageMember.member_id == ctx.project_id)
            return builtins.list(s.scalars(query.order_by(ImageMember.id)))

    def get(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        """One membership, seen by the owner, admin or that member (Image API "Show image
        member details").

        Raises:
            ImageNotFound (404), MemberNotFound (404).
        """
        with self.db.reader() as s:
            image = access.load_visible(s, ctx, image_id)
            if not (ctx.is_admin or ctx.owns(image.owner) or member_id == ctx.project_id):
                raise MemberNotFound(f"Member {member_id} not found for image {image_id}.")
            return self._load(s, image_id, member_id)

    def create(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        """Share the image with project ``member_id``, status ``pending`` (Image API "Create
        image member").

        Raises:
            ImageNotFound (404): unknown or not visible. ImageForbidden (403): not the owner,
            the image's visibility is not ``shared``, or too many members. DuplicateMember
            (409). BadRequest (400): a bad project id.
        """
        if not isinstance(member_id, str) or not member_id or len(member_id) > 255:
            raise BadRequest("Invalid member: a project id of 1 to 255 characters.")
        with self.db.transaction() as s:
            image = access.load_owned(s, ctx, image_id)
            if image.visibility != "shared":
                raise ImageForbidden(
                    f"Only shared images have members (image visibility is {image.visibility})."
                )
            members = s.scalars(
                sa.select(ImageMember.member_id).where(ImageMember.image_id == image_id)
            ).all()
            if member_id in members:
                raise DuplicateMember(
                    f"The target member {member_id} is already associated with image {image_id}."
                )
            if len(members) >= MAX_MEMBERS:
                raise ImageForbidden(f"Maximum number of image members ({MAX_MEMBERS}) exceeded.")
            member = ImageMember(image_id=image_id, member_id=member_id, status="pending")
            s.add(member)
            s.flush()
            return member

    def update(
        self, ctx: RequestContext, image_id: str, member_id: str, status: str
    ) -> ImageMember:
        """Set a membership's status; only that member project (or admin) may (Image API
        "Update image member").

        Raises:
            BadRequest (400): status not pending/accepted/rejected. ImageNotFound (404),
            MemberNotFound (404). ImageForbidden (403): the caller is the owner.
        """
        if status not in access.MEMBER_STATUSES:
            raise BadRequest(
                f"Invalid status {status!r}: expected one of {', '.join(access.MEMBER_STATUSES)}."
            )
        with self.db.transaction() as s:
            image = access.load_visible(s, ctx, image_id)
            if not (ctx.is_admin or member_id == ctx.project_id):
                if ctx.owns(image.owner):
                    raise ImageForbidden("Only the member itself can change its status.")
                raise MemberNotFound(f"Member {member_id} not found for image {image_id}.")
            member = self._load(s, image_id, member_id)
            member.status = status
            s.flush()
            return member

    def delete(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        """Stop sharing the image with ``member_id`` (Image API "Delete image member").

        Raises:
            ImageNotFound (404), ImageForbidden (403): not the owner, MemberNotFound (404).
        """
        with self.db.transaction() as s:
            access.load_owned(s, ctx, image_id)
            s.delete(self._load(s, image_id, member_id))

    @staticmethod
    def _load(s: Any, image_id: str, member_id: str) -> ImageMember:
        member = s.scalars(
            sa.select(ImageMember).where(
                ImageMember.image_id == image_id, ImageMember.member_id == member_id
            )
        ).first()
        if member is None:
            raise MemberNotFound(f"Member {member_id} not found for image {image_id}.")
        return member
