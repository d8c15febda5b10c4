"""Traits (Placement API reference, "Traits"): the standard names of ``os-traits``
(``HW_CPU_X86_AVX2``, ``COMPUTE_VOLUME_MULTI_ATTACH``...) and custom ones
(``CUSTOM_[A-Z0-9_]+``), which alone are stored and may be deleted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import os_traits
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pocketstack.common.auth import RequestContext
from pocketstack.placement import exceptions as exc
from pocketstack.placement.models import ProviderTrait, Trait

if TYPE_CHECKING:
    from pocketstack.service import Cloud

STANDARD: frozenset[str] = frozenset(os_traits.get_traits())
CUSTOM_NAME = re.compile(r"^CUSTOM_[A-Z0-9_]+$")


class Traits:
    """``cloud.placement.traits``."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    def list(
        self,
        ctx: RequestContext,
        starts_with: str | None = None,
        names: Iterable[str] | None = None,
        associated: bool | None = None,
    ) -> list[str]:
        """Trait names, sorted: those starting with ``starts_with``, among ``names``, and
        (``associated``) those some provider has or has not."""
        with self.db.reader() as s:
            found = set(STANDARD) | set(s.scalars(sa.select(Trait.name)))
            if associated is not None:
                used = set(s.scalars(sa.select(ProviderTrait.trait).distinct()))
                found = found & used if associated else found - used
        if starts_with is not None:
            found = {n for n in found if n.startswith(starts_with)}
        if names is not None:
            found &= set(names)
        return sorted(found)

    def check_exist(self, ctx: RequestContext, names: Iterable[str]) -> None:
        """Raise ``InvalidQuery`` (400, "No such trait(s): ...") for unknown names."""
        wanted = set(names) - STANDARD
        if not wanted:
            return
        with self.db.reader() as s:
            known = set(s.scalars(sa.select(Trait.name).where(Trait.name.in_(wanted))))
        missing = sorted(wanted - known)
        if missing:
            raise exc.InvalidQuery(f"No such trait(s): {', '.join(missing)}")

    def get(self, ctx: RequestContext, name: str) -> str:
        """``name`` if the trait exists, else ``TraitNotFound`` (404)."""
        if name in STANDARD:
            return name
        with self.db.reader() as s:
            if s.execute(sa.select(Trait.id).where(Trait.name == name)).first() is None:
                raise exc.TraitNotFound(name)
        return name

    def ensure(self, ctx: RequestContext, name: str) -> bool:
        """Create the custom trait unless it exists; True when created.

        Raises:
            InvalidQuery (400): neither standard nor a ``CUSTOM_`` name.
        """
        if name in STANDARD:
            return False
        if not CUSTOM_NAME.match(name):
            raise exc.InvalidQuery(
                "The trait is invalid. A valid trait must be no longer than 255 characters, "
                'start with the prefix "CUSTOM_" and use following characters: "A"-"Z", '
                '"0"-"9" and "_"'
            )
        try:
            with self.db.transaction() as s:
                if s.execute(sa.select(Trait.id).where(Trait.name == name)).first():
                    return False
                s.add(Trait(name=name))
        except IntegrityError:
            return False
        return True

    def delete(self, ctx: RequestContext, name: str) -> None:
        """Delete a custom trait no provider has.

        Raises:
            StandardNameIsReadOnly (400), TraitNotFound (404), InUse (409).
        """
        if name in STANDARD:
            raise exc.StandardNameIsReadOnly("Cannot delete standard trait")
        with self.db.transaction() as s:
            row = s.execute(sa.select(Trait).where(Trait.name == name)).scalar_one_or_none()
            if row is None:
                raise exc.TraitNotFound(name)
            if s.execute(sa.select(ProviderTrait.trait).where(ProviderTrait.trait == name)).first():
                raise exc.InUse(f"The trait {name} is in use by a resource provider.")
            s.delete(row)
