"""Network quotas (Neutron's ``quotas`` extension, Networking API v2.0 reference "Quotas
extension (quotas)"): per-project limits on networks, subnets, ports, routers, floating IPs,
security groups and rules, counted from the rows a project owns.

- ``DEFAULTS``: Neutron's default limits (``[quotas] quota_network`` = 100...); a project
  without an override has them. ``-1`` is unlimited.
- ``check(session, project_id, resource, delta)``: what every create calls in its write
  transaction before adding rows (networks, subnets, ports, security groups and rules here;
  routers and floating IPs in their families). Raises ``OverQuota`` (409).
- ``Quotas`` (``cloud.network.quotas``): what the API's ``/v2.0/quotas`` calls.

Compute's quotas (``pocketstack/compute/quotas.py``, Nova's ``os-quota-sets``) are apart:
the ``openstack quota`` commands reach these ones for the network keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network import models
from pocketstack.network.models import NetworkQuota

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: Neutron's default limit of each resource it counts (``neutron.conf`` ``[quotas]``).
DEFAULTS: dict[str, int] = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
}
#: resource -> the name of the model whose rows with the project's ``project_id`` count
#: (looked up when counting, so a family whose table comes later needs no change here).
COUNTED: dict[str, str] = {
    "network": "Network",
    "subnet": "Subnet",
    "port": "Port",
    "router": "Router",
    "floatingip": "FloatingIP",
    "security_group": "SecurityGroup",
    "security_group_rule": "SecurityGroupRule",
}
#: The largest limit taken (Neutron: ``sys.maxsize``; ours is a 32-bit column).
MAX_LIMIT = 2**31 - 1


def used(session: Session, project_id: str, resource: str) -> int:
    """How many ``resource`` rows ``project_id`` owns (0 when its table does not exist
    yet)."""
    model = getattr(models, COUNTED[resource], None)
    if model is None:
        return 0
    count = session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.project_id == project_id)
    )
    return int(count or 0)


def limits(session: Session, project_id: str) -> dict[str, int]:
    """Every resource's limit for ``project_id``: its overrides over ``DEFAULTS``."""
    result = dict(DEFAULTS)
    rows = session.execute(
        sa.select(NetworkQuota.resource, NetworkQuota.limit).where(
            NetworkQuota.project_id == project_id
        )
    )
    for resource, limit in rows:
        if resource in result:
            result[resource] = limit
    return result


def _serialize(session: Session, project_id: str, resource: str) -> None:
    """Make concurrent creates of one project's ``resource`` count one after the other, until
    the transaction ends: a PostgreSQL transaction-scoped advisory lock on the pair (SQLite
    writers are already serialized by ``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"{project_id}\0{resource}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def check(session: Session, project_id: str, resource: str, delta: int = 1) -> None:
    """Refuse to add ``delta`` ``resource`` rows to ``project_id`` past its limit.

    Call it in the create's write transaction, before adding the rows (Neutron reserves
    before creating); concurrent creates of the same project and resource wait for each
    other from here to their commit, so two cannot both take the last unit.
    ``resource`` is a key of ``DEFAULTS``.

    Raises:
        OverQuota (409, Neutron's "Quota exceeded for resources: ['network']."):
        ``used + delta`` would pass a limit other than -1.
    """
    _serialize(session, project_id, resource)
    limit = limits(session, project_id)[resource]
    if limit >= 0 and used(session, project_id, resource) + delta > limit:
        raise exc.OverQuota([resource])


@dataclass(frozen=True)
class QuotaUsage:
    """One resource of ``GET /v2.0/quotas/{project_id}/details``."""

    limit: int
    used: int
    reserved: int = 0


class Quotas:
    """The network quotas of ``cloud.network`` (``cloud.network.quotas``). The API
    authorizes (admins set, list and delete; a project reads its own)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def list(self, ctx: RequestContext) -> dict[str, dict[str, int]]:
        """Projects with at least one override -> all their limits (Neutron lists only
        projects whose quotas differ from the defaults)."""
        with self.cloud.db.reader() as s:
            projects = s.scalars(sa.select(NetworkQuota.project_id).distinct())
            return {p: limits(s, p) for p in sorted(projects)}

    def get(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        """The limits of ``project_id``."""
        with self.cloud.db.reader() as s:
            return limits(s, project_id)

    def defaults(self) -> dict[str, int]:
        """The default limits."""
        return dict(DEFAULTS)

    def details(self, ctx: RequestContext, project_id: str) -> dict[str, QuotaUsage]:
        """Limit and usage of each resource of ``project_id``."""
        with self.cloud.db.reader() as s:
            return {
                r: QuotaUsage(lim, used(s, project_id, r))
                for r, lim in limits(s, project_id).items()
            }

    def update(
        self,
        ctx: RequestContext,
        project_id: str,
        changes: Mapping[str, int],
        check_limit: bool = False,
    ) -> dict[str, int]:
        """Set some limits of ``project_id`` (``-1``: unlimited); returns all its limits.

        Raises:
            QuotaResourceUnknown (404): a key that is not a counted resource.
            InvalidInput (400): a limit below -1 or past ``MAX_LIMIT``.
            InvalidQuotaValue (409): ``check_limit`` and a limit below the project's usage
            (what ``openstack quota set`` asks without ``--force``).
        """
        unknown = [k for k in changes if k not in DEFAULTS]
        if unknown:
            raise exc.QuotaResourceUnknown(unknown)
        for resource, limit in changes.items():
            if not -1 <= limit <= MAX_LIMIT:
                raise exc.InvalidInput(
                    f"'{limit}' is not in range -1 through {MAX_LIMIT} for {resource}."
                )
        with self.cloud.db.transaction() as s:
            if check_limit:
                under = [r for r, lim in changes.items() if 0 <= lim < used(s, project_id, r)]
                if under:
                    raise exc.InvalidQuotaValue(under)
            for resource, limit in changes.items():
                row = s.scalar(
                    sa.select(NetworkQuota).where(
                        NetworkQuota.project_id == project_id, NetworkQuota.resource == resource
                    )
                )
                if row is None:
                    s.add(NetworkQuota(project_id=project_id, resource=resource, limit=limit))
                else:
                    row.limit = limit
            s.flush()
            return limits(s, project_id)

    def delete(self, ctx: RequestContext, project_id: str) -> None:
        """Put ``project_id`` back on the defaults (no error when it had none)."""
        with self.cloud.db.transaction() as s:
            s.execute(sa.delete(NetworkQuota).where(NetworkQuota.project_id == project_id))
