"""Flavors: hardware templates, their extra specs and access lists (Nova ``flavors``).

API reference sections followed: "Flavors", "Flavors extra-specs", "Flavors access".
A flavor is addressed by its ``flavorid`` (the API id). Private flavors (``is_public`` false)
are visible only to the projects on their access list and to admins.

Default flavors (``bootstrap``), sized for a laptop cloud booting small real guests (the
project's guest image boots in 128 MiB and needs well under 1 GiB of root disk):

=========  ====  =====  =========  ======
name       id    vCPUs  RAM (MiB)  disk GiB
=========  ====  =====  =========  ======
m1.tiny    1     1      256        1
m1.small   2     1      512        2
m1.medium  3     2      1024       5
m1.large   4     4      2048       10
m1.xlarge  5     8      4096       20
=========  ====  =====  =========  ======
"""

from __future__ import annotations

import builtins
import json
import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors, paging
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database, new_id
from pocketstack.compute.models import Flavor

if TYPE_CHECKING:
    from pocketstack.service import Cloud

DEFAULT_FLAVORS = (
    ("1", "m1.tiny", 1, 256, 1),
    ("2", "m1.small", 1, 512, 2),
    ("3", "m1.medium", 2, 1024, 5),
    ("4", "m1.large", 4, 2048, 10),
    ("5", "m1.xlarge", 8, 4096, 20),
)

_ID_RE = re.compile(r"^[\w\.\- ]{1,255}$")

#: how flavors are sorted and paged (Nova: by flavorid, ascending; the flavorid breaks ties)
SORT = paging.SortSpec(
    columns={
        key: getattr(Flavor, key)
        for key in (
            "flavorid",
            "name",
            "memory_mb",
            "vcpus",
            "root_gb",
            "ephemeral_gb",
            "swap",
            "rxtx_factor",
            "created_at",
            "id",
        )
    },
    default=[("flavorid", paging.ASC)],
    tie_breaker=Flavor.flavorid,
    default_dir=paging.ASC,
)


class FlavorNotFound(errors.NotFound):
    """404: no flavor with this id visible to the caller."""


class InvalidFlavorRef(errors.BadRequest):
    """400: a server create names a flavor that does not exist (Nova answers 400 there)."""


class FlavorExists(errors.Conflict):
    """409: a flavor with this name or id already exists."""


class FlavorAccessNotFound(errors.NotFound):
    """404: the project is not on the flavor's access list (or the flavor is public)."""


class FlavorAccessExists(errors.Conflict):
    """409: the project is already on the flavor's access list."""


def _visible(ctx: RequestContext, flavor: Flavor) -> bool:
    return flavor.is_public or ctx.is_admin or ctx.project_id in (flavor.projects or [])


def _may_use(project_id: str | None) -> Any:
    """SQL for "``project_id`` is on the flavor's access list".

    The list is a JSON array of strings; its text holds ``"<project_id>"`` (quotes
    included) exactly when the project is on it, which ``LIKE`` finds the same way on
    SQLite, PostgreSQL and MySQL (their JSON functions differ).
    """
    if not project_id:
        return sa.false()
    quoted = json.dumps(project_id).replace("\\", "\\\\")
    quoted = quoted.replace("%", "\\%").replace("_", "\\_")
    return sa.cast(Flavor.projects, sa.Text).like(f"%{quoted}%", escape="\\")


class Flavors:
    """Flavor logic; ``cloud.compute.flavors``. Returns detached ``Flavor`` rows."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db

    def bootstrap(self) -> None:
        """Create the default flavors m1.tiny..m1.xlarge (ids "1".."5") when missing."""
        with self.db.transaction() as s:
            have = set(s.scalars(sa.select(Flavor.flavorid)))
            names = set(s.scalars(sa.select(Flavor.name)))
            for flavorid, name, vcpus, ram, disk in DEFAULT_FLAVORS:
                if flavorid not in have and name not in names:
                    s.add(
                        Flavor(
                            flavorid=flavorid,
                            name=name,
                            vcpus=vcpus,
                            memory_mb=ram,
                            root_gb=disk,
                            extra_specs={},
                            projects=[],
                        )
                    )

    def get(self, ctx: RequestContext, flavor_id: str, *, for_boot: bool = False) -> Flavor:
        """The flavor with API id ``flavor_id``.

        ``for_boot=True`` is for server create, where Nova answers an unknown flavorRef
        with 400 instead of 404.

        Raises:
            FlavorNotFound (404), or InvalidFlavorRef (400) with ``for_boot``: unknown, or
            private and the caller's project has no access.
        """
        with self.db.reader() as s:
            flavor = s.scalars(sa.select(Flavor).where(Flavor.flavorid == str(flavor_id))).first()
        if flavor is None or not _visible(ctx, flavor):
            error = InvalidFlavorRef if for_boot else FlavorNotFound
            raise error(f"Flavor {flavor_id} could not be found.")
        return flavor

    def list(
        self,
        ctx: RequestContext,
        *,
        is_public: bool | None = True,
        min_ram: int | None = None,
        min_disk: int | None = None,
        limit: int | None = None,
        marker: str | None = None,
        sort_key: str = "flavorid",
        sort_dir: str = "asc",
    ) -> list[Flavor]:
        """Flavors as Nova lists them.

        ``is_public``: True (default) lists public flavors (plus, for non-admins, the private
        ones their project may use); False lists private ones; None lists all (admins; a
        non-admin still sees only what it may use).

        Sorting, ``marker`` (a flavorid in this list) and ``limit`` are done in SQL
        (``common.paging``).

        Raises:
            errors.BadRequest: unknown sort key/direction, or a marker that is not a flavor.
        """
        order = SORT.order([sort_key], [sort_dir])
        query = sa.select(Flavor).where(Flavor.disabled.is_(False))
        if min_ram is not None:
            query = query.where(Flavor.memory_mb >= min_ram)
        if min_disk is not None:
            query = query.where(Flavor.root_gb >= min_disk)
        if not ctx.is_admin:
            query = query.where(sa.or_(Flavor.is_public.is_(True), _may_use(ctx.project_id)))
        if is_public is not None and (ctx.is_admin or is_public is False):
            query = query.where(Flavor.is_public.is_(is_public))
        with self.db.reader() as s:
            page = paging.paginate(
                s,
                query,
                order,
                limit=limit,
                marker=marker,
                marker_row=lambda s, flavorid: s.scalars(
                    query.where(Flavor.flavorid == str(flavorid))
                ).first(),
            )
            return builtins.list(s.scalars(page))

    def create(
        self,
        ctx: RequestContext,
        *,
        name: str,
        ram: int,
        vcpus: int,
        disk: int,
        flavorid: str | None = None,
        ephemeral: int = 0,
        swap: int = 0,
        rxtx_factor: float = 1.0,
        is_public: bool = True,
        description: str | None = None,
    ) -> Flavor:
        """Create a flavor (``flavorid`` None or "auto" → a new UUID).

        Raises:
            errors.BadRequest: an invalid id.
            FlavorExists: the name or id is taken.
        """
        if flavorid in (None, "", "auto"):
            flavorid = new_id()
        flavorid = str(flavorid)
        if not _ID_RE.match(flavorid) or flavorid.strip() != flavorid:
            raise errors.BadRequest(f"Invalid flavor id: {flavorid!r}.")
        with self.db.transaction() as s:
            if s.scalars(sa.select(Flavor).where(Flavor.name == name)).first() is not None:
                raise FlavorExists(f"Flavor with name {name} already exists.")
            if s.scalars(sa.select(Flavor).where(Flavor.flavorid == flavorid)).first():
                raise FlavorExists(f"Flavor with ID {flavorid} already exists.")
            flavor = Flavor(
                flavorid=flavorid,
                name=name,
                memory_mb=ram,
                vcpus=vcpus,
                root_gb=disk,
                ephemeral_gb=ephemeral,
                swap=swap,
                rxtx_factor=rxtx_factor,
                is_public=is_public,
                description=description,
                extra_specs={},
                projects=[],
            )
            s.add(flavor)
        return flavor

    def update(self, ctx: RequestContext, flavor_id: str, *, description: str | None) -> Flavor:
        """Change a flavor's description (the only mutable field). Raises FlavorNotFound."""
        with self.db.transaction() as s:
            flavor = self._locked(s, ctx, flavor_id)
            flavor.description = description
        return flavor

    def delete(self, ctx: RequestContext, flavor_id: str) -> None:
        """Delete a flavor; servers keep their flavor snapshot. Raises FlavorNotFound."""
        with self.db.transaction() as s:
            s.delete(self._locked(s, ctx, flavor_id))

    def _locked(self, s: Session, ctx: RequestContext, flavor_id: str) -> Flavor:
        flavor = s.scalars(sa.select(Flavor).where(Flavor.flavorid == str(flavor_id))).first()
        if flavor is None or not _visible(ctx, flavor):
            raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
        return flavor

    # extra specs -------------------------------------------------------------------------

    def get_extra_specs(self, ctx: RequestContext, flavor_id: str) -> dict[str, str]:
        """All extra specs of a flavor. Raises FlavorNotFound."""
        return dict(self.get(ctx, flavor_id).extra_specs or {})

    def get_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> str:
        """One extra spec. Raises FlavorNotFound, or NotFound for an unknown key."""
        specs = self.get_extra_specs(ctx, flavor_id)
        if key not in specs:
            raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return specs[key]

    def update_extra_specs(
        self, ctx: RequestContext, flavor_id: str, specs: dict[str, str]
    ) -> dict[str, str]:
        """Add or replace extra specs (keys and values are strings); returns ``specs``."""
        with self.db.transaction() as s:
            flavor = self._locked(s, ctx, flavor_id)
            flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}
        return dict(specs)

    def delete_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> None:
        """Remove one extra spec. Raises FlavorNotFound, or NotFound for an unknown key."""
        with self.db.transaction() as s:
            flavor = self._locked(s, ctx, flavor_id)
            specs = dict(flavor.extra_specs or {})
            if key not in specs:
                raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
            del specs[key]
            flavor.extra_specs = specs

    # access ------------------------------------------------------------------------------

    def list_access(self, ctx: RequestContext, flavor_id: str) -> builtins.list[str]:
        """Project ids allowed to use a private flavor.

        Raises:
            FlavorNotFound: unknown flavor. errors.NotFound: the flavor is public.
        """
        flavor = self.get(ctx, flavor_id)
        if flavor.is_public:
            raise errors.NotFound("Access list not available for public flavors.")
        return list(flavor.projects or [])

    def add_access(
        self, ctx: RequestContext, flavor_id: str, project_id: str
    ) -> builtins.list[str]:
        """Allow ``project_id`` to use a private flavor; returns the new access list.

        Raises:
            FlavorNotFound. errors.Conflict: the flavor is public. FlavorAccessExists.
        """
        with self.db.transaction() as s:
            flavor = self._locked(s, ctx, flavor_id)
            if flavor.is_public:
                raise errors.Conflict("Can not add access to a public flavor.")
            projects = list(flavor.projects or [])
            if project_id in projects:
                raise FlavorAccessExists(
                    f"Flavor access already exists for flavor "
                    f"{flavor_id} and project {project_id} combination."
                )
            flavor.projects = projects + [project_id]
        return list(flavor.projects)

    def remove_access(
        self, ctx: RequestContext, flavor_id: str, project_id: str
    ) -> builtins.list[str]:
        """Revoke ``project_id``'s access; returns the new list. Raises FlavorAccessNotFound."""
        with self.db.transaction() as s:
            flavor = self._locked(s, ctx, flavor_id)
            projects = list(flavor.projects or [])
            if project_id not in projects:
                raise FlavorAccessNotFound(
                    f"Flavor access not found for {flavor_id} / {project_id} combination."
                )
            projects.remove(project_id)
            flavor.projects = projects
        return projects
