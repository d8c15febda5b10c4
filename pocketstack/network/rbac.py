"""RBAC policies on networks (Neutron v2.0 ``/rbac-policies``): list, get, create, update,
delete (Networking API v2.0 reference, "RBAC Policies").

A policy lets one project (``target_tenant``) or every project (``*``) use a network:
``access_as_shared`` shows it and lets the project plug ports into it,
``access_as_external`` shows it as an external network (a router gateway may use it). The
``*`` policies are the network's ``shared``/``router:external`` flags: setting a flag makes
its ``*`` policy and a ``*`` policy sets the flag, as Neutron keeps them. Removing access a
project still uses (it has ports on the network) is ``RbacPolicyInUse`` (409).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import paging
from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network import lists
from pocketstack.network.models import Network, NetworkRBAC, Port

if TYPE_CHECKING:
    from pocketstack.service import Cloud

SHARED = "access_as_shared"
EXTERNAL = "access_as_external"
WILDCARD = "*"
#: object type -> the actions its policies take (only networks have RBAC here)
ACTIONS: dict[str, tuple[str, ...]] = {"network": (SHARED, EXTERNAL)}
#: action -> the ``Network`` flag its ``*`` policy stands for
FLAGS = {SHARED: "shared", EXTERNAL: "external"}


@dataclass(frozen=True)
class RbacPolicyCreate:
    """``POST /v2.0/rbac-policies`` parsed: ``project_id`` None means the caller's."""

    object_type: str
    object_id: str
    action: str
    target_project: str
    project_id: str | None = None


_COLUMNS: dict[str, Any] = {
    "id": NetworkRBAC.id,
    "project_id": NetworkRBAC.project_id,
    "tenant_id": NetworkRBAC.project_id,
    "object_id": NetworkRBAC.object_id,
    "action": NetworkRBAC.action,
    "target_tenant": NetworkRBAC.target_project,
    "target_project_id": NetworkRBAC.target_project,
}
FILTERS: dict[str, Any] = {**_COLUMNS, "object_type": sa.literal("network")}
#: Neutron's RBAC rows have no timestamps: sorted by id unless asked otherwise
SORT = paging.SortSpec(
    columns=_COLUMNS,
    default=[("id", paging.ASC)],
    tie_breaker=NetworkRBAC.id,
    default_dir=paging.ASC,
    invalid=lambda message: exc.InvalidInput(message),
)


def granted(ctx: RequestContext, action: str) -> Any:
    """SQL condition on ``Network``: a policy of ``action`` targets the caller's project."""
    return sa.exists().where(
        NetworkRBAC.object_id == Network.id,
        NetworkRBAC.action == action,
        NetworkRBAC.target_project.in_((ctx.project_id or "", WILDCARD)),
    )


def has_access(session: Session, ctx: RequestContext, network_id: str, action: str) -> bool:
    """Whether a policy of ``action`` on ``network_id`` targets the caller (or ``*``)."""
    found = session.scalar(
        sa.select(NetworkRBAC.id).where(
            NetworkRBAC.object_id == network_id,
            NetworkRBAC.action == action,
            NetworkRBAC.target_project.in_((ctx.project_id or "", WILDCARD)),
        )
    )
    return found is not None


def visible(session: Session, ctx: RequestContext, net: Network) -> bool:
    """Whether the caller sees ``net``: admin, owner, ``shared``/``router:external``, or a
    policy of either action for its project."""
    if ctx.is_admin or ctx.owns(net.project_id) or net.shared or net.external:
        return True
    found = session.scalar(
        sa.select(NetworkRBAC.id).where(
            NetworkRBAC.object_id == net.id, NetworkRBAC.target_project == (ctx.project_id or "")
        )
    )
    return found is not None


def add(session: Session, net: Network, action: str, target: str) -> NetworkRBAC:
    """Record a policy (no checks but the duplicate); a ``*`` one sets the network's flag.

    Raises:
        DuplicateRbacPolicy (409).
    """
    dup = session.scalar(
        sa.select(NetworkRBAC.id).where(
            NetworkRBAC.object_id == net.id,
            NetworkRBAC.action == action,
            NetworkRBAC.target_project == target,
        )
    )
    if dup is not None:
        raise exc.DuplicateRbacPolicy()
    row = NetworkRBAC(project_id=net.project_id, object_id=net.id, action=action)
    row.target_project = target
    session.add(row)
    if target == WILDCARD:
        setattr(net, FLAGS[action], True)
    session.flush()
    return row


def _users(session: Session, net: Network, action: str, target: str) -> builtins.list[str]:
    """Projects (other than the owner) that lose ``action`` access when the ``target``
    policy goes and still have ports on the network."""
    if action != SHARED:
        return []
    ports = sa.select(Port.project_id).where(
        Port.network_id == net.id, Port.project_id != net.project_id
    )
    if target != WILDCARD:
        ports = ports.where(Port.project_id == target)
        if _exists(session, net.id, action, WILDCARD):
            return []
    else:
        kept = sa.select(NetworkRBAC.target_project).where(
            NetworkRBAC.object_id == net.id, NetworkRBAC.action == action
        )
        ports = ports.where(Port.project_id.not_in(kept))
    return sorted(set(session.scalars(ports)))


def _exists(session: Session, network_id: str, action: str, target: str) -> bool:
    return (
        session.scalar(
            sa.select(NetworkRBAC.id).where(
                NetworkRBAC.object_id == network_id,
                NetworkRBAC.action == action,
                NetworkRBAC.target_project == target,
            )
        )
        is not None
    )


def remove_wildcard(session: Session, net: Network, action: str) -> None:
    """Drop the network's ``*`` policy of ``action`` (its flag turned off).

    Raises:
        InvalidSharedSetting (409): projects without a policy of their own have ports on it.
    """
    row = session.scalar(
        sa.select(NetworkRBAC).where(
            NetworkRBAC.object_id == net.id,
            NetworkRBAC.action == action,
            NetworkRBAC.target_project == WILDCARD,
        )
    )
    if row is not None:
        if _users(session, net, action, WILDCARD):
            raise exc.InvalidSharedSetting(net.id)
        session.delete(row)
    setattr(net, FLAGS[action], False)


class RbacPolicies:
    """The RBAC policies of ``cloud.network`` (``cloud.network.rbac_policies``); every
    method returns ``NetworkRBAC`` rows (rendered by ``api/views.py``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def _load(self, session: Session, ctx: RequestContext, policy_id: str) -> NetworkRBAC:
        row = session.get(NetworkRBAC, policy_id)
        if row is None or not (ctx.is_admin or ctx.owns(row.project_id)):
            raise exc.RbacPolicyNotFound(policy_id)
        return row

    def create(self, ctx: RequestContext, spec: RbacPolicyCreate) -> NetworkRBAC:
        """Share a network the caller owns (an admin: any) with ``spec.target_project``.

        Raises:
            InvalidInput (400: object type or action), NetworkNotFound (404),
            NotAuthorized (403: another project's network, a ``*`` policy by a non-admin),
            DuplicateRbacPolicy (409).
        """
        if spec.action not in ACTIONS.get(spec.object_type, ()):
            raise exc.InvalidInput(
                f"Invalid input for operation: Action '{spec.action}' for object type "
                f"'{spec.object_type}' is invalid."
            )
        if spec.target_project == WILDCARD and not ctx.is_admin:
            raise exc.NotAuthorized("Only an administrator may share a network with every project.")
        with self.cloud.db.transaction() as s:
            net = s.get(Network, spec.object_id)
            if net is None or not visible(s, ctx, net):
                raise exc.NetworkNotFound(spec.object_id)
            if not (ctx.is_admin or ctx.owns(net.project_id)):
                raise exc.NotAuthorized(
                    f"Only the owner of network {net.id} may manipulate its policies."
                )
            if spec.project_id and spec.project_id != net.project_id:
                raise exc.InvalidInput(
                    "Invalid input for operation: the policy's project must be the network's."
                )
            return add(s, net, spec.action, spec.target_project)

    def get(self, ctx: RequestContext, policy_id: str) -> NetworkRBAC:
        """One policy (the caller's projects' or, for an admin, any). Raises
        RbacPolicyNotFound (404)."""
        with self.cloud.db.reader() as s:
            return self._load(s, ctx, policy_id)

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[NetworkRBAC]:
        """The caller's project's policies (every project's for an admin asking
        ``all_projects``), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort), RbacPolicyNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            select = sa.select(NetworkRBAC).where(lists.filter_condition(FILTERS, query))
            if not (query.all_projects and ctx.is_admin):
                select = select.where(NetworkRBAC.project_id == ctx.project_id)
            return lists.fetch(s, select, SORT, query, exc.RbacPolicyNotFound)

    def update(self, ctx: RequestContext, policy_id: str, target: str) -> NetworkRBAC:
        """Point a policy at another project.

        Raises:
            RbacPolicyNotFound (404), NotAuthorized (403: ``*`` by a non-admin),
            DuplicateRbacPolicy / RbacPolicyInUse (409).
        """
        if target == WILDCARD and not ctx.is_admin:
            raise exc.NotAuthorized("Only an administrator may share a network with every project.")
        with self.cloud.db.transaction() as s:
            row = self._load(s, ctx, policy_id)
            if target == row.target_project:
                return row
            net = s.get(Network, row.object_id)
            assert net is not None
            self._check_unused(s, net, row)
            if _exists(s, net.id, row.action, target):
                raise exc.DuplicateRbacPolicy()
            if row.target_project == WILDCARD:
                setattr(net, FLAGS[row.action], False)
            row.target_project = target
            if target == WILDCARD:
                setattr(net, FLAGS[row.action], True)
            s.flush()
            return row

    def delete(self, ctx: RequestContext, policy_id: str) -> None:
        """Delete a policy.

        Raises:
            RbacPolicyNotFound (404), RbacPolicyInUse (409: its target has ports on the
            network).
        """
        with self.cloud.db.transaction() as s:
            row = self._load(s, ctx, policy_id)
            net = s.get(Network, row.object_id)
            assert net is not None
            self._check_unused(s, net, row)
            if row.target_project == WILDCARD:
                setattr(net, FLAGS[row.action], False)
            s.delete(row)

    @staticmethod
    def _check_unused(session: Session, net: Network, row: NetworkRBAC) -> None:
        users = _users(session, net, row.action, row.target_project)
        if users:
            raise exc.RbacPolicyInUse(
                net.id, f"projects {', '.join(users)} have ports on network {net.id}"
            )
