"""Image members: sharing a ``shared`` image with other projects (Image API "Image members").

Reached as ``cloud.image.members``. The owner adds, lists and removes members; a member sees
its own membership and sets its status (pending, accepted, rejected). An accepted image shows
in the member's default image list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import BadRequest
from pocketstack.image import access
from pocketstack.image.exceptions import DuplicateMember, ImageForbidden, MemberNotFound
from pocketstack.image.models import ImageMember
from pocketstack.image.views import member_view

if TYPE_CHECKING:
    from pocketstack.service import Cloud

MAX_MEMBERS = 128


class MemberManager:
    """Members of shared images."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    def list_members(self, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
        """All members (owner, admin) or only the caller's own membership (a member).

        Raises ImageNotFound when the image is unknown or not visible.
        """
        with self.db.reader() as s:
            image = access.load_visible(s, ctx, image_id)
            query = sa.select(ImageMember).where(ImageMember.image_id == image_id)
            if not (ctx.is_admin or ctx.owns(image.owner)):
                query = query.where(ImageMember.member_id == ctx.project_id)
            return [member_view(m) for m in s.scalars(query.order_by(ImageMember.id))]

    def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        """One membership, seen by the owner, admin or that member.

        Raises ImageNotFound, MemberNotFound.
        """
        with self.db.reader() as s:
            image = access.load_visible(s, ctx, image_id)
            if not (ctx.is_admin or ctx.owns(image.owner) or member_id == ctx.project_id):
                raise MemberNotFound(f"Member {member_id} not found for image {image_id}.")
            return member_view(self._load(s, image_id, member_id))

    def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        """Share the image with project ``member_id`` (status ``pending``).

        Raises:
            ImageNotFound: unknown or not visible. ImageForbidden: not the owner, or the
            image's visibility is not ``shared``. DuplicateMember (409). BadRequest: a bad id.
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
            return member_view(member)

    def update_member(
        self, ctx: RequestContext, image_id: str, member_id: str, status: str
    ) -> dict[str, Any]:
        """Set a membership's status; only that member project (or admin) may.

        Raises:
            BadRequest: status not pending/accepted/rejected. ImageNotFound, MemberNotFound.
            ImageForbidden: the caller is the owner or another project.
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
            return member_view(member)

    def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        """Stop sharing the image with ``member_id``.

        Raises ImageNotFound, ImageForbidden (not the owner), MemberNotFound.
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
