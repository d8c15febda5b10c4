"""The service catalog: regions, services, endpoints (Identity API v3 "Service catalog and
endpoints", "Regions"), one family each (``cloud.identity.regions``, ``.services``,
``.endpoints``), and ``Catalog``: the enabled services with their endpoints, as tokens and
GET /v3/auth/catalog carry them (rendered by ``api/views.py``).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.identity import exceptions as exc
from pocketstack.identity.models import Endpoint, Region, Service

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager

INTERFACES = ("public", "internal", "admin")


class CatalogEntry(NamedTuple):
    """One service of the token catalog with its enabled endpoints."""

    service: Service
    endpoints: list[Endpoint]


def _get(s: Session, model: Any, error: type, ident: str, what: str) -> Any:
    row = s.get(model, ident)
    if row is None:
        raise error(f"Could not find {what}: {ident}.")
    return row


class Regions:
    """Regions (``cloud.identity.regions``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def list(self, ctx: RequestContext, parent_region_id: str | None = None) -> list[Region]:
        """All regions (optionally children of ``parent_region_id``)."""
        q = sa.select(Region).order_by(Region.id)
        if parent_region_id is not None:
            q = q.where(Region.parent_region_id == parent_region_id)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, region_id: str) -> Region:
        """One region; raises ``RegionNotFound``."""
        with self.db.reader() as s:
            return _get(s, Region, exc.RegionNotFound, region_id, "region")

    def create(
        self,
        ctx: RequestContext,
        region_id: str | None,
        description: str = "",
        parent_region_id: str | None = None,
    ) -> Region:
        """A new region (id generated when not given); raises ``DuplicateEntry``."""
        from pocketstack.common.db import new_id

        region_id = region_id or new_id().replace("-", "")
        with self.db.transaction() as s:
            if s.get(Region, region_id) is not None:
                raise exc.DuplicateEntry(f"Duplicate ID, {region_id}.")
            if parent_region_id:
                _get(s, Region, exc.RegionNotFound, parent_region_id, "region")
            region = Region(
                id=region_id, description=description or "", parent_region_id=parent_region_id
            )
            s.add(region)
        return region

    def update(self, ctx: RequestContext, region_id: str, changes: dict[str, Any]) -> Region:
        """Change ``description`` (null clears it) and ``parent_region_id``.

        Raises:
            RegionNotFound (the region or the new parent); ValidationError when the new
            parent is the region itself or one of its descendants (as Keystone).
        """
        with self.db.transaction() as s:
            region = _get(s, Region, exc.RegionNotFound, region_id, "region")
            if "description" in changes:
                region.description = changes["description"] or ""
            parent_id = changes.get("parent_region_id")
            if parent_id:
                _check_parent(s, region_id, parent_id)
            if "parent_region_id" in changes:
                region.parent_region_id = parent_id
        return region

    def delete(self, ctx: RequestContext, region_id: str) -> None:
        """Delete a region and its child regions, as Keystone does.

        Raises:
            RegionNotFound; ForbiddenAction (403) when the region or one of its
            descendants has endpoints (Keystone's ``RegionDeletionError``).
        """
        with self.db.transaction() as s:
            region = _get(s, Region, exc.RegionNotFound, region_id, "region")
            family, frontier = [region_id], [region_id]
            while frontier:
                frontier = list(
                    s.scalars(sa.select(Region.id).where(Region.parent_region_id.in_(frontier)))
                )
                family += [r for r in frontier if r not in family]
            if s.scalar(sa.select(Endpoint.id).where(Endpoint.region_id.in_(family)).limit(1)):
                raise exc.ForbiddenAction(
                    f"Unable to delete region {region_id} because it or its child regions "
                    "have associated endpoints."
                )
            s.execute(sa.delete(Region).where(Region.id.in_(family[1:])))
            s.delete(region)


class Services:
    """Catalog services (``cloud.identity.services``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def list(
        self, ctx: RequestContext, type: str | None = None, name: str | None = None
    ) -> list[Service]:
        """Services, optionally filtered by ``type`` and ``name``."""
        q = sa.select(Service).order_by(Service.type)
        if type is not None:
            q = q.where(Service.type == type)
        if name is not None:
            q = q.where(Service.name == name)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, service_id: str) -> Service:
        """One service; raises ``ServiceNotFound``."""
        with self.db.reader() as s:
            return _get(s, Service, exc.ServiceNotFound, service_id, "service")

    def create(
        self,
        ctx: RequestContext,
        type: str,
        name: str | None = None,
        description: str | None = None,
        enabled: bool = True,
    ) -> Service:
        """A new catalog service."""
        with self.db.transaction() as s:
            service = Service(type=type, name=name, description=description, enabled=enabled)
            s.add(service)
        return service

    def update(self, ctx: RequestContext, service_id: str, changes: dict[str, Any]) -> Service:
        """Change ``type``, ``name``, ``description``, ``enabled``."""
        with self.db.transaction() as s:
            service = _get(s, Service, exc.ServiceNotFound, service_id, "service")
            for key in ("type", "name", "description", "enabled"):
                if key in changes:
                    setattr(service, key, changes[key])
        return service

    def delete(self, ctx: RequestContext, service_id: str) -> None:
        """Delete a service and its endpoints."""
        with self.db.transaction() as s:
            service = _get(s, Service, exc.ServiceNotFound, service_id, "service")
            s.execute(sa.delete(Endpoint).where(Endpoint.service_id == service_id))
            s.delete(service)


class Endpoints:
    """Endpoints (``cloud.identity.endpoints``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def list(
        self,
        ctx: RequestContext,
        interface: str | None = None,
        service_id: str | None = None,
        region_id: str | None = None,
    ) -> list[Endpoint]:
        """Endpoints matching the filters."""
        q = sa.select(Endpoint).order_by(Endpoint.service_id, Endpoint.interface)
        for key, value in (
            ("interface", interface),
            ("service_id", service_id),
            ("region_id", region_id),
        ):
            if value is not None:
                q = q.where(getattr(Endpoint, key) == value)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, endpoint_id: str) -> Endpoint:
        """One endpoint; raises ``EndpointNotFound``."""
        with self.db.reader() as s:
            return _get(s, Endpoint, exc.EndpointNotFound, endpoint_id, "endpoint")

    def create(
        self,
        ctx: RequestContext,
        service_id: str,
        interface: str,
        url: str,
        region_id: str | None = None,
        enabled: bool = True,
    ) -> Endpoint:
        """A new endpoint.

        Raises:
            ValidationError: ``interface`` not public/internal/admin, or no ``url``.
            ValidationError (400): ``region_id`` names no region (as Keystone).
            ServiceNotFound.
        """
        _check_endpoint(interface, url)
        with self.db.transaction() as s:
            _get(s, Service, exc.ServiceNotFound, service_id, "service")
            _check_region(s, region_id)
            endpoint = Endpoint(
                service_id=service_id,
                interface=interface,
                url=url,
                region_id=region_id,
                enabled=enabled,
            )
            s.add(endpoint)
        return endpoint

    def update(self, ctx: RequestContext, endpoint_id: str, changes: dict[str, Any]) -> Endpoint:
        """Change ``interface``, ``url``, ``region_id``, ``service_id``, ``enabled``; raises
        ``EndpointNotFound``, ``ServiceNotFound``, ``ValidationError`` (400) for an unknown
        region."""
        with self.db.transaction() as s:
            endpoint = _get(s, Endpoint, exc.EndpointNotFound, endpoint_id, "endpoint")
            _check_endpoint(
                changes.get("interface", endpoint.interface), changes.get("url", endpoint.url)
            )
            if changes.get("service_id"):
                _get(s, Service, exc.ServiceNotFound, changes["service_id"], "service")
            _check_region(s, changes.get("region_id"))
            for key in ("interface", "url", "region_id", "service_id", "enabled"):
                if key in changes:
                    setattr(endpoint, key, changes[key])
        return endpoint

    def delete(self, ctx: RequestContext, endpoint_id: str) -> None:
        """Delete an endpoint; raises ``EndpointNotFound``."""
        with self.db.transaction() as s:
            s.delete(_get(s, Endpoint, exc.EndpointNotFound, endpoint_id, "endpoint"))


def _check_region(s: Any, region_id: str | None) -> None:
    """400 when an endpoint names a region that does not exist (Keystone's answer)."""
    if region_id and s.get(Region, region_id) is None:
        raise exc.ValidationError(
            "Expecting to find endpoint region_id in region table. The server could not "
            "comply with the request since it is either malformed or otherwise incorrect. "
            "The client is assumed to be in error."
        )


class Catalog:
    """The catalog of tokens and GET /v3/auth/catalog (``cloud.identity.catalog``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def list(self, project_id: str | None = None) -> builtins.list[CatalogEntry]:
        """The enabled services, by type, each with its enabled endpoints; for a
        ``project_id`` with OS-EP-FILTER associations, only its associated endpoints (and
        the services that keep some), as Keystone's endpoint filter catalog."""
        from pocketstack.identity.endpoint_filter import filtered_endpoint_ids

        allowed = filtered_endpoint_ids(self.db, project_id) if project_id else None
        with self.db.reader() as s:
            services = list(
                s.scalars(
                    sa.select(Service).where(Service.enabled.is_(True)).order_by(Service.type)
                )
            )
            endpoints = list(
                s.scalars(
                    sa.select(Endpoint)
                    .where(Endpoint.enabled.is_(True))
                    .order_by(Endpoint.interface)
                )
            )
        if allowed is not None:
            endpoints = [e for e in endpoints if e.id in allowed]
            kept = {e.service_id for e in endpoints}
            services = [svc for svc in services if svc.id in kept]
        return [
            CatalogEntry(svc, [e for e in endpoints if e.service_id == svc.id]) for svc in services
        ]

    def ensure_service(self, type: str, name: str, urls: dict[str, str], region: str) -> str:
        """Bootstrap: the service of ``type`` with one endpoint per interface in
        ``region``, URLs set to ``urls[interface]`` (updated when they changed)."""
        with self.db.transaction() as s:
            if s.get(Region, region) is None:
                s.add(Region(id=region, description=""))
                s.flush()
            svc = s.scalar(sa.select(Service).where(Service.type == type))
            if svc is None:
                svc = Service(type=type, name=name, enabled=True)
                s.add(svc)
                s.flush()
            for interface, url in urls.items():
                ep = s.scalar(
                    sa.select(Endpoint).where(
                        Endpoint.service_id == svc.id,
                        Endpoint.interface == interface,
                        Endpoint.region_id == region,
                    )
                )
                if ep is None:
                    s.add(
                        Endpoint(
                            service_id=svc.id,
                            interface=interface,
                            url=url,
                            region_id=region,
                            enabled=True,
                        )
                    )
                elif ep.url != url:
                    ep.url = url
            return svc.id


def _check_parent(s: Session, region_id: str, parent_id: str) -> None:
    """RegionNotFound for an unknown parent; ValidationError when ``parent_id`` is the
    region itself or below it (the tree would loop)."""
    seen = {region_id}
    ancestor: str | None = parent_id
    while ancestor:
        if ancestor in seen:
            raise exc.ValidationError(
                f"Circular reference or a repeated entry found in region tree - {region_id}."
            )
        seen.add(ancestor)
        ancestor = _get(s, Region, exc.RegionNotFound, ancestor, "region").parent_region_id


def _check_endpoint(interface: str, url: str) -> None:
    if interface not in INTERFACES:
        raise exc.ValidationError(
            f"Invalid interface {interface!r}: expected one of {', '.join(INTERFACES)}."
        )
    if not url or not isinstance(url, str):
        raise exc.ValidationError("An endpoint needs a url.")
