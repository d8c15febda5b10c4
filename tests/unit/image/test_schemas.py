"""The Image API's request-body schemas (``pocketstack.image.api.schemas``) through the HTTP
layer (TestClient, as test_api.py): a body off its schema is a 400 in Glance's error shape and
writes nothing; what openstacksdk and the ``openstack`` CLI send passes; the schema Glance
publishes at /v2/schemas/image is the one bodies are checked against."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from pocketstack.common.validation import BodySchema, InvalidInput
from pocketstack.image import fields
from pocketstack.image.api import API, ROUTES, schemas
from pocketstack.image.api.views import image_view, member_view
from pocketstack.image.models import Image, ImageMember
from tests.helpers import service_app

from .test_api import PATCH, TOKENS, call, make_image


@pytest.fixture
def client(conf, cloud):
    with TestClient(service_app(API, conf, cloud, TOKENS)) as c:
        yield c


@pytest.fixture
def image(client):
    """A shared image of the demo project, with p-alt as a (pending) member."""
    image = make_image(client, tags=["t"], os_distro="cirros").json()
    resp = call(client, "POST", f"/v2/images/{image['id']}/members", json={"member": "p-alt"})
    assert resp.status_code == 200, resp.text
    return image


def state(cloud) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every image and member row, as the API shows them (``updated_at`` included)."""
    with cloud.db.reader() as s:
        images = [image_view(i) for i in s.scalars(sa.select(Image).order_by(Image.id))]
        members = [
            member_view(m) for m in s.scalars(sa.select(ImageMember).order_by(ImageMember.id))
        ]
    return images, members


def send(client, method: str, path: str, body: Any, token: str = "demo", **headers: str):
    """``body`` as JSON (``bytes`` sent as they are)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **headers}
    return call(client, method, path, token, content=raw, headers=headers)


def assert_glance_400(resp) -> None:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"code", "title", "message"}, body
    assert (body["code"], body["title"]) == (400, "Bad Request")
    assert 0 < len(body["message"]) < 500  # a 100 KB value is never echoed whole


# -- create (Image API "Images": "Create image") ------------------------------------------

BAD_CREATE: dict[str, Any] = {
    "no body": b"",
    "null body": None,
    "list body": [],
    "string body": "image",
    "name as list": {"name": ["x"]},
    "name as object": {"name": {"x": 1}},
    "name as number": {"name": 5},
    "name of 256 characters": {"name": "n" * 256},
    "name of 100 KB": {"name": "n" * 100 * 1024},
    "visibility null": {"visibility": None},
    "visibility unknown": {"visibility": "everyone"},
    "visibility as list": {"visibility": ["public"]},
    "protected null": {"protected": None},
    "protected as object": {"protected": {"value": True}},
    "protected as string": {"protected": "true"},
    "os_hidden as number": {"os_hidden": 1},
    "min_ram null": {"min_ram": None},
    "min_ram as string": {"min_ram": "512"},
    "min_ram negative": {"min_ram": -1},
    "min_ram over 32 bits": {"min_ram": 2**31},
    "min_ram 2**64": b'{"name": "x", "min_ram": 18446744073709551616}',
    "min_disk as list": {"min_disk": [1]},
    "min_disk as boolean": {"min_disk": True},
    "disk_format unknown": {"disk_format": "exe"},
    "disk_format as list": {"disk_format": ["qcow2"]},
    "container_format as object": {"container_format": {}},
    "tags as string": {"tags": "a"},
    "tags null": {"tags": None},
    "tag as number": {"tags": [1]},
    "tag null": {"tags": [None]},
    "tag empty": {"tags": [""]},
    "tag of 256 characters": {"tags": ["t" * 256]},
    "id not a uuid": {"id": "image-1"},
    "id as number": {"id": 5},
    "owner as list": {"owner": ["p-demo"]},
    "status unknown": {"status": "bogus"},
    "property null": {"os_distro": None},
    "property as number": {"os_distro": 5},
    "property as boolean": {"os_distro": True},
    "property as list": {"os_distro": ["cirros"]},
    "property as object": {"hw": {"disk_bus": "scsi"}},
    "property value over 64 KiB": {"k": "v" * 65536},
    "property name of 256 characters": {"p" * 256: "v"},
    "property name empty": {"": "v"},
}


@pytest.mark.parametrize("body", BAD_CREATE.values(), ids=BAD_CREATE.keys())
def test_create_off_the_schema_is_400_and_writes_nothing(client, cloud, image, body):
    before = state(cloud)
    assert_glance_400(send(client, "POST", "/v2/images", body))
    assert state(cloud) == before


def test_a_create_error_names_the_field(client):
    resp = send(client, "POST", "/v2/images", {"name": "x", "min_ram": "512"})
    assert "min_ram" in resp.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"location": "http://example.com/x"},
        {"deleted_at": "2020-01-01"},
        {"os_glance_import_task": "x"},
        {"status": "active"},
        {"checksum": "0" * 32},
        {"locations": []},
    ],
    ids=lambda b: next(iter(b)),
)
def test_create_with_a_reserved_or_read_only_attribute_is_403(client, cloud, body):
    """Glance refuses these with 403 once the body has passed its schema."""
    before = state(cloud)
    resp = send(client, "POST", "/v2/images", {"name": "x", **body})
    assert resp.status_code == 403 and resp.json()["code"] == 403, resp.text
    assert state(cloud) == before


def _sdk_create(name: str) -> dict[str, Any]:
    """What ``openstack image create --disk-format raw --container-format bare --private
    --protected --min-disk 1 --min-ram 64 --tag a --tag a --tag b --property hw_disk_bus=scsi
    --file <f> <name>`` sends (openstacksdk adds the owner_specified.openstack.* keys)."""
    data = b"disk"
    return {
        "name": name,
        "disk_format": "raw",
        "container_format": "bare",
        "visibility": "private",
        "protected": True,
        "min_disk": 1,
        "min_ram": 64,
        "tags": ["a", "a", "b"],
        "hw_disk_bus": "scsi",
        "owner_specified.openstack.md5": hashlib.md5(data).hexdigest(),
        "owner_specified.openstack.sha256": hashlib.sha256(data).hexdigest(),
        "owner_specified.openstack.object": f"images/{name}",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"name": "cirros", "disk_format": "qcow2", "container_format": "bare"},
        _sdk_create("full"),
        {"name": None, "disk_format": None, "container_format": None, "owner": None},
        {"id": str(uuid.uuid4()), "name": "with-id", "os_hidden": True},
        {"name": "n" * 255, "min_ram": 2**31 - 1, "tags": ["t" * 255], "k" * 255: "v" * 65535},
        {},
    ],
    ids=["cli-minimal", "cli-full", "nulls", "with-id", "at-the-limits", "empty-object"],
)
def test_create_as_the_clients_send_it_passes(client, cloud, body):
    before, _ = state(cloud)
    resp = send(client, "POST", "/v2/images", body)
    assert resp.status_code == 201, resp.text
    shown = resp.json()
    assert len(state(cloud)[0]) == len(before) + 1
    expected = {**body, "tags": list(dict.fromkeys(body.get("tags", [])))}
    if "owner" in body:
        expected["owner"] = body["owner"] or "p-demo"  # no owner: the caller's project
    assert {k: shown[k] for k in expected} == expected


# -- update (Image API "Images": "Update image", a JSON patch) ----------------------------


def _op(path: str, value: Any, op: str = "replace") -> list[dict[str, Any]]:
    return [{"op": op, "path": path, "value": value}]


BAD_PATCH: dict[str, Any] = {
    "null body": None,
    "object body": {"op": "replace", "path": "/name", "value": "x"},
    "string body": "replace",
    "empty list": [],
    "operation as string": ["replace"],
    "operation null": [None],
    "op missing": [{"path": "/name", "value": "x"}],
    "op unknown": [{"op": "move", "from": "/os_distro", "path": "/name"}],
    "op test": [{"op": "test", "path": "/name", "value": "img"}],
    "op as list": [{"op": ["replace"], "path": "/name", "value": "x"}],
    "path missing": [{"op": "remove"}],
    "path as list": [{"op": "replace", "path": ["name"], "value": "x"}],
    "path as number": [{"op": "replace", "path": 5, "value": "x"}],
    "path null": [{"op": "replace", "path": None, "value": "x"}],
    "path without a slash": _op("name", "x"),
    "path of two levels": _op("/tags/1", "t", "add"),
    "path with a bad escape": _op("/a~2b", "v", "add"),
    "path of 100 KB": _op("/" + "p" * 100 * 1024, "v", "add"),
    "value missing": [{"op": "replace", "path": "/name"}],
    "name as list": _op("/name", ["x"]),
    "name as number": _op("/name", 5),
    "name of 100 KB": _op("/name", "n" * 100 * 1024),
    "visibility unknown": _op("/visibility", "everyone"),
    "visibility null": _op("/visibility", None),
    "protected as object": _op("/protected", {"value": True}),
    "protected null": _op("/protected", None),
    "os_hidden as string": _op("/os_hidden", "false"),
    "min_ram over 32 bits": _op("/min_ram", 2**31),
    "min_ram 2**64": b'[{"op": "replace", "path": "/min_ram", "value": 18446744073709551616}]',
    "min_disk as string": _op("/min_disk", "1"),
    "disk_format unknown": _op("/disk_format", "exe"),
    "tags as string": _op("/tags", "a"),
    "tag as number": _op("/tags", [1]),
    "owner as object": _op("/owner", {"id": "p-demo"}),
    "property as number": _op("/os_distro", 5),
    "property null": _op("/os_distro", None),
    "property as list": _op("/hw_disk_bus", ["scsi"], "add"),
    "property value over 64 KiB": _op("/k", "v" * 65536, "add"),
    "second operation bad": [*_op("/name", "ok"), *_op("/min_ram", -1)],
}


@pytest.mark.parametrize("body", BAD_PATCH.values(), ids=BAD_PATCH.keys())
def test_patch_off_the_schema_is_400_and_writes_nothing(client, cloud, image, body):
    before = state(cloud)
    resp = send(client, "PATCH", f"/v2/images/{image['id']}", body, **{"Content-Type": PATCH})
    assert_glance_400(resp)
    assert state(cloud) == before


@pytest.mark.parametrize(
    "body",
    [
        _op("/os_glance_import_task", "x", "add"),
        [{"op": "remove", "path": "/deleted"}],
        _op("/status", {"x": 1}),
        _op("/size", "big"),
    ],
    ids=["reserved namespace", "reserved name", "read-only status", "read-only size"],
)
def test_patch_of_a_reserved_or_read_only_attribute_is_403(client, cloud, image, body):
    before = state(cloud)
    resp = send(client, "PATCH", f"/v2/images/{image['id']}", body, **{"Content-Type": PATCH})
    assert resp.status_code == 403 and resp.json()["code"] == 403, resp.text
    assert state(cloud) == before


def test_patch_as_openstacksdk_sends_it_passes(client, image):
    """openstacksdk sends a jsonpatch diff sorted by path (``openstack image set``/``unset``)."""
    url = f"/v2/images/{image['id']}"
    ops = [
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "add", "path": "/a~1b~0c", "value": "v"},
        {"op": "replace", "path": "/min_disk", "value": 0},
        {"op": "replace", "path": "/min_ram", "value": 2**31 - 1},
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "replace", "path": "/os_distro", "value": "debian"},
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "replace", "path": "/tags", "value": ["x", "y"]},
        {"op": "replace", "path": "/visibility", "value": "private"},
    ]
    resp = send(client, "PATCH", url, ops, **{"Content-Type": PATCH})
    assert resp.status_code == 200, resp.text
    shown = resp.json()
    assert (shown["hw_disk_bus"], shown["a/b~c"], shown["os_distro"]) == ("scsi", "v", "debian")
    assert (shown["name"], shown["min_ram"], shown["protected"]) == ("renamed", 2**31 - 1, True)
    assert (shown["tags"], shown["visibility"]) == (["x", "y"], "private")
    ops = [{"op": "remove", "path": "/hw_disk_bus"}, *_op("/name", None)]
    resp = send(client, "PATCH", url, ops, **{"Content-Type": PATCH})
    assert resp.status_code == 200, resp.text
    assert "hw_disk_bus" not in resp.json() and resp.json()["name"] is None


# -- import, members and the calls that take no body --------------------------------------

BAD_IMPORT: dict[str, Any] = {
    "null body": None,
    "empty object": {},
    "method as string": {"method": "glance-direct"},
    "method without a name": {"method": {}},
    "method name unknown": {"method": {"name": "copy-image"}},
    "method name as number": {"method": {"name": 5}},
    "method name null": {"method": {"name": None}},
    "all_stores as string": {"method": {"name": "glance-direct"}, "all_stores": "yes"},
    "stores as string": {"method": {"name": "glance-direct"}, "stores": "file"},
}


@pytest.mark.parametrize("body", BAD_IMPORT.values(), ids=BAD_IMPORT.keys())
def test_import_off_the_schema_is_400_and_writes_nothing(client, cloud, image, body):
    call(client, "PUT", f"/v2/images/{image['id']}/stage", content=b"staged")
    before = state(cloud)
    assert_glance_400(send(client, "POST", f"/v2/images/{image['id']}/import", body))
    assert state(cloud) == before


BAD_MEMBER_CREATE: dict[str, Any] = {
    "null body": None,
    "list body": ["p-other"],
    "empty object": {},
    "member as list": {"member": ["p-other"]},
    "member null": {"member": None},
    "member as number": {"member": 5},
    "member empty": {"member": ""},
    "member of 256 characters": {"member": "m" * 256},
}


@pytest.mark.parametrize("body", BAD_MEMBER_CREATE.values(), ids=BAD_MEMBER_CREATE.keys())
def test_member_create_off_the_schema_is_400_and_writes_nothing(client, cloud, image, body):
    before = state(cloud)
    assert_glance_400(send(client, "POST", f"/v2/images/{image['id']}/members", body))
    assert state(cloud) == before


BAD_MEMBER_UPDATE: dict[str, Any] = {
    "null body": None,
    "string body": "accepted",
    "empty object": {},
    "status unknown": {"status": "bogus"},
    "status null": {"status": None},
    "status as list": {"status": ["accepted"]},
    "status as boolean": {"status": True},
}


@pytest.mark.parametrize("body", BAD_MEMBER_UPDATE.values(), ids=BAD_MEMBER_UPDATE.keys())
def test_member_update_off_the_schema_is_400_and_writes_nothing(client, cloud, image, body):
    before = state(cloud)
    url = f"/v2/images/{image['id']}/members/p-alt"
    assert_glance_400(send(client, "PUT", url, body, token="alt"))
    assert state(cloud) == before


@pytest.mark.parametrize("status", ["accepted", "rejected", "pending"])
def test_member_update_as_the_clients_send_it_passes(client, image, status):
    url = f"/v2/images/{image['id']}/members/p-alt"
    resp = send(client, "PUT", url, {"status": status}, token="alt")
    assert resp.status_code == 200 and resp.json()["status"] == status, resp.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/tags/blue"), ("POST", "/actions/deactivate"), ("POST", "/actions/reactivate")],
)
def test_calls_without_a_body_refuse_one(client, cloud, image, method, path):
    before = state(cloud)
    for body in ({"tag": "blue"}, [], "blue"):
        assert_glance_400(send(client, method, f"/v2/images/{image['id']}{path}", body, "admin"))
    assert state(cloud) == before


# -- the routes and the published schemas -------------------------------------------------


def test_every_route_that_takes_a_body_declares_a_schema():
    missing = [
        f"{r.method} {r.path}"
        for r in ROUTES
        if r.method in ("POST", "PUT", "PATCH") and not r.raw_body and r.schema is None
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("table", "schema"),
    [
        (BAD_CREATE, schemas.IMAGE_CREATE),
        (BAD_PATCH, schemas.IMAGE_UPDATE),
        (BAD_IMPORT, schemas.IMAGE_IMPORT),
        (BAD_MEMBER_CREATE, schemas.MEMBER_CREATE),
        (BAD_MEMBER_UPDATE, schemas.MEMBER_UPDATE),
    ],
    ids=["create", "patch", "import", "member-create", "member-update"],
)
def test_the_400s_above_are_the_schemas_own(table, schema):
    """Each refused body (other than raw bytes, which JSON parsing refuses) fails its route's
    schema: the 400 comes before any handler, not from checks further down."""
    validator = BodySchema(schema)
    for name, body in table.items():
        if not isinstance(body, bytes):
            with pytest.raises(InvalidInput):
                validator.validate(body)
                pytest.fail(f"{name}: passed the schema")


def test_the_image_properties_are_the_standard_attributes():
    assert set(schemas.IMAGE_PROPERTIES) == fields.CORE | fields.READ_ONLY


def test_the_published_image_schema_is_the_one_bodies_are_checked_against(client):
    published = call(client, "GET", "/v2/schemas/image").json()
    assert published["properties"] == schemas.IMAGE_PROPERTIES
    assert published["additionalProperties"] == schemas.CUSTOM_PROPERTY
    assert schemas.IMAGE_CREATE["properties"] is schemas.IMAGE_PROPERTIES
    listed = call(client, "GET", "/v2/schemas/images").json()
    assert listed["properties"]["images"]["items"] == published


def test_images_and_members_as_shown_match_the_published_schemas(client, image):
    url = f"/v2/images/{image['id']}"
    call(
        client,
        "PUT",
        url + "/file",
        content=b"data",
        headers={"Content-Type": "application/octet-stream"},
    )
    shown = call(client, "GET", url).json()
    assert shown["status"] == "active" and shown["os_distro"] == "cirros"
    Draft202012Validator(call(client, "GET", "/v2/schemas/image").json()).validate(shown)
    member = call(client, "GET", url + "/members/p-alt").json()
    Draft202012Validator(call(client, "GET", "/v2/schemas/member").json()).validate(member)
