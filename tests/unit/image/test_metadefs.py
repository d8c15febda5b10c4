"""The metadata definitions manager (``cloud.image.metadefs``): who sees which namespace,
paging, all-or-nothing creates, renames, the bootstrap's standard namespace."""

from __future__ import annotations

import pytest

from pocketstack.common import errors, policy
from pocketstack.image.metadef_models import MetadefTag
from pocketstack.image.metadefs import MetadefDuplicate, MetadefNotFound, Page
from pocketstack.image.policies import RULES
from tests.unit.image.conftest import make_ctx


def _page(**query: str) -> Page:
    return Page.parse(query, ("namespace", "created_at"), 25)


def test_private_namespaces_are_their_owner_projects_and_admins(cloud, demo, alt, admin):
    md = cloud.image.metadefs
    md.create_namespace(admin, {"namespace": "Mine", "visibility": "private", "owner": "p-demo"})
    md.create_namespace(admin, {"namespace": "Open", "visibility": "public"})
    assert md.get_namespace(demo, "Mine")["namespace"].owner == "p-demo"
    with pytest.raises(MetadefNotFound):
        md.get_namespace(alt, "Mine")
    with pytest.raises(MetadefNotFound):
        md.list_children(alt, "Mine", MetadefTag)
    seen = {ns.namespace for ns, _ in md.list_namespaces(alt, _page())}
    assert seen == {"Open"}
    assert {ns.namespace for ns, _ in md.list_namespaces(admin, _page())} == {"Mine", "Open"}


def test_namespace_pages_follow_the_marker(cloud, admin):
    md = cloud.image.metadefs
    for n in ("A", "B", "C"):
        md.create_namespace(admin, {"namespace": n, "visibility": "public"})
    first = md.list_namespaces(admin, _page(sort_key="namespace", sort_dir="asc", limit="2"))
    assert [ns.namespace for ns, _ in first] == ["A", "B"]
    rest = md.list_namespaces(
        admin, _page(sort_key="namespace", sort_dir="asc", limit="2", marker="B")
    )
    assert [ns.namespace for ns, _ in rest] == ["C"]
    for bad in ({"limit": "-1"}, {"limit": "two"}, {"sort_key": "id"}, {"sort_dir": "up"}):
        with pytest.raises(errors.BadRequest):
            _page(**bad)
    with pytest.raises(errors.BadRequest):
        md.list_namespaces(admin, _page(), visibility="shared")


def test_a_failed_create_leaves_nothing(cloud, admin):
    md = cloud.image.metadefs
    body = {"namespace": "Half", "tags": [{"name": "x"}, {"name": "x"}]}
    with pytest.raises(MetadefDuplicate):
        md.create_namespace(admin, body)
    with pytest.raises(MetadefNotFound):
        md.get_namespace(admin, "Half")


def test_rename_keeps_contents_and_refuses_a_taken_name(cloud, admin):
    md = cloud.image.metadefs
    md.create_namespace(
        admin, {"namespace": "Old", "properties": {"p": {"title": "P", "type": "string"}}}
    )
    md.create_namespace(admin, {"namespace": "Taken"})
    with pytest.raises(MetadefDuplicate):
        md.update_namespace(admin, "Old", {"namespace": "Taken"})
    md.update_namespace(admin, "Old", {"namespace": "New", "visibility": "public"})
    found = md.get_namespace(admin, "New")
    assert [p.name for p in found["properties"]] == ["p"]
    assert found["namespace"].owner == "p-admin"


def test_bootstrap_loads_the_standard_namespace_once(cloud, admin):
    md = cloud.image.metadefs
    md.bootstrap("p-admin")
    md.bootstrap("p-admin")
    found = md.get_namespace(admin, "OS::OperatingSystem")
    assert found["namespace"].protected and found["namespace"].owner == "p-admin"
    assert {name for name, _ in found["associations"]} == {
        "OS::Glance::Image",
        "OS::Cinder::Volume",
    }
    assert {p.name for p in found["properties"]} == {"os_distro", "os_version", "os_admin_user"}


@pytest.mark.parametrize("role", ["reader", "member", "admin"])
def test_metadef_policies_walked_persona_by_persona(role):
    ctx = make_ctx("p-any", role)
    rules = [name for name in RULES if "metadef" in name]
    assert len(rules) == 26
    for name in rules:
        reads = name.split(":")[1].startswith(("get_", "list_"))
        assert policy.allowed(ctx, name) == (reads or role == "admin"), name
