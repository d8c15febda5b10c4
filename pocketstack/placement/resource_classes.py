"""Resource classes (Placement API reference, "Resource Classes"): the standard ones of
``os-resource-classes`` (``VCPU``, ``MEMORY_MB``, ``DISK_GB``...) and custom ones
(``CUSTOM_[A-Z0-9_]+``), which alone are stored and may be changed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import os_resource_classes
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pocketstack.common.auth import RequestContext
from pocketstack.placement import exceptions as exc
from pocketstack.placement.models import Allocation, Inventory, ResourceClass

if TYPE_CHECKING:
    from pocketstack.service import Cloud

STANDARD: tuple[str, ...] = tuple(os_resource_classes.STANDARDS)
CUSTOM_NAME = re.compile(r"^CUSTOM_[A-Z0-9_]+$")


class ResourceClasses:
    """``cloud.placement.resource_classes``."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    def list(self, ctx: RequestContext) -> list[str]:
        """Every resource class name: the standard ones, then the custom ones by age."""
        with self.db.reader() as s:
            custom = s.scalars(sa.select(ResourceClass.name).order_by(ResourceClass.id))
            return [*STANDARD, *custom]

    def exists(self, ctx: RequestContext, name: str) -> bool:
        """Whether ``name`` is a standard or a stored custom class."""
        if name in STANDARD:
            return True
        with self.db.reader() as s:
            found = s.execute(sa.select(ResourceClass.id).where(ResourceClass.name == name))
            return found.first() is not None

    def get(self, ctx: RequestContext, name: str) -> str:
        """``name`` if it is a resource class, else ``ResourceClassNotFound`` (404)."""
        if not self.exists(ctx, name):
            raise exc.ResourceClassNotFound(name)
        return name

    @staticmethod
    def _check_custom(name: str) -> None:
        if name in STANDARD:
            raise exc.StandardNameIsReadOnly(f"Cannot update standard resource class {name}")
        if not CUSTOM_NAME.match(name):
            raise exc.InvalidQuery(
                f"JSON does not validate: {name!r} does not match '^CUSTOM_[A-Z0-9_]+$'"
            )

    def create(self, ctx: RequestContext, name: str) -> str:
        """A new custom class (``POST``: 409 ``Exists`` if it is there already)."""
        if not self.ensure(ctx, name):
            raise exc.Exists(f"Conflicting resource class already exists: {name}")
        return name

    def ensure(self, ctx: RequestContext, name: str) -> bool:
        """Create the custom class unless it exists (``PUT``, 1.7); True when created.

        Raises:
            StandardNameIsReadOnly / InvalidQuery (400): not a ``CUSTOM_`` name.
        """
        if name in STANDARD:
            return False
        self._check_custom(name)
        try:
            with self.db.transaction() as s:
                if s.execute(sa.select(ResourceClass.id).where(ResourceClass.name == name)).first():
                    return False
                s.add(ResourceClass(name=name))
        except IntegrityError:  # created meanwhile
            return False
        return True

    def update(self, ctx: RequestContext, name: str, new_name: str) -> str:
        """Rename a custom class (``PUT`` with a body, 1.2-1.6)."""
        self._check_custom(name)
        self._check_custom(new_name)
        with self.db.transaction() as s:
            row = s.execute(
                sa.select(ResourceClass).where(ResourceClass.name == name)
            ).scalar_one_or_none()
            if row is None:
                raise exc.ResourceClassNotFound(name)
            if s.execute(sa.select(ResourceClass.id).where(ResourceClass.name == new_name)).first():
                raise exc.Exists(f"Resource class already exists: {new_name}")
            row.name = new_name
        return new_name

    def delete(self, ctx: RequestContext, name: str) -> None:
        """Delete a custom class no inventory or allocation uses.

        Raises:
            StandardNameIsReadOnly (400), ResourceClassNotFound (404), InUse (409).
        """
        if name in STANDARD:
            raise exc.StandardNameIsReadOnly(f"Cannot delete standard resource class {name}")
        with self.db.transaction() as s:
            row = s.execute(
                sa.select(ResourceClass).where(ResourceClass.name == name)
            ).scalar_one_or_none()
            if row is None:
                raise exc.ResourceClassNotFound(name)
            for model in (Inventory, Allocation):
                used = s.execute(sa.select(model.id).where(model.resource_class == name).limit(1))
                if used.first() is not None:
                    raise exc.InUse(
                        f"Unable to delete resource class {name}. Class is in use in inventory."
                    )
            s.delete(row)
