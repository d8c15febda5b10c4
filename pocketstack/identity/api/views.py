"""Render identity resources in the Keystone v3 JSON shapes (Identity API v3 reference)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pocketstack.common.http import ApiRequest
from pocketstack.identity.assignment_list import Assignment, Named, Ref
from pocketstack.identity.catalog import CatalogEntry
from pocketstack.identity.models import (
    ApplicationCredential,
    Domain,
    Endpoint,
    Group,
    Project,
    Region,
    Role,
    Service,
    Trust,
    User,
)
from pocketstack.identity.tokens import DomainScopedRef, TokenInfo

#: The v3 version this API reports (keystoneauth only needs the major version).
VERSION_ID = "v3.14"


def _link(req: ApiRequest, path: str) -> dict[str, str]:
    return {"self": f"{req.base_url}/v3/{path}"}


def collection(
    req: ApiRequest, key: str, items: list[dict[str, Any]], path: str | None = None
) -> dict[str, Any]:
    """``{key: items, "links": {"self", "previous", "next"}}`` (self: ``/v3/<path>``)."""
    url = f"{req.base_url}/v3/{path or key}"
    return {key: items, "links": {"self": url, "previous": None, "next": None}}


def version(req: ApiRequest) -> dict[str, Any]:
    """The v3 version document (GET /identity/v3)."""
    return {
        "id": VERSION_ID,
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": req.base_url + "/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


def token_time(ts: float) -> str:
    """UNIX seconds as Keystone's ``2026-01-01T00:00:00.000000Z``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ref(r: Ref) -> dict[str, Any]:
    return {"id": r.id, "name": r.name}


def _scoped_ref(r: DomainScopedRef) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "domain": _ref(r.domain)}


def token(info: TokenInfo, entries: list[CatalogEntry] | None) -> dict[str, Any]:
    """The ``token`` object of POST/GET /v3/auth/tokens (``catalog`` with a scope, when
    ``entries`` is given)."""
    p = info.payload
    body: dict[str, Any] = {
        "methods": p.methods,
        "user": {**_scoped_ref(info.user), "password_expires_at": None},
        "audit_ids": p.audit_ids,
        "expires_at": token_time(p.expires_at),
        "issued_at": token_time(p.issued_at),
    }
    if info.project is not None:
        body["project"] = _scoped_ref(info.project)
        body["is_domain"] = False
    if info.domain is not None:
        body["domain"] = _ref(info.domain)
    if info.system:
        body["system"] = {"all": True}
    if info.project is not None or info.domain is not None or info.system:
        body["roles"] = [_ref(r) for r in info.roles]
        if entries is not None:
            body["catalog"] = catalog(entries, info.project.id if info.project else None)
    if info.app_cred is not None:
        c = info.app_cred
        body["application_credential"] = {"id": c.id, "name": c.name, "restricted": c.restricted}
    if info.trust is not None:
        tr = info.trust
        body["OS-TRUST:trust"] = {
            "id": tr.id,
            "impersonation": tr.impersonation,
            "trustor_user": {"id": tr.trustor_id},
            "trustee_user": {"id": tr.trustee_id},
        }
    if info.oauth is not None:
        body["OS-OAUTH1"] = {
            "access_token_id": info.oauth.access_token_id,
            "consumer_id": info.oauth.consumer_id,
        }
    return body


def catalog(entries: list[CatalogEntry], project_id: str | None = None) -> list[dict[str, Any]]:
    """The catalog of a token and of GET /v3/auth/catalog: each enabled service with its
    enabled endpoints. A URL with ``%(project_id)s`` / ``$(project_id)s`` (Swift's
    ``/v1/AUTH_%(project_id)s``) gets the token's project, or is left out without one, as
    Keystone's templated catalog does."""
    return [
        {
            "id": e.service.id,
            "type": e.service.type,
            "name": e.service.name or "",
            "endpoints": [
                {
                    "id": ep.id,
                    "interface": ep.interface,
                    "region": ep.region_id,
                    "region_id": ep.region_id,
                    "url": url,
                }
                for ep in e.endpoints
                if (url := _endpoint_url(ep.url, project_id)) is not None
            ],
        }
        for e in entries
    ]


def _endpoint_url(url: str, project_id: str | None) -> str | None:
    """``url`` with the project substituted; None when it needs one and there is none."""
    url = url.replace("$(", "%(")
    if "%(" not in url:
        return url
    if project_id is None:
        return None
    try:
        return url % {"project_id": project_id, "tenant_id": project_id}
    except (KeyError, ValueError):
        return None


def domain(req: ApiRequest, d: Domain) -> dict[str, Any]:
    """The Identity v3 API view of a domain (Keystone API reference)."""
    return {
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "tags": [],
        "options": {},
        "links": _link(req, f"domains/{d.id}"),
    }


def project(req: ApiRequest, p: Project) -> dict[str, Any]:
    """The Identity v3 API view of a project (Keystone API reference)."""
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "parent_id": p.parent_id or p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "is_domain": False,
        "tags": list(p.tags or []),
        "options": {},
        "links": _link(req, f"projects/{p.id}"),
    }


def user(req: ApiRequest, u: User) -> dict[str, Any]:
    """The Identity v3 API view of a user (never the password) (Keystone API reference)."""
    out = {
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "default_project_id": u.default_project_id,
        "password_expires_at": None,
        "options": {},
        "links": _link(req, f"users/{u.id}"),
    }
    for key in ("description", "email"):
        if getattr(u, key) is not None:
            out[key] = getattr(u, key)
    return out


def group(req: ApiRequest, g: Group) -> dict[str, Any]:
    """The Identity v3 API view of a group (Keystone API reference)."""
    return {
        "id": g.id,
        "name": g.name,
        "domain_id": g.domain_id,
        "description": g.description,
        "links": _link(req, f"groups/{g.id}"),
    }


def role(req: ApiRequest, r: Role) -> dict[str, Any]:
    """The Identity v3 API view of a role (Keystone API reference)."""
    return {
        "id": r.id,
        "name": r.name,
        "domain_id": None,
        "description": r.description,
        "options": {},
        "links": _link(req, f"roles/{r.id}"),
    }


def role_ref(req: ApiRequest, r: Role) -> dict[str, Any]:
    """A role reference ``{id, name, links}`` in tokens and assignments (Keystone v3)."""
    return {"id": r.id, "name": r.name, "links": _link(req, f"roles/{r.id}")}


def inference(req: ApiRequest, prior: Role, implied: list[Role]) -> dict[str, Any]:
    """``{"prior_role": {...}, "implies": [...]}`` (implied roles)."""
    return {"prior_role": role_ref(req, prior), "implies": [role_ref(req, r) for r in implied]}


def implied_role(req: ApiRequest, prior: Role, implied: Role) -> dict[str, Any]:
    """The body of PUT/GET /v3/roles/{prior_id}/implies/{implied_id}."""
    return {
        "role_inference": {
            "prior_role": role_ref(req, prior),
            "implies": role_ref(req, implied),
        },
        "links": {"self": f"{req.base_url}/v3/roles/{prior.id}/implies/{implied.id}"},
    }


def implied_roles(req: ApiRequest, prior: Role, implied: list[Role]) -> dict[str, Any]:
    """The body of GET /v3/roles/{prior_id}/implies."""
    return {
        "role_inference": inference(req, prior, implied),
        "links": {"self": f"{req.base_url}/v3/roles/{prior.id}/implies"},
    }


def _named(n: Named) -> dict[str, Any]:
    """``{"id"}``, with ``name`` (and ``domain``) when the listing asked for names."""
    out: dict[str, Any] = {"id": n.id}
    if n.name is not None:
        out["name"] = n.name
    if n.domain is not None:
        out["domain"] = _ref(n.domain)
    return out


def assignment(req: ApiRequest, a: Assignment) -> dict[str, Any]:
    """One entry of GET /v3/role_assignments, with Keystone's ``links`` (an inherited one
    with ``"OS-INHERIT:inherited_to": "projects"`` in its scope, or, expanded onto a
    project in effective mode, its ``assignment`` link to the OS-INHERIT path)."""
    actor, target = a.actor_type, a.target_type
    if target == "system":  # Keystone: "scope": {"system": {"all": true}}
        path = f"system/{actor}s/{a.actor.id}/roles/{a.role.id}"
        scope: dict[str, Any] = {"system": {"all": True}}
    else:
        path = f"{target}s/{a.target.id}/{actor}s/{a.actor.id}/roles/{a.role.id}"
        scope = {target: _named(a.target)}
    if a.inherited:  # OS-INHERIT: the link names the inherited assignment itself
        on = f"{a.source[0]}s/{a.source[1]}" if a.source else f"{target}s/{a.target.id}"
        who = f"groups/{a.membership_group}" if a.membership_group else f"{actor}s/{a.actor.id}"
        path = f"OS-INHERIT/{on}/{who}/roles/{a.role.id}/inherited_to_projects"
        if a.source is None:
            scope["OS-INHERIT:inherited_to"] = "projects"
    links: dict[str, str] = {"assignment": f"{req.base_url}/v3/{path}"}
    if a.membership_group:
        links["membership"] = f"{req.base_url}/v3/groups/{a.membership_group}/users/{a.actor.id}"
    if a.prior_role:
        links["prior_role"] = f"{req.base_url}/v3/roles/{a.prior_role}"
    return {
        "role": _named(a.role),
        actor: _named(a.actor),
        "scope": scope,
        "links": links,
    }


def trust(req: ApiRequest, tr: Trust, roles: list[Role]) -> dict[str, Any]:
    """The OS-TRUST view of a trust (Keystone API reference, "Create trust")."""
    expires = tr.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if tr.expires_at else None
    return {
        "id": tr.id,
        "trustor_user_id": tr.trustor_user_id,
        "trustee_user_id": tr.trustee_user_id,
        "project_id": tr.project_id,
        "impersonation": tr.impersonation,
        "expires_at": expires,
        "remaining_uses": tr.remaining_uses,
        "allow_redelegation": False,
        "redelegation_count": 0,
        "redelegated_trust_id": None,
        "roles": [role(req, r) for r in roles],
        "roles_links": {"self": None, "previous": None, "next": None},
        "links": _link(req, f"OS-TRUST/trusts/{tr.id}"),
    }


def region(req: ApiRequest, r: Region) -> dict[str, Any]:
    """The Identity v3 API view of a region (Keystone API reference)."""
    return {
        "id": r.id,
        "description": r.description,
        "parent_region_id": r.parent_region_id,
        "links": _link(req, f"regions/{r.id}"),
    }


def service(req: ApiRequest, s: Service) -> dict[str, Any]:
    """The Identity v3 API view of a service (Keystone API reference)."""
    out = {
        "id": s.id,
        "type": s.type,
        "name": s.name,
        "enabled": s.enabled,
        "links": _link(req, f"services/{s.id}"),
    }
    if s.description is not None:
        out["description"] = s.description
    return out


def endpoint(req: ApiRequest, e: Endpoint) -> dict[str, Any]:
    """The Identity v3 API view of an endpoint (Keystone API reference)."""
    return {
        "id": e.id,
        "interface": e.interface,
        "region_id": e.region_id,
        "region": e.region_id,
        "service_id": e.service_id,
        "url": e.url,
        "enabled": e.enabled,
        "links": _link(req, f"endpoints/{e.id}"),
    }


def application_credential(
    req: ApiRequest, c: ApplicationCredential, roles: list[Role], secret: str | None = None
) -> dict[str, Any]:
    """The Identity v3 view of an application credential; ``secret`` only at creation."""
    out = {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "roles": [{"id": r.id, "name": r.name, "domain_id": None} for r in roles],
        "unrestricted": c.unrestricted,
        "access_rules": [],
        "expires_at": c.expires_at.isoformat() if c.expires_at else None,
        "links": _link(req, f"users/{c.user_id}/application_credentials/{c.id}"),
    }
    if secret is not None:
        out["secret"] = secret
    return out
