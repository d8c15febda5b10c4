"""Unit tests of the identity manager: bootstrap, lookups for other services, authentication
rules, assignments and visibility."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import Forbidden, NotFound, Unauthorized
from pocketstack.identity import exceptions as exc
from pocketstack.identity.manager import CATALOG
from pocketstack.service import Cloud

SYS = RequestContext.system()


def _auth(user, password, project=None, domain="default"):
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"id": domain}, "password": password}},
        }
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"id": domain}}}
    return auth


def test_bootstrap_is_idempotent(cloud):
    first = cloud.identity.bootstrap("adminpw", "demopw")
    second = cloud.identity.bootstrap("adminpw", "demopw")
    assert first == second
    assert set(first) == {
        "admin_project_id",
        "demo_project_id",
        "service_project_id",
        "admin_user_id",
        "demo_user_id",
    }
    im = cloud.identity
    # the roles keystone-manage bootstrap makes, with its chain admin => manager => member
    # => reader; and Swift's reseller admin role
    names = ["ResellerAdmin", "admin", "manager", "member", "reader", "service"]
    assert [r.name for r in im.roles.list(SYS)] == names
    chain = {p.name: [i.name for i in imp] for p, imp in im.roles.list_implied(SYS)}
    assert chain == {"admin": ["manager"], "manager": ["member"], "member": ["reader"]}
    assert len(im.endpoints.list(SYS)) == 3 * len(CATALOG)  # public, internal, admin: once
    assert {s.type for s in im.services.list(SYS)} == {t for t, _name, _path in CATALOG}
    # admin on project admin and on the system, member on demo
    assert len(im.roles.list_assignments(SYS, {})) == 3
    assert len(im.roles.list_assignments(SYS, {"system": True})) == 1
    assert [(p.name) for p in im.projects.list(SYS, {})] == ["admin", "demo", "service"]


def test_bootstrap_makes_the_service_user_once(cloud):
    """The compute service user: admin on project service, made on the first start; a
    start with the same password changes nothing (no new bcrypt hash)."""
    first = cloud.identity.bootstrap("adminpw", "demopw", "novapw")
    im = cloud.identity
    hashed = im.users.get(SYS, first["service_user_id"]).password_hash
    assert cloud.identity.bootstrap("adminpw", "demopw", "novapw") == first
    assert im.users.get(SYS, first["service_user_id"]).password_hash == hashed
    _token, info, _catalog = im.auth.issue(_auth("nova", "novapw", "service"))
    assert info.user.id == first["service_user_id"]
    assert info.project.id == first["service_project_id"]
    assert "admin" in {r.name for r in info.roles}


def test_bootstrap_resets_passwords_and_follows_public_url(cloud, conf, db, bus):
    ids = cloud.identity.bootstrap("adminpw", "demopw")
    moved = Cloud(conf.replace(public_url="http://cloud.example:9000"), db, bus)
    assert moved.identity.bootstrap("newadmin", "newdemo") == ids
    urls = {e.url for e in moved.identity.endpoints.list(SYS)}
    assert urls == {"http://cloud.example:9000" + path for _type, _name, path in CATALOG}
    with pytest.raises(Unauthorized):
        moved.identity.auth.issue(_auth("demo", "demopw", "demo"))
    _token, info, catalog = moved.identity.auth.issue(_auth("demo", "newdemo", "demo"))
    assert info.project.id == ids["demo_project_id"]
    assert {c.service.type for c in catalog} == {t for t, _name, _path in CATALOG}


def test_lookups_for_other_services(cloud):
    ids = cloud.identity.bootstrap("a", "d")
    assert cloud.identity.project_id_by_name("demo") == ids["demo_project_id"]
    assert cloud.identity.project_id_by_name("nope") is None
    assert cloud.identity.get_project(ids["demo_project_id"])["name"] == "demo"
    assert cloud.identity.get_project("missing") is None


def test_authentication_failures_are_all_401(cloud):
    cloud.identity.bootstrap("a", "d")
    for auth in (
        _auth("demo", "wrong", "demo"),
        _auth("ghost", "d", "demo"),
        _auth("demo", "d", "admin"),  # no role on admin
        _auth("demo", "d", "nosuchproject"),
    ):
        with pytest.raises(Unauthorized):
            cloud.identity.auth.issue(auth)
    with pytest.raises(exc.ValidationError):
        cloud.identity.auth.issue({"identity": {"methods": ["password"]}})


def test_unscoped_token_uses_default_project_and_rescope(cloud):
    ids = cloud.identity.bootstrap("a", "d")
    token, info, _ = cloud.identity.auth.issue(_auth("demo", "d"))
    assert info.project.id == ids["demo_project_id"]  # default project of demo
    im = cloud.identity
    user = im.users.create(SYS, "nodefault", password="pw")
    _t, info, _ = im.auth.issue(_auth("nodefault", "pw"))
    assert info.project is None and info.roles == []
    _t, rescoped, _ = im.auth.issue(
        {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": {"project": {"id": ids["demo_project_id"]}},
        }
    )
    parent = im.tokens.decode(token)
    assert rescoped.payload.expires_at == parent.expires_at
    assert rescoped.payload.audit_ids[1] == parent.audit_ids[0]
    assert rescoped.payload.user_id != user.id


def test_group_roles_and_effective_assignments(cloud):
    ids = cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    user = im.users.create(SYS, "gu", password="pw")
    group = im.groups.create(SYS, "g")
    im.groups.add_member(SYS, group.id, user.id)
    reader = im.roles.list(SYS, "reader")[0]
    member = im.roles.list(SYS, "member")[0]
    im.roles.grant(SYS, member.id, "group", group.id, "project", ids["demo_project_id"])
    _t, info, _ = im.auth.issue(_auth("gu", "pw", "demo"))
    assert {r.name for r in info.roles} == {"member", "reader"}
    rows = im.roles.list_assignments(
        SYS, {"user_id": user.id, "effective": True, "include_names": True}
    )
    assert {(r.role.name, r.membership_group) for r in rows} == {
        ("member", group.id),
        ("reader", group.id),
    }
    assert rows[0].actor_type == "user" and rows[0].actor.name == "gu"
    with pytest.raises(exc.RoleAssignmentNotFound):
        im.roles.check_grant(SYS, reader.id, "group", group.id, "project", ids["demo_project_id"])


def test_non_admin_lists_only_itself(cloud):
    """The managers' own filters. (Who may call what, with its 403s, is the policy's:
    test_policies.py walks every route with every persona.)"""
    cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    _t, info, _ = im.auth.issue(_auth("demo", "d", "demo"))
    ctx = info.context
    assert [u.name for u in im.users.list(ctx)] == ["demo"]
    assert [p.name for p in im.projects.list(ctx, {})] == ["demo"]
    rows = im.roles.list_assignments(ctx, {})
    assert {(r.actor_type, r.actor.id) for r in rows} == {("user", ctx.user_id)}
    with pytest.raises(NotFound):
        im.projects.get(SYS, "no-such-project")


def test_change_password_needs_original(cloud):
    cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    _t, info, _ = im.auth.issue(_auth("demo", "d", "demo"))
    with pytest.raises(Unauthorized):
        im.users.change_password(info.context, info.context.user_id, "wrong", "new")
    im.users.change_password(info.context, info.context.user_id, "d", "new")
    im.auth.issue(_auth("demo", "new", "demo"))


def test_domain_delete_needs_disable(cloud):
    cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    dom = im.domains.create(SYS, "d2")
    im.projects.create(SYS, "p", dom.id)
    with pytest.raises(Forbidden):
        im.domains.delete(SYS, dom.id)
    im.domains.update(SYS, dom.id, {"enabled": False})
    im.domains.delete(SYS, dom.id)
    assert im.project_id_by_name("p", dom.id) is None


def test_implied_role_cycle_refused(cloud):
    cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    admin, reader = (im.roles.list(SYS, n)[0] for n in ("admin", "reader"))
    with pytest.raises(exc.ValidationError):
        im.roles.create_implied(SYS, reader.id, admin.id)


def test_non_admin_project_list_counts_roles_held_through_a_group(cloud):
    """The non-admin filter of ``projects.list`` is SQL over direct and group assignments."""
    ids = cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    user = im.users.create(SYS, "gm", password="pw")
    group = im.groups.create(SYS, "readers")
    im.groups.add_member(SYS, group.id, user.id)
    reader = im.roles.list(SYS, "reader")[0]
    im.roles.grant(SYS, reader.id, "group", group.id, "project", ids["admin_project_id"])
    _t, info, _ = im.auth.issue(_auth("gm", "pw", "admin"))
    assert [p.name for p in im.projects.list(info.context, {})] == ["admin"]
    assert [p.name for p in im.auth.list_projects(info.context)] == ["admin"]


def test_auth_domains_are_those_with_a_role_direct_or_through_a_group(cloud):
    cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    user = im.users.create(SYS, "dm", password="pw")
    group = im.groups.create(SYS, "domain-readers")
    im.groups.add_member(SYS, group.id, user.id)
    reader = im.roles.list(SYS, "reader")[0]
    acme, _other = im.domains.create(SYS, "acme"), im.domains.create(SYS, "other")
    _t, info, _ = im.auth.issue(_auth("dm", "pw"))
    assert im.auth.list_domains(info.context) == []
    im.roles.grant(SYS, reader.id, "user", user.id, "domain", "default")
    im.roles.grant(SYS, reader.id, "group", group.id, "domain", acme.id)
    assert {d.name for d in im.auth.list_domains(info.context)} == {"Default", "acme"}


def test_project_tag_filters(cloud):
    cloud.identity.bootstrap("a", "d")
    im = cloud.identity
    im.projects.create(SYS, "ab", tags=["a", "b"])
    im.projects.create(SYS, "b", tags=["b"])
    im.projects.create(SYS, "none")

    def names(**filters):
        return sorted(p.name for p in im.projects.list(SYS, filters))

    assert names(tags=["a", "b"]) == ["ab"]
    assert names(tags=["b"]) == ["ab", "b"]
    assert names(**{"tags-any": ["a", "c"]}) == ["ab"]
    assert names(**{"tags-any": ["b"]}, tags=["a"]) == ["ab"]
    assert names(tags=["zz"]) == []
