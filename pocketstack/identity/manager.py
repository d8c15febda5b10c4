"""The Identity service's manager: one object per resource family, reached as
``cloud.identity.<family>``:

- ``tokens`` (``tokens.TokenProvider``): token issue/validation/revocation; the API layer of
  every service validates ``X-Auth-Token`` with it;
- ``auth`` (``auth.Auth``): /v3/auth (tokens, catalog, projects, domains);
- ``domains``, ``projects``, ``users``, ``groups``, ``application_credentials``,
  ``credentials`` (with OS-EC2), ``trusts`` (OS-TRUST) (a module each, named as the
  family); ``roles``
  (``assignment``: roles, implied roles, grants, assignments); ``regions``, ``services``,
  ``endpoints`` and ``catalog`` (``catalog``).

Functions other services call: ``bootstrap``, ``get_project``, ``project_id_by_name``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.identity.application_credentials import ApplicationCredentials
from pocketstack.identity.assignment import SYSTEM_ID, Roles
from pocketstack.identity.auth import Auth
from pocketstack.identity.catalog import Catalog, Endpoints, Regions, Services
from pocketstack.identity.credentials import Credentials
from pocketstack.identity.domain_configs import DomainConfigs
from pocketstack.identity.domains import Domains
from pocketstack.identity.endpoint_filter import EndpointGroups, ProjectEndpoints
from pocketstack.identity.groups import Groups
from pocketstack.identity.limits import Limits, RegisteredLimits
from pocketstack.identity.models import (
    Domain,
    Group,
    ImpliedRole,
    Project,
    RoleAssignment,
    User,
)
from pocketstack.identity.oauth1 import OAuth1
from pocketstack.identity.policy_blobs import Policies
from pocketstack.identity.projects import Projects
from pocketstack.identity.tokens import TokenProvider
from pocketstack.identity.trusts import Trusts
from pocketstack.identity.users import Users

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: (type, name, path under public_url) of the catalog services bootstrap registers.
CATALOG = (
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/networking"),
    # Cinder v3, without the project in the URL (3.67's form; served at every version)
    ("block-storage", "cinder", "/volume/v3"),
    ("volumev3", "cinderv3", "/volume/v3"),
    ("object-store", "swift", "/object-store/v1/AUTH_%(project_id)s"),
    ("placement", "placement", "/placement"),
)


#: The roles ``keystone-manage bootstrap`` makes, plus ``ResellerAdmin`` (Swift
#: keystoneauth's ``reseller_admin_role``, which deployments with Swift create), and the
#: implication chain among them (each implies the next; the others imply nothing).
BOOTSTRAP_ROLES = ("admin", "manager", "member", "reader", "service", "ResellerAdmin")
IMPLIED_CHAIN = ("admin", "manager", "member", "reader")


class IdentityManager:
    """Entry point of the Identity service for the API layer and other services."""

    def __init__(self, cloud: Cloud):
        from pocketstack.identity import policies  # noqa: F401  (registers the rules)

        self.cloud = cloud
        self.conf = cloud.conf
        self.db = cloud.db
        self.tokens = TokenProvider(cloud.conf, cloud.db)
        self.auth = Auth(self)
        self.domains = Domains(self)
        self.projects = Projects(self)
        self.users = Users(self)
        self.groups = Groups(self)
        self.roles = Roles(self)
        self.regions = Regions(self)
        self.services = Services(self)
        self.endpoints = Endpoints(self)
        self.catalog = Catalog(self)
        self.application_credentials = ApplicationCredentials(self)
        self.credentials = Credentials(self)
        self.trusts = Trusts(self)
        self.policies = Policies(self)
        self.project_endpoints = ProjectEndpoints(self)
        self.endpoint_groups = EndpointGroups(self)
        self.domain_configs = DomainConfigs(self)
        self.registered_limits = RegisteredLimits(self)
        self.limits = Limits(self)
        self.oauth1 = OAuth1(self)

    # -- for other services ----------------------------------------------------------------
    def get_project(self, project_id: str) -> dict[str, str | bool | None] | None:
        """``{"id", "name", "domain_id", "enabled", "description"}`` or None."""
        with self.db.reader() as s:
            p = s.get(Project, project_id)
            if p is None:
                return None
            return {
                "id": p.id,
                "name": p.name,
                "domain_id": p.domain_id,
                "enabled": p.enabled,
                "description": p.description,
            }

    def domain_of(self, kind: str, ident: str) -> str | None:
        """The domain of a ``user``, ``group`` or ``project`` (None when there is none),
        for the domain personas' policy targets."""
        with self.db.reader() as s:
            row: User | Group | Project | None
            if kind == "user":
                row = s.get(User, ident)
            elif kind == "group":
                row = s.get(Group, ident)
            else:
                row = s.get(Project, ident)
            return row.domain_id if row is not None else None

    def project_id_by_name(self, name: str, domain_id: str = "default") -> str | None:
        """The id of project ``name`` in ``domain_id``, or None."""
        with self.db.reader() as s:
            return s.scalar(
                sa.select(Project.id).where(Project.name == name, Project.domain_id == domain_id)
            )

    # -- bootstrap -------------------------------------------------------------------------
    def bootstrap(
        self, admin_password: str, demo_password: str, service_password: str | None = None
    ) -> dict[str, str]:
        """Create what a new cloud needs; idempotent (safe on every start).

        Makes domain ``default`` ("Default"); the roles ``keystone-manage bootstrap`` makes
        (admin, manager, member, reader, service, with admin => manager => member =>
        reader); projects admin, demo, service; users ``admin`` (admin on project admin and
        on the system, as Keystone's bootstrap) and ``demo`` (member on demo); region
        ``conf.region``; identity, compute, image and network services with
        public/internal/admin endpoints under ``conf.public_url`` (URLs rewritten when
        ``public_url`` changed).

        Bootstrap owns the ``admin`` and ``demo`` accounts: on every run their passwords are
        reset to the given ones (a changed password does not survive a restart), and they
        are re-enabled and unlocked (a restart ends a lockout of the admin).

        With ``service_password`` it also makes the compute service user
        (``conf.service_user_name``, default ``nova``: admin on project
        ``conf.service_user_project``, as devstack makes Nova's; its password reset the same
        way), whose token compute hosts download images with (``compute.service_auth``).

        Returns:
            ``{"admin_project_id", "demo_project_id", "service_project_id",
            "admin_user_id", "demo_user_id"}`` (and ``"service_user_id"`` with
            ``service_password``).
        """
        ctx = RequestContext.system()
        self._ensure_domain(ctx)
        roles = {name: self._ensure_role(ctx, name) for name in BOOTSTRAP_ROLES}
        for prior, implied in zip(IMPLIED_CHAIN, IMPLIED_CHAIN[1:], strict=False):
            self._ensure_implied(roles[prior], roles[implied])
        ids = {
            f"{n}_project_id": self._ensure_project(ctx, n) for n in ("admin", "demo", "service")
        }
        for user, role, password in (
            ("admin", "admin", admin_password),
            ("demo", "member", demo_password),
        ):
            project_id = ids[f"{user}_project_id"]
            user_id = self._ensure_user(ctx, user, password, project_id)
            self._ensure_assignment(user_id, project_id, roles[role])
            ids[f"{user}_user_id"] = user_id
        self._ensure_assignment(ids["admin_user_id"], SYSTEM_ID, roles["admin"], "system")
        if service_password:
            project_id = self._ensure_project(ctx, self.conf.service_user_project)
            user_id = self._ensure_user(
                ctx, self.conf.service_user_name, service_password, project_id
            )
            self._ensure_assignment(user_id, project_id, roles["admin"])
            ids["service_user_id"] = user_id
        base = self.conf.public_url.rstrip("/")
        for type_, name, path in CATALOG:
            url = base + path
            self.catalog.ensure_service(
                type_, name, {i: url for i in ("public", "internal", "admin")}, self.conf.region
            )
        return ids

    def _ensure_domain(self, ctx: RequestContext) -> None:
        with self.db.reader() as s:
            if s.get(Domain, "default") is not None:
                return
        self.domains.create(ctx, "Default", "The default domain", domain_id="default")

    def _ensure_role(self, ctx: RequestContext, name: str) -> str:
        found = self.roles.list(ctx, name=name)
        return found[0].id if found else self.roles.create(ctx, name).id

    def _ensure_implied(self, prior: str, implied: str) -> None:
        with self.db.transaction() as s:
            if s.get(ImpliedRole, (prior, implied)) is None:
                s.add(ImpliedRole(prior_role_id=prior, implied_role_id=implied))

    def _ensure_project(self, ctx: RequestContext, name: str) -> str:
        found = self.project_id_by_name(name)
        if found:
            return found
        return self.projects.create(
            ctx, name, "default", description=f"Bootstrap project {name}"
        ).id

    def _ensure_user(self, ctx: RequestContext, name: str, password: str, project_id: str) -> str:
        with self.db.reader() as s:
            user_id = s.scalar(
                sa.select(User.id).where(User.name == name, User.domain_id == "default")
            )
        if user_id is None:
            return self.users.create(
                ctx, name, "default", password=password, default_project_id=project_id
            ).id
        from pocketstack.identity.hashing import check_secret

        with self.db.reader() as s:
            user = s.get(User, user_id)
            same = (
                user is not None
                and check_secret(password, user.password_hash, self.conf.password_hash_rounds)
                and user.enabled
                and not user.failed_auth_count
            )
        if not same:
            self.users.update(ctx, user_id, {"password": password, "enabled": True})
        return user_id

    def _ensure_assignment(
        self, user_id: str, target_id: str, role_id: str, target_type: str = "project"
    ) -> None:
        with self.db.transaction() as s:
            key = ("user", user_id, target_type, target_id, role_id)
            if s.get(RoleAssignment, key) is None:
                s.add(
                    RoleAssignment(
                        actor_type="user",
                        actor_id=user_id,
                        target_type=target_type,
                        target_id=target_id,
                        role_id=role_id,
                    )
                )
