"""Glance's metadata definitions catalog (Image API v2 "Metadata definitions") through
openstacksdk's image proxy and the ``openstack image metadef ...`` CLI: namespaces with
their visibility, protection and ownership rules, resource type associations, properties,
objects, tags (one at a time and in bulk with ``X-Openstack-Append``) and the metadef
schemas (issue 12)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions

ADMIN = "pocketstack-admin"


@pytest.fixture
def names(running_cloud) -> Iterator[list[str]]:
    """Namespaces a test creates; each is made unprotected and deleted afterwards."""
    made: list[str] = []
    yield made
    admin = running_cloud.sdk(ADMIN).image
    for name in made:
        try:
            admin.update_metadef_namespace(name, protected=False, visibility="public")
        except exceptions.NotFoundException:
            continue
        admin.delete_metadef_namespace(name, ignore_missing=True)


def _name(names: list[str], stem: str = "Test") -> str:
    name = f"Pocket::{stem}::{uuid.uuid4().hex[:8]}"
    names.append(name)
    return name


def _raw(conn: Any) -> Any:
    """The image proxy as a keystoneauth adapter, for requests the sdk has no call for."""
    return conn.image


def test_namespace_lifecycle_through_the_sdk(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    name = _name(names)
    created = admin.create_metadef_namespace(
        namespace=name,
        display_name="Pocket test",
        description="made by a test",
        visibility="public",
        protected=False,
        resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "pt_"}],
    )
    assert created.namespace == name
    assert created.owner == running_cloud.sdk(ADMIN).current_project_id
    shown = admin.get_metadef_namespace(name)
    assert (shown.display_name, shown.description) == ("Pocket test", "made by a test")
    assert shown.visibility == "public" and shown.is_protected is False
    assert [a["name"] for a in shown.resource_type_associations] == ["OS::Glance::Image"]
    raw = admin.get(f"/metadefs/namespaces/{name}").json()
    assert raw["self"] == f"/v2/metadefs/namespaces/{name}"
    assert raw["schema"] == "/v2/schemas/metadefs/namespace"
    assert raw["resource_type_associations"][0]["prefix"] == "pt_"
    listed = [n.namespace for n in admin.metadef_namespaces(resource_types="OS::Glance::Image")]
    assert name in listed
    assert name not in [n.namespace for n in admin.metadef_namespaces(visibility="private")]
    updated = admin.update_metadef_namespace(
        name, display_name="Renamed", visibility="public", protected=False
    )
    assert updated.display_name == "Renamed"
    assert admin.get_metadef_namespace(name).display_name == "Renamed"
    admin.delete_metadef_namespace(name)
    with pytest.raises(exceptions.NotFoundException):
        admin.get_metadef_namespace(name)


def test_namespace_list_pages_with_limit_and_marker(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    made = [_name(names, "Page") for _ in range(3)]
    for name in made:
        admin.create_metadef_namespace(namespace=name, visibility="public")
    resp = admin.get("/metadefs/namespaces", params={"limit": 2, "sort_key": "created_at"})
    body = resp.json()
    assert resp.status_code == 200 and len(body["namespaces"]) == 2
    assert body["next"].startswith("/v2/metadefs/namespaces?")
    assert "marker=" in body["next"]
    # the sdk follows the next links: every namespace made comes back once
    everything = [n.namespace for n in admin.metadef_namespaces(limit=2)]
    assert all(everything.count(n) == 1 for n in made)
    asc = [n.namespace for n in admin.metadef_namespaces(sort_key="namespace", sort_dir="asc")]
    assert asc == sorted(asc)
    for params in ({"limit": "x"}, {"sort_dir": "up"}, {"sort_key": "nope"}):
        assert admin.get("/metadefs/namespaces", params=params).status_code == 400
    missing = admin.get("/metadefs/namespaces", params={"marker": "No::Such::Namespace"})
    assert missing.status_code == 404


def test_duplicate_unknown_and_member_writes_are_refused(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    demo = running_cloud.sdk().image
    name = _name(names)
    admin.create_metadef_namespace(namespace=name, visibility="public")
    with pytest.raises(exceptions.ConflictException) as dup:
        admin.create_metadef_namespace(namespace=name)
    assert name in str(dup.value)
    with pytest.raises(exceptions.NotFoundException):
        admin.get_metadef_namespace(f"{name}::missing")
    with pytest.raises(exceptions.NotFoundException):
        admin.delete_metadef_namespace(f"{name}::missing", ignore_missing=False)
    # Glance's defaults: only admins write definitions; members read public ones
    assert demo.get_metadef_namespace(name).namespace == name
    with pytest.raises(exceptions.ForbiddenException):
        demo.create_metadef_namespace(namespace=_name(names))
    with pytest.raises(exceptions.ForbiddenException):
        demo.delete_metadef_namespace(name, ignore_missing=False)
    bad = admin.post("/metadefs/namespaces", json={"namespace": "x" * 81})
    assert bad.status_code == 400
    read_only = admin.post("/metadefs/namespaces", json={"namespace": "a", "self": "/x"})
    assert read_only.status_code == 403
    assert read_only.json()["message"] == "Attribute 'self' is read-only."


def test_private_namespace_is_invisible_to_another_project(running_cloud, names):
    admin_conn = running_cloud.sdk(ADMIN)
    demo_conn = running_cloud.sdk()
    admin, demo = admin_conn.image, demo_conn.image
    private = _name(names, "Private")
    admin.create_metadef_namespace(namespace=private, visibility="private")
    assert admin.get_metadef_namespace(private).owner == admin_conn.current_project_id
    with pytest.raises(exceptions.NotFoundException):
        demo.get_metadef_namespace(private)
    assert private not in [n.namespace for n in demo.metadef_namespaces()]
    with pytest.raises(exceptions.NotFoundException):
        list(demo.metadef_properties(private))
    # a private namespace owned by the demo project is the demo project's to read
    theirs = _name(names, "Theirs")
    admin.create_metadef_namespace(
        namespace=theirs, visibility="private", owner=demo_conn.current_project_id
    )
    assert demo.get_metadef_namespace(theirs).visibility == "private"
    assert theirs in [n.namespace for n in demo.metadef_namespaces(visibility="private")]


def test_protected_namespace_refuses_deletes_with_403(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    name = _name(names, "Protected")
    body = {
        "namespace": name,
        "visibility": "public",
        "protected": True,
        "objects": [{"name": "obj", "properties": {"p": {"title": "P", "type": "string"}}}],
        "properties": {"prop": {"title": "Prop", "type": "string"}},
        "tags": [{"name": "t1"}],
    }
    created = admin.post("/metadefs/namespaces", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["objects"][0]["name"] == "obj"
    assert created.json()["tags"] == [{"name": "t1"}]
    with pytest.raises(exceptions.ForbiddenException) as refused:
        admin.delete_metadef_namespace(name, ignore_missing=False)
    assert "protected" in str(refused.value)
    paths = ("/objects", "/objects/obj", "/properties", "/properties/prop", "/tags", "/tags/t1")
    for path in paths:
        resp = admin.delete(f"/metadefs/namespaces/{name}{path}")
        assert resp.status_code == 403, path
    assert admin.delete(f"/metadefs/namespaces/{name}/objects/nothing").status_code == 404
    assert admin.get_metadef_object("obj", name).name == "obj"
    admin.update_metadef_namespace(name, protected=False, visibility="public")
    admin.delete_metadef_namespace(name, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        admin.get_metadef_namespace(name)


def test_resource_types_and_associations(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    demo = running_cloud.sdk().image
    standard = {r.name for r in demo.metadef_resource_types()}
    assert {"OS::Glance::Image", "OS::Nova::Flavor", "OS::Cinder::Volume"} <= standard
    name = _name(names, "Assoc")
    admin.create_metadef_namespace(namespace=name, visibility="public")
    admin.create_metadef_property(name, name="cpu_policy", title="CPU policy", type="string")
    assoc = admin.create_metadef_resource_type_association(
        name, name="OS::Nova::Flavor", prefix="hw:", properties_target=None
    )
    assert (assoc.name, assoc.prefix) == ("OS::Nova::Flavor", "hw:")
    with pytest.raises(exceptions.ConflictException):
        admin.create_metadef_resource_type_association(name, name="OS::Nova::Flavor")
    listed = [(a.name, a.prefix) for a in demo.metadef_resource_type_associations(name)]
    assert listed == [("OS::Nova::Flavor", "hw:")]
    # the namespace shown for a resource type carries the association's prefix
    shown = demo.get(f"/metadefs/namespaces/{name}", params={"resource_type": "OS::Nova::Flavor"})
    assert list(shown.json()["properties"]) == ["hw:cpu_policy"]
    prop = demo.get(
        f"/metadefs/namespaces/{name}/properties/hw:cpu_policy",
        params={"resource_type": "OS::Nova::Flavor"},
    )
    assert prop.status_code == 200 and prop.json()["title"] == "CPU policy"
    # a resource type nobody defined is created by its first association, as Glance does
    admin.create_metadef_resource_type_association(name, name="Pocket::Custom::Type")
    assert "Pocket::Custom::Type" in {r.name for r in demo.metadef_resource_types()}
    admin.delete_metadef_resource_type_association("OS::Nova::Flavor", name, ignore_missing=False)
    remaining = [a.name for a in demo.metadef_resource_type_associations(name)]
    assert remaining == ["Pocket::Custom::Type"]
    with pytest.raises(exceptions.NotFoundException):
        admin.delete_metadef_resource_type_association(
            "OS::Nova::Flavor", name, ignore_missing=False
        )


def test_properties_through_the_sdk(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    name = _name(names, "Props")
    admin.create_metadef_namespace(namespace=name, visibility="public")
    created = admin.create_metadef_property(
        name,
        name="hw_vif_model",
        title="VIF model",
        type="string",
        enum=["virtio", "e1000"],
        default="virtio",
    )
    assert (created.name, created.enum) == ("hw_vif_model", ["virtio", "e1000"])
    with pytest.raises(exceptions.ConflictException):
        admin.create_metadef_property(name, name="hw_vif_model", title="again", type="string")
    with pytest.raises(exceptions.BadRequestException):
        admin.create_metadef_property(name, name="bad", title="Bad", type="complex")
    admin.update_metadef_property(
        "hw_vif_model", name, name="hw_vif_model", title="NIC model", type="string"
    )
    assert admin.get_metadef_property("hw_vif_model", name).title == "NIC model"
    assert [p.name for p in admin.metadef_properties(name)] == ["hw_vif_model"]
    admin.delete_metadef_property("hw_vif_model", name)
    with pytest.raises(exceptions.NotFoundException):
        admin.get_metadef_property("hw_vif_model", name)
    admin.create_metadef_property(name, name="a", title="A", type="integer", minimum=0)
    admin.delete_all_metadef_properties(name)
    assert list(admin.metadef_properties(name)) == []


def test_objects_through_the_sdk(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    demo = running_cloud.sdk().image
    name = _name(names, "Objects")
    admin.create_metadef_namespace(namespace=name, visibility="public")
    props = {"cores": {"title": "Cores", "type": "integer", "minimum": 1}}
    obj = admin.create_metadef_object(
        name, name="CPU", description="processor", properties=props, required=["cores"]
    )
    assert (obj.name, obj.required) == ("CPU", ["cores"])
    assert obj.properties["cores"]["minimum"] == 1
    with pytest.raises(exceptions.ConflictException):
        admin.create_metadef_object(name, name="CPU")
    assert [o.name for o in demo.metadef_objects(name)] == ["CPU"]
    admin.update_metadef_object("CPU", name, name="Processor", description="renamed")
    assert demo.get_metadef_object("Processor", name).description == "renamed"
    with pytest.raises(exceptions.NotFoundException):
        demo.get_metadef_object("CPU", name)
    with pytest.raises(exceptions.ForbiddenException):
        demo.delete_metadef_object("Processor", name)
    admin.delete_metadef_object("Processor", name)
    admin.create_metadef_object(name, name="A")
    admin.delete_all_metadef_objects(name)
    assert list(demo.metadef_objects(name)) == []


def test_tags_single_and_bulk_with_append(running_cloud, names):
    admin = running_cloud.sdk(ADMIN).image
    name = _name(names, "Tags")
    admin.create_metadef_namespace(namespace=name, visibility="public")
    admin.add_tag_to_metadef_namespace(name, "one")
    with pytest.raises(exceptions.ConflictException):
        admin.add_tag_to_metadef_namespace(name, "one")
    base = f"/metadefs/namespaces/{name}/tags"

    def tags() -> list[str]:
        return [t["name"] for t in admin.get(base, params={"sort_key": "name"}).json()["tags"]]

    body = {"tags": [{"name": "two"}, {"name": "three"}]}
    appended = admin.post(base, json=body, headers={"X-Openstack-Append": "True"})
    assert appended.status_code == 201
    assert appended.json() == {"tags": [{"name": "two"}, {"name": "three"}]}
    assert tags() == ["two", "three", "one"] or sorted(tags()) == ["one", "three", "two"]
    replaced = admin.post(base, json={"tags": [{"name": "four"}]})
    assert replaced.status_code == 201
    assert tags() == ["four"]
    twice = admin.post(base, json={"tags": [{"name": "x"}, {"name": "x"}]})
    assert twice.status_code == 409
    renamed = admin.put(f"{base}/four", json={"name": "five"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "five"
    assert admin.get(f"{base}/five").json()["name"] == "five"
    admin.remove_tag_from_metadef_namespace(name, "five")
    assert admin.get(f"{base}/five").status_code == 404
    admin.post(base, json={"tags": [{"name": "a"}, {"name": "b"}]})
    admin.remove_tags_from_metadef_namespace(name)
    assert tags() == []


def test_metadef_schemas(running_cloud):
    image = running_cloud.sdk().image
    namespace = image.get_metadef_namespace_schema()
    assert namespace.name == "namespace"
    assert namespace.properties["visibility"]["enum"] == ["public", "private"]
    assert "namespaces" in image.get_metadef_namespaces_schema().properties
    assert "title" in image.get_metadef_property_schema().properties
    assert "properties" in image.get_metadef_properties_schema().properties
    assert image.get_metadef_object_schema().name == "object"
    assert "objects" in image.get_metadef_objects_schema().properties
    assert image.get_metadef_tag_schema().name == "tag"
    assert "tags" in image.get_metadef_tags_schema().properties
    assert "prefix" in image.get_metadef_resource_type_schema().properties
    assert image.get_metadef_resource_types_schema().name == "resource_type_associations"
    assert image.get("/schemas/metadefs/nothing").status_code == 404


def test_metadefs_through_the_cli(running_cloud, names):
    cli = running_cloud.openstack
    name = _name(names, "Cli")
    made = cli(
        "image", "metadef", "namespace", "create", "--public", "--protected",
        "--description", "from the CLI", name, cloud=ADMIN,
    )  # fmt: skip
    assert made["namespace"] == name and made["protected"] is True
    listed = cli("image", "metadef", "namespace", "list")
    assert name in [row["namespace"] for row in listed]
    cli("image", "metadef", "namespace", "set", "--display-name", "CLI ns", "--public",
        "--protected", "--tag", "t1", name, cloud=ADMIN, json_output=False)  # fmt: skip
    shown = cli("image", "metadef", "namespace", "show", name)
    assert shown["display_name"] == "CLI ns"
    cli("image", "metadef", "property", "create", "--name", "hw_rng", "--title", "RNG",
        "--type", "boolean", "--schema", '{"default": false}', name, cloud=ADMIN)  # fmt: skip
    props = cli("image", "metadef", "property", "list", name)
    assert [p["name"] for p in props] == ["hw_rng"]
    prop = cli("image", "metadef", "property", "show", name, "hw_rng")
    assert prop["title"] == "RNG"
    cli("image", "metadef", "property", "set", "--title", "Random", name, "hw_rng",
        cloud=ADMIN, json_output=False)  # fmt: skip
    assert cli("image", "metadef", "property", "show", name, "hw_rng")["title"] == "Random"
    cli("image", "metadef", "object", "create", "--namespace", name, "Disk", cloud=ADMIN)
    objects = cli("image", "metadef", "object", "list", name)
    assert [o["name"] for o in objects] == ["Disk"]
    assert cli("image", "metadef", "object", "show", name, "Disk")["name"] == "Disk"
    kept = cli(
        "image", "metadef", "object", "delete", name, "Disk",
        cloud=ADMIN, check=False, json_output=False,
    )  # fmt: skip
    assert kept.returncode == 1 and "protected" in kept.stderr
    types = cli("image", "metadef", "resource", "type", "list")
    assert "OS::Glance::Image" in [t["Name"] for t in types]
    cli("image", "metadef", "resource", "type", "association", "create", name,
        "OS::Glance::Image", cloud=ADMIN)  # fmt: skip
    assocs = cli("image", "metadef", "resource", "type", "association", "list", name)
    assert [a["Name"] for a in assocs] == ["OS::Glance::Image"]
    # negative cases: a member may not delete, the protected namespace refuses, unknown 404
    delete = ("image", "metadef", "namespace", "delete", name)
    refused = cli(*delete, check=False, json_output=False)
    assert refused.returncode == 1 and "403" in refused.stderr
    protected = cli(*delete, cloud=ADMIN, check=False, json_output=False)
    assert protected.returncode != 0 and "protected" in protected.stderr
    missing = cli("image", "metadef", "namespace", "show", f"{name}::nope", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr.lower()
    cli("image", "metadef", "namespace", "set", "--unprotected", "--public", name,
        cloud=ADMIN, json_output=False)  # fmt: skip
    cli("image", "metadef", "object", "delete", name, "Disk", cloud=ADMIN, json_output=False)
    assert cli("image", "metadef", "object", "list", name) == []
    cli("image", "metadef", "namespace", "delete", name, cloud=ADMIN, json_output=False)
    with pytest.raises(subprocess.CalledProcessError):
        cli("image", "metadef", "namespace", "show", name)


def test_standard_namespace_loaded_at_bootstrap(running_cloud):
    demo = running_cloud.sdk().image
    shown = demo.get_metadef_namespace("OS::OperatingSystem")
    assert shown.is_protected is True and shown.visibility == "public"
    assert {a["name"] for a in shown.resource_type_associations} == {
        "OS::Glance::Image",
        "OS::Cinder::Volume",
    }
    props = {p.name: p for p in demo.metadef_properties("OS::OperatingSystem")}
    assert {"os_distro", "os_version", "os_admin_user"} <= set(props)
    images = running_cloud.sdk().image.metadef_namespaces(resource_types="OS::Glance::Image")
    assert "OS::OperatingSystem" in [n.namespace for n in images]
