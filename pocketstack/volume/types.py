"""Volume types (Block Storage API v3 reference, "Volume types (types)", "Volume type
access (types, action)"): a name, extra specs (``volume_backend_name`` picks the backend,
see ``scheduler/filters/volume_type.py``) and, for a private type, the projects that see it.

``__DEFAULT__`` (``[volume] default_volume_type``) is made by ``bootstrap`` and taken by a
volume created without a type; it cannot be deleted (Cinder: 400).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.volume import exceptions as exc
from pocketstack.volume.models import Volume, VolumeType

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: the extra spec that names the backend (Cinder's)
BACKEND_SPEC = "volume_backend_name"


def visible(ctx: RequestContext, vtype: VolumeType) -> bool:
    """Whether ``ctx`` sees ``vtype``: public, an admin, or a project it is shared with."""
    return vtype.is_public or ctx.is_admin or (ctx.project_id in (vtype.projects or []))


def find(s: Session, ctx: RequestContext, id_or_name: str) -> VolumeType:
    """The type of that id (or name), if visible.

    Raises:
        VolumeTypeNotFound (404).
    """
    vtype = s.get(VolumeType, str(id_or_name)) or s.scalar(
        sa.select(VolumeType).where(VolumeType.name == str(id_or_name))
    )
    if vtype is None or not visible(ctx, vtype):
        raise exc.VolumeTypeNotFound(id_or_name)
    return vtype


class Types:
    """``cloud.volume.types``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def resolve(self, s: Session, ctx: RequestContext, name_or_id: str | None) -> VolumeType:
        """The type a create names (by id or name), or the default type.

        Raises:
            VolumeTypeNotFoundByName (404): none of that name or id is visible.
        """
        wanted = name_or_id or self.cloud.conf.default_volume_type
        try:
            return find(s, ctx, wanted)
        except exc.VolumeTypeNotFound:
            raise exc.VolumeTypeNotFoundByName(wanted) from None

    def list(self, ctx: RequestContext, is_public: bool | None = None) -> list[VolumeType]:
        """The types the caller sees, by name (an admin: ``is_public`` None is all, True
        public only, False private only; others: public and shared with them)."""
        with self.cloud.db.reader() as s:
            rows = s.scalars(sa.select(VolumeType).order_by(VolumeType.name))
            found = [t for t in rows if visible(ctx, t)]
        if ctx.is_admin and is_public is not None:
            found = [t for t in found if t.is_public is is_public]
        return found

    def get(self, ctx: RequestContext, type_id: str) -> VolumeType:
        """One type (``default``: the default type). Raises VolumeTypeNotFound (404)."""
        if type_id == "default":
            type_id = self.cloud.conf.default_volume_type
        with self.cloud.db.reader() as s:
            return find(s, ctx, type_id)

    def create(
        self,
        ctx: RequestContext,
        name: str,
        description: str | None = None,
        is_public: bool = True,
        extra_specs: Mapping[str, str] | None = None,
    ) -> VolumeType:
        """A new type.

        Raises:
            InvalidVolumeType (400): an empty name. VolumeTypeExists (409).
        """
        name = name.strip()
        if not name:
            raise exc.InvalidVolumeType("Type name cannot be empty.")
        try:
            with self.cloud.db.transaction() as s:
                if s.scalar(sa.select(VolumeType.id).where(VolumeType.name == name)):
                    raise exc.VolumeTypeExists(name)
                vtype = VolumeType(
                    name=name,
                    description=description,
                    is_public=is_public,
                    extra_specs={str(k): str(v) for k, v in (extra_specs or {}).items()},
                    projects=[],
                )
                s.add(vtype)
                s.flush()
                return vtype
        except IntegrityError:
            raise exc.VolumeTypeExists(name) from None

    def update(self, ctx: RequestContext, type_id: str, changes: Mapping[str, Any]) -> VolumeType:
        """Change ``name``, ``description``, ``is_public``.

        Raises:
            VolumeTypeNotFound (404). VolumeTypeExists (409): the new name is taken.
            VolumeTypeUpdateFailed (400): renaming the default type.
        """
        with self.cloud.db.transaction() as s:
            vtype = find(s, ctx, type_id)
            name = changes.get("name")
            if name is not None and name != vtype.name:
                if vtype.name == self.cloud.conf.default_volume_type:
                    raise exc.VolumeTypeUpdateFailed("The default volume type cannot be renamed.")
                if s.scalar(sa.select(VolumeType.id).where(VolumeType.name == name)):
                    raise exc.VolumeTypeExists(name)
                vtype.name = name
            if "description" in changes:
                vtype.description = changes["description"]
            if changes.get("is_public") is not None:
                vtype.is_public = bool(changes["is_public"])
            s.flush()
            return vtype

    def delete(self, ctx: RequestContext, type_id: str) -> None:
        """Delete a type no volume uses.

        Raises:
            VolumeTypeNotFound (404). VolumeTypeInUse (400). VolumeTypeUpdateFailed (400):
            the default type.
        """
        with self.cloud.db.transaction() as s:
            vtype = find(s, ctx, type_id)
            if vtype.name == self.cloud.conf.default_volume_type:
                raise exc.VolumeTypeUpdateFailed("Default volume type can not be deleted.")
            used = s.scalar(
                sa.select(sa.func.count())
                .select_from(Volume)
                .where(Volume.volume_type_id == vtype.id, Volume.deleted.is_(False))
            )
            if used:
                raise exc.VolumeTypeInUse(vtype.id)
            s.delete(vtype)

    # -- extra specs -------------------------------------------------------------------------
    def get_extra_specs(self, ctx: RequestContext, type_id: str) -> dict[str, str]:
        """The type's extra specs. Raises VolumeTypeNotFound (404)."""
        return dict(self.get(ctx, type_id).extra_specs or {})

    def set_extra_specs(
        self, ctx: RequestContext, type_id: str, specs: Mapping[str, str]
    ) -> dict[str, str]:
        """Merge ``specs`` into the type's; returns the given ones (Cinder's answer).

        Raises:
            VolumeTypeNotFound (404).
        """
        with self.cloud.db.transaction() as s:
            vtype = find(s, ctx, type_id)
            given = {str(k): str(v) for k, v in specs.items()}
            vtype.extra_specs = {**(vtype.extra_specs or {}), **given}
            return given

    def delete_extra_spec(self, ctx: RequestContext, type_id: str, key: str) -> None:
        """Remove one extra spec. Raises VolumeTypeNotFound, VolumeTypeExtraSpecsNotFound
        (404)."""
        with self.cloud.db.transaction() as s:
            vtype = find(s, ctx, type_id)
            specs = dict(vtype.extra_specs or {})
            if key not in specs:
                raise exc.VolumeTypeExtraSpecsNotFound(vtype.id, key)
            del specs[key]
            vtype.extra_specs = specs

    # -- access ------------------------------------------------------------------------------
    def list_access(self, ctx: RequestContext, type_id: str) -> builtins.list[str]:
        """The projects a private type is shared with.

        Raises:
            VolumeTypeNotFound (404): unknown, or public (Cinder: "Access list not available
            for public volume types.").
        """
        vtype = self.get(ctx, type_id)
        if vtype.is_public:
            raise errors.NotFound("Access list not available for public volume types.")
        return list(vtype.projects or [])

    def add_access(self, ctx: RequestContext, type_id: str, project_id: str) -> None:
        """Share a private type with ``project_id``.

        Raises:
            VolumeTypeNotFound (404). InvalidVolumeType (400): a public type.
            VolumeTypeAccessExists (409).
        """
        with self.cloud.db.transaction() as s:
            vtype = find(s, ctx, type_id)
            if vtype.is_public:
                raise exc.InvalidVolumeType("Invalid access: the type is public.")
            projects = list(vtype.projects or [])
            if project_id in projects:
                raise exc.VolumeTypeAccessExists(vtype.id, project_id)
            vtype.projects = [*projects, project_id]

    def remove_access(self, ctx: RequestContext, type_id: str, project_id: str) -> None:
        """Stop sharing a private type with ``project_id``.

        Raises:
            VolumeTypeNotFound, VolumeTypeAccessNotFound (404).
        """
        with self.cloud.db.transaction() as s:
            vtype = find(s, ctx, type_id)
            projects = list(vtype.projects or [])
            if project_id not in projects:
                raise exc.VolumeTypeAccessNotFound(vtype.id, project_id)
            vtype.projects = [p for p in projects if p != project_id]

    def ensure_default(self) -> VolumeType:
        """``bootstrap``: the default type, made once, on the backend of the configured
        ``[volume] volume_driver`` (``volume_backend_name = file``, or ``fake`` for the fake
        driver: a ``file`` spec left every volume of a fake-driver cloud in ``error``)."""
        name = self.cloud.conf.default_volume_type
        with self.cloud.db.reader() as s:
            found = s.scalar(sa.select(VolumeType).where(VolumeType.name == name))
        if found is not None:
            return found
        from pocketstack.common.auth import RequestContext as Ctx
        from pocketstack.common.drivers import VOLUME_DRIVERS

        driver = VOLUME_DRIVERS.load_class(self.cloud.conf.volume_driver)
        default_backend = driver.backend_name

        try:
            return self.create(
                Ctx.system(), name, "Default Volume Type", True, {BACKEND_SPEC: default_backend}
            )
        except exc.VolumeTypeExists:  # another controller made it meanwhile
            with self.cloud.db.reader() as s:
                return s.scalars(sa.select(VolumeType).where(VolumeType.name == name)).one()
