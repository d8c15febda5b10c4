"""Address scopes (Neutron v2.0 ``/address-scopes``): list, get, create, update, delete
(Networking API v2.0 reference, "Address scopes").

A scope is its owner's, or every project's when ``shared`` (which only an admin sets);
another project's unshared scope is ``AddressScopeNotFound`` (404). Subnet pools of one
scope never overlap (``subnetpools``); a scope with pools is not deleted (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import paging
from pocketstack.common.auth import RequestContext
from pocketstack.network import common, lists
from pocketstack.network import exceptions as exc
from pocketstack.network.models import AddressScope, SubnetPool

if TYPE_CHECKING:
    from pocketstack.service import Cloud


@dataclass(frozen=True)
class AddressScopeCreate:
    """``POST /v2.0/address-scopes`` parsed."""

    name: str
    ip_version: int
    shared: bool | None = None
    project_id: str | None = None


_COLUMNS: dict[str, Any] = {
    "id": AddressScope.id,
    "name": AddressScope.name,
    "project_id": AddressScope.project_id,
    "tenant_id": AddressScope.project_id,
    "ip_version": AddressScope.ip_version,
    "shared": AddressScope.shared,
}
SORT = paging.SortSpec(
    columns=_COLUMNS,
    default=[("id", paging.ASC)],
    tie_breaker=AddressScope.id,
    default_dir=paging.ASC,
    invalid=lambda message: exc.InvalidInput(message),
)


def load_scope(session: Session, ctx: RequestContext, scope_id: str) -> AddressScope:
    """An address scope the caller sees (own, shared, admin). Raises
    AddressScopeNotFound (404)."""
    row = session.get(AddressScope, scope_id)
    if row is None or not (row.shared or common.check_project_scope(ctx, row.project_id)):
        raise exc.AddressScopeNotFound(scope_id)
    return row


def _owned(session: Session, ctx: RequestContext, scope_id: str) -> AddressScope:
    row = load_scope(session, ctx, scope_id)
    if not common.check_project_scope(ctx, row.project_id):
        raise exc.NotAuthorized(f"Only the owner of address scope {scope_id} may change it.")
    return row


class AddressScopes:
    """The address scopes of ``cloud.network`` (``cloud.network.address_scopes``); every
    method returns ``AddressScope`` rows (rendered by ``api/views.py``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def create(self, ctx: RequestContext, spec: AddressScopeCreate) -> AddressScope:
        """Create an address scope.

        Raises:
            NotAuthorized (403: ``shared`` or another project by a non-admin).
        """
        if spec.shared is not None and not ctx.is_admin:
            raise exc.NotAuthorized("Only an administrator may set shared.")
        with self.cloud.db.transaction() as s:
            row = AddressScope(
                project_id=common.owner_project(ctx, spec.project_id),
                name=spec.name,
                ip_version=spec.ip_version,
                shared=bool(spec.shared),
            )
            s.add(row)
            s.flush()
            return row

    def get(self, ctx: RequestContext, scope_id: str) -> AddressScope:
        """One address scope. Raises AddressScopeNotFound (404)."""
        with self.cloud.db.reader() as s:
            return load_scope(s, ctx, scope_id)

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[AddressScope]:
        """Scopes the caller sees (own and shared; every one for an admin asking
        ``all_projects``), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort), AddressScopeNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            select = sa.select(AddressScope).where(lists.filter_condition(_COLUMNS, query))
            if not (query.all_projects and ctx.is_admin):
                select = select.where(
                    sa.or_(AddressScope.project_id == ctx.project_id, AddressScope.shared)
                )
            return lists.fetch(s, select, SORT, query, exc.AddressScopeNotFound)

    def update(
        self, ctx: RequestContext, scope_id: str, name: str | None, shared: bool | None
    ) -> AddressScope:
        """Rename a scope, or (admin) share it.

        Raises:
            AddressScopeNotFound (404), NotAuthorized (403: not the owner; ``shared`` by a
            non-admin).
        """
        if shared is not None and not ctx.is_admin:
            raise exc.NotAuthorized("Only an administrator may set shared.")
        with self.cloud.db.transaction() as s:
            row = _owned(s, ctx, scope_id)
            if name is not None:
                row.name = name
            if shared is not None:
                row.shared = shared
            s.flush()
            return row

    def delete(self, ctx: RequestContext, scope_id: str) -> None:
        """Delete a scope.

        Raises:
            AddressScopeNotFound (404), NotAuthorized (403), AddressScopeInUse (409: it has
            subnet pools).
        """
        with self.cloud.db.transaction() as s:
            row = _owned(s, ctx, scope_id)
            used = s.scalar(sa.select(SubnetPool.id).where(SubnetPool.address_scope_id == scope_id))
            if used is not None:
                raise exc.AddressScopeInUse(scope_id)
            s.delete(row)
