"""Compute request bodies against their schemas (``pocketstack.compute.api.schemas``).

Regression tests for the security review's 500s: for every route that takes a body,
malformed bodies (null or a list where a string belongs, an object for a boolean, an integer
past 2**64, ``1e999`` as raw text, a 100 KB name, an unknown key, a missing required key)
answer 400 in Nova's shape and leave the database exactly as it was; bodies as the
``openstack`` CLI (openstacksdk) sends them still pass.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from pocketstack.common.validation import BodySchema, InvalidInput
from pocketstack.compute.api import ROUTES, schemas, server_actions
from pocketstack.compute.models import (
    Flavor,
    Instance,
    InstanceAction,
    KeyPair,
    Quota,
    Service,
)
from tests.unit.compute import builders
from tests.unit.compute.api.conftest import ADMIN, DEMO

V = "/compute/v2.1"
ACTIVE = "11111111-1111-4111-8111-111111111111"
STOPPED = "22222222-2222-4222-8222-222222222222"
IMAGE = "33333333-3333-4333-8333-333333333333"
NETWORK = "44444444-4444-4444-8444-444444444444"
RAW = "__raw_number__"


def _public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _plant_server(db: Any, uuid: str, vm_state: str, power_state: int) -> None:
    builders.plant(
        db,
        uuid=uuid,
        name=f"vm-{vm_state}",
        user_id="u-demo",
        image_ref=IMAGE,
        vm_state=vm_state,
        power_state=power_state,
        host="node1",
        node="node1",
        availability_zone="nova",
        security_groups=["default"],
        metadata_={"a": "1"},
    )


@pytest.fixture
def world(client, db):
    """An active and a stopped server of p-demo, the nova-compute service on node1, and a
    private flavor "p" (the default flavors come from the client fixture)."""
    _plant_server(db, ACTIVE, "active", 1)
    _plant_server(db, STOPPED, "stopped", 4)
    with db.transaction() as s:
        s.add(Service(host="node1", binary="nova-compute", topic="compute"))
        s.add(
            Flavor(
                flavorid="p",
                name="private",
                vcpus=1,
                memory_mb=64,
                root_gb=1,
                is_public=False,
                extra_specs={},
                projects=[],
            )
        )
    return client


def snapshot(db: Any) -> dict[str, list[str]]:
    """Every row of the compute tables, to show a refused body wrote nothing."""
    tables = (Instance, KeyPair, Flavor, Quota, Service, InstanceAction)
    with db.reader() as s:
        return {
            model.__tablename__: sorted(
                repr(tuple(row)) for row in s.execute(sa.select(model.__table__))
            )
            for model in tables
        }


# -- malformed bodies, route by route -----------------------------------------------------

Path = tuple[str, ...]


@dataclass
class Case:
    """A route, a valid body for it and where to break it."""

    name: str
    method: str
    url: str
    body: dict[str, Any]
    string: Path | None  # a string attribute
    number: Path  # an integer attribute (or, without one, a string attribute)
    required: Path  # a required attribute, to remove
    inner: Path  # the object an unknown attribute is added to
    boolean: Path | None = None  # a boolean attribute
    headers: dict[str, str] | None = None


CASES = [
    Case(
        "server-create",
        "POST",
        "/servers",
        {
            "server": {
                "name": "vm",
                "imageRef": IMAGE,
                "flavorRef": "1",
                "min_count": 1,
                "config_drive": True,
                "networks": [{"uuid": NETWORK}],
            }
        },
        string=("server", "name"),
        number=("server", "min_count"),
        required=("server", "flavorRef"),
        inner=("server",),
        boolean=("server", "config_drive"),
    ),
    Case(
        "server-update",
        "PUT",
        f"/servers/{ACTIVE}",
        {"server": {"name": "renamed"}},
        string=("server", "name"),
        number=("server", "name"),
        required=("server",),
        inner=("server",),
    ),
    Case(
        "server-action-reboot",
        "POST",
        f"/servers/{ACTIVE}/action",
        {"reboot": {"type": "HARD"}},
        string=("reboot", "type"),
        number=("reboot", "type"),
        required=("reboot", "type"),
        inner=("reboot",),
    ),
    Case(
        "server-action-console-output",
        "POST",
        f"/servers/{ACTIVE}/action",
        {"os-getConsoleOutput": {"length": 10}},
        string=None,  # length may be null
        number=("os-getConsoleOutput", "length"),
        required=("os-getConsoleOutput",),
        inner=("os-getConsoleOutput",),
    ),
    Case(
        "server-metadata-update",
        "POST",
        f"/servers/{ACTIVE}/metadata",
        {"metadata": {"k": "v"}},
        string=("metadata", "k"),
        number=("metadata", "k"),
        required=("metadata",),
        inner=(),
    ),
    Case(
        "server-metadata-replace",
        "PUT",
        f"/servers/{ACTIVE}/metadata",
        {"metadata": {"k": "v"}},
        string=("metadata", "k"),
        number=("metadata", "k"),
        required=("metadata",),
        inner=(),
    ),
    Case(
        "server-metadata-item",
        "PUT",
        f"/servers/{ACTIVE}/metadata/k",
        {"meta": {"k": "v"}},
        string=("meta", "k"),
        number=("meta", "k"),
        required=("meta",),
        inner=("meta",),  # a second key
    ),
    Case(
        "flavor-create",
        "POST",
        "/flavors",
        {
            "flavor": {
                "name": "new",
                "id": "new",
                "ram": 64,
                "vcpus": 1,
                "disk": 1,
                "os-flavor-access:is_public": True,
            }
        },
        string=("flavor", "name"),
        number=("flavor", "ram"),
        required=("flavor", "vcpus"),
        inner=("flavor",),
        boolean=("flavor", "os-flavor-access:is_public"),
        headers=ADMIN,
    ),
    Case(
        "flavor-access",
        "POST",
        "/flavors/p/action",
        {"addTenantAccess": {"tenant": "p-demo"}},
        string=("addTenantAccess", "tenant"),
        number=("addTenantAccess", "tenant"),
        required=("addTenantAccess", "tenant"),
        inner=("addTenantAccess",),
        headers=ADMIN,
    ),
    Case(
        "flavor-extra-specs-create",
        "POST",
        "/flavors/p/os-extra_specs",
        {"extra_specs": {"hw:cpu_policy": "dedicated"}},
        string=("extra_specs", "hw:cpu_policy"),
        number=("extra_specs", "hw:cpu_policy"),
        required=("extra_specs",),
        inner=(),
        headers=ADMIN,
    ),
    Case(
        "flavor-extra-spec-update",
        "PUT",
        "/flavors/p/os-extra_specs/hw:cpu_policy",
        {"hw:cpu_policy": "dedicated"},
        string=("hw:cpu_policy",),
        number=("hw:cpu_policy",),
        required=("hw:cpu_policy",),
        inner=(),  # a second key
        headers=ADMIN,
    ),
    Case(
        "keypair-create",
        "POST",
        "/os-keypairs",
        {"keypair": {"name": "kp", "public_key": _public_key(), "user_id": "u-demo"}},
        string=("keypair", "name"),
        number=("keypair", "user_id"),
        required=("keypair", "name"),
        inner=("keypair",),
        headers=ADMIN,
    ),
    Case(
        "service-disable",
        "PUT",
        "/os-services/disable-log-reason",
        {"host": "node1", "binary": "nova-compute", "disabled_reason": "maintenance"},
        string=("host",),
        number=("disabled_reason",),
        required=("binary",),
        inner=(),
        headers=ADMIN,
    ),
    Case(
        "quota-set-update",
        "PUT",
        "/os-quota-sets/p-demo",
        {"quota_set": {"instances": 5, "force": True}},
        string=None,  # no string attribute: the integer is broken instead
        number=("quota_set", "instances"),
        required=("quota_set",),
        inner=("quota_set",),
        boolean=("quota_set", "force"),
        headers=ADMIN,
    ),
]


def _at(body: Any, path: Path) -> Any:
    for key in path:
        body = body[key]
    return body


def _with(case: Case, path: Path, value: Any) -> bytes:
    body = copy.deepcopy(case.body)
    _at(body, path[:-1])[path[-1]] = value
    return json.dumps(body).encode()


def malformed(case: Case) -> list[tuple[str, bytes]]:
    """``(what, raw body)`` for each way of breaking ``case.body``."""
    found = []
    if case.string is not None:
        found += [
            ("null for a string", _with(case, case.string, None)),
            ("a list for a string", _with(case, case.string, ["x"])),
            ("an object for a string", _with(case, case.string, {"x": "y"})),
            ("a 100 KB string", _with(case, case.string, "x" * 100_000)),
        ]
    else:
        found.append(("a list for a number", _with(case, case.number, [1])))
    if case.boolean is not None:
        found += [
            ("an object for a boolean", _with(case, case.boolean, {})),
            ("null for a boolean", _with(case, case.boolean, None)),
        ]
    found += [
        ("2**64", _with(case, case.number, 2**64)),
        ("1e999 as raw text", _with(case, case.number, RAW).replace(f'"{RAW}"'.encode(), b"1e999")),
        (
            "Infinity as raw text",
            _with(case, case.number, RAW).replace(f'"{RAW}"'.encode(), b"Infinity"),
        ),
    ]
    unknown = copy.deepcopy(case.body)
    _at(unknown, case.inner)["bogus"] = "x"
    missing = copy.deepcopy(case.body)
    del _at(missing, case.required[:-1])[case.required[-1]]
    found += [
        ("an unknown key", json.dumps(unknown).encode()),
        ("a missing required key", json.dumps(missing).encode()),
        ("a list for the body", b"[]"),
        ("no body", b""),
    ]
    return found


def assert_nova_400(resp: Any, what: str) -> str:
    assert resp.status_code == 400, (what, resp.status_code, resp.text[:300])
    body = resp.json()
    assert set(body) == {"badRequest"}, (what, body)
    assert body["badRequest"]["code"] == 400, what
    message = body["badRequest"]["message"]
    assert isinstance(message, str) and 0 < len(message) < 500, (what, message[:300])
    return message


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_bodies_are_400_and_write_nothing(world, db, case):
    before = snapshot(db)
    headers = {**(case.headers or DEMO), "Content-Type": "application/json"}
    for what, raw in malformed(case):
        resp = world.request(case.method, V + case.url, content=raw, headers=headers)
        assert_nova_400(resp, what)
        assert snapshot(db) == before, what


def test_a_100_kb_name_is_not_echoed_back(world):
    body = {"server": {"name": "x" * 100_000, "imageRef": IMAGE, "flavorRef": "1"}}
    message = assert_nova_400(world.post(V + "/servers", json=body, headers=DEMO), "100 KB")
    assert "server.name" in message and "longer than 255" in message


def test_a_refused_body_still_names_the_microversion(world):
    for url, body in (
        ("/servers", {"server": None}),
        (f"/servers/{ACTIVE}/action", {"os-explode": None}),
        (f"/servers/{ACTIVE}/action", {"reboot": {"type": "GENTLE"}}),
    ):
        resp = world.post(V + url, json=body, headers=DEMO)
        assert resp.status_code == 400
        assert resp.headers["OpenStack-API-Version"] == "compute 2.1", body
        assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.1", body


# -- the keypair saved for a user named "Inf" ---------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"keypair": {"name": "Inf", "user_id": Infinity}}',
        b'{"keypair": {"name": "Inf", "user_id": 1e999}}',
        b'{"keypair": {"name": "Inf", "user_id": -1e999}}',
        b'{"keypair": {"name": "Inf", "user_id": NaN}}',
        b'{"keypair": {"name": "Inf", "user_id": 1.5}}',
        b'{"keypair": {"name": "Inf", "user_id": null}}',
        b'{"keypair": {"name": "Inf", "user_id": ["Inf"]}}',
        b'{"keypair": {"name": Infinity, "user_id": "u-demo"}}',
        b'{"keypair": {"name": 1e999}}',
        b'{"keypair": {"name": "Inf\\n"}}',
    ],
)
def test_keypair_named_inf_for_a_user_inf_is_400_not_500(world, db, raw):
    """An admin's create whose name or user_id was a float infinity once stored a keypair
    for a user "Inf" and then answered 500; such bodies never reach the manager now."""
    before = snapshot(db)
    resp = world.post(
        V + "/os-keypairs", content=raw, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_nova_400(resp, raw.decode())
    assert snapshot(db) == before


def test_a_keypair_really_named_inf_for_another_user_is_fine(world, db):
    body = {"keypair": {"name": "Inf", "public_key": _public_key(), "user_id": "u-demo"}}
    headers = {**ADMIN, "OpenStack-API-Version": "compute 2.10"}  # user_id is 2.10's
    resp = world.post(V + "/os-keypairs", json=body, headers=headers)
    assert resp.status_code == 201, resp.text  # 201 from 2.2
    assert resp.json()["keypair"]["user_id"] == "u-demo"
    with db.reader() as s:
        owners = s.execute(sa.select(KeyPair.user_id, KeyPair.name)).all()
    assert [tuple(row) for row in owners] == [("u-demo", "Inf")]


# -- actions ------------------------------------------------------------------------------


def test_action_schema_allows_exactly_the_implemented_actions():
    assert set(schemas.SERVER_ACTION.actions) == set(server_actions.ACTIONS)
    for name in ("os-stop", "os-start"):
        schemas.SERVER_ACTION.validate({name: None})
    with pytest.raises(InvalidInput, match="There is no such action: injectNetworkInfo"):
        schemas.SERVER_ACTION.validate({"injectNetworkInfo": None})


@pytest.mark.parametrize(
    "body, words",
    [
        ({"os-explode": None}, "There is no such action: os-explode"),
        ({"x" * 10_000: None}, "There is no such action: xxx"),
        ({}, "exactly one action"),
        ({"os-stop": None, "os-start": None}, "exactly one action"),
        ({"os-stop": "now"}, "os-stop"),
        ({"os-stop": {"force": True}}, "os-stop"),
        ({"reboot": {"type": "GENTLE"}}, "reboot.type"),
        ({"reboot": {"type": "sOfT"}}, "reboot.type"),
        ({"reboot": None}, "reboot"),
        ({"os-getConsoleOutput": None}, "os-getConsoleOutput"),
        ({"os-getConsoleOutput": {"length": -2}}, "length"),
        ({"os-getConsoleOutput": {"length": "ten"}}, "length"),
    ],
)
def test_bad_actions_keep_novas_answers(world, db, body, words):
    before = snapshot(db)
    resp = world.post(V + f"/servers/{ACTIVE}/action", json=body, headers=DEMO)
    assert words in assert_nova_400(resp, str(body)[:80])
    assert snapshot(db) == before


def test_unknown_flavor_action_keeps_novas_answer(world):
    resp = world.post(V + "/flavors/p/action", json={"explode": {}}, headers=ADMIN)
    assert assert_nova_400(resp, "explode") == "There is no such action: explode"


# -- bodies as the openstack CLI sends them -----------------------------------------------


def test_server_create_bodies_as_the_cli_sends_them_pass_the_schema():
    schema = BodySchema(schemas.SERVER_CREATE)
    image_bdm = {
        "uuid": IMAGE,
        "boot_index": 0,
        "source_type": "image",
        "destination_type": "local",
        "delete_on_termination": True,
    }
    # openstack server create --image --flavor --network --key-name --property
    #   --security-group --user-data --availability-zone --config-drive True --hint
    #   --min 1 --max 2 --password --file (openstacksdk's body)
    schema.validate(
        {
            "server": {
                "name": "vm-1",
                "imageRef": IMAGE,
                "flavorRef": "1",
                "min_count": 1,
                "max_count": 2,
                "networks": [{"uuid": NETWORK}, {"port": NETWORK, "fixed_ip": "10.0.0.5"}],
                "block_device_mapping_v2": [
                    image_bdm,
                    {
                        "boot_index": -1,
                        "source_type": "blank",
                        "destination_type": "local",
                        "guest_format": "swap",
                        "volume_size": 1,
                        "delete_on_termination": True,
                    },
                ],
                "key_name": "my key",
                "metadata": {"owner": "ops team", "hw:x": "1"},
                "security_groups": [{"name": "default"}, {"name": NETWORK}],
                "user_data": "IyEvYmluL3NoCmVjaG8gaGkK",
                "availability_zone": "nova",
                "config_drive": True,
                "adminPass": "s3cret",
                "personality": [{"path": "/etc/motd", "contents": "aGk="}],
            },
            "OS-SCH-HNT:scheduler_hints": {"group": NETWORK, "custom": ["a", "b"]},
        }
    )
    # no image: boot from volume, or refused by the handler when there is no boot volume
    schema.validate({"server": {"name": "bfv", "imageRef": "", "flavorRef": "1"}})


def test_no_image_and_no_boot_volume_answers_novas_reasons(world):
    body = {"server": {"name": "bfv", "imageRef": "", "flavorRef": "1"}}
    message = assert_nova_400(world.post(V + "/servers", json=body, headers=DEMO), "bfv")
    assert message == "Missing imageRef attribute"
    body["server"]["block_device_mapping_v2"] = [
        {"source_type": "blank", "destination_type": "volume", "volume_size": 1}
    ]
    message = assert_nova_400(world.post(V + "/servers", json=body, headers=DEMO), "bfv")
    assert "Boot sequence for the instance" in message


def test_server_bodies_as_the_cli_sends_them(world):
    url = V + f"/servers/{ACTIVE}"
    resp = world.put(url, json={"server": {"name": "renamed"}}, headers=DEMO)
    assert resp.status_code == 200 and resp.json()["server"]["name"] == "renamed"
    resp = world.post(url + "/metadata", json={"metadata": {"b": "2"}}, headers=DEMO)
    assert resp.json() == {"metadata": {"a": "1", "b": "2"}}
    resp = world.put(url + "/metadata", json={"metadata": {"c d": "3"}}, headers=DEMO)
    assert resp.json() == {"metadata": {"c d": "3"}}
    resp = world.put(url + "/metadata/e", json={"meta": {"e": ""}}, headers=DEMO)
    assert resp.json() == {"meta": {"e": ""}}
    # the action bodies reach the state checks (409), i.e. they passed the schema
    for state_url, body in (
        (url, {"os-start": None}),
        (url, {"os-start": {}}),
        (V + f"/servers/{STOPPED}", {"os-stop": None}),
        (V + f"/servers/{STOPPED}", {"reboot": {"type": "SOFT"}}),
        (V + f"/servers/{STOPPED}", {"reboot": {"type": "soft"}}),
    ):
        resp = world.post(state_url + "/action", json=body, headers=DEMO)
        assert resp.status_code == 409, (body, resp.text)
    for args in ({}, {"length": 10}, {"length": "10"}, {"length": -1}, {"length": None}):
        schemas.SERVER_ACTION.validate({"os-getConsoleOutput": args})
    for kind in ("HARD", "Hard", "hard", "SOFT", "Soft"):
        schemas.SERVER_ACTION.validate({"reboot": {"type": kind}})


def test_flavor_bodies_as_the_cli_sends_them(world):
    # openstack flavor create --ram 64 --vcpus 1 --disk 1 --private (openstacksdk's body)
    body = {
        "flavor": {
            "id": None,
            "swap": 0,
            "os-flavor-access:is_public": False,
            "ram": 64,
            "name": "cli.flavor",
            "OS-FLV-EXT-DATA:ephemeral": 0,
            "vcpus": 1,
            "disk": 1,
        }
    }
    resp = world.post(V + "/flavors", json=body, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    flavor = resp.json()["flavor"]
    assert flavor["os-flavor-access:is_public"] is False and flavor["ram"] == 64
    # Nova also takes decimal strings and word booleans
    body = {"flavor": {"name": "str.flavor", "ram": "128", "vcpus": "2", "disk": "0"}}
    body["flavor"].update({"rxtx_factor": "1.5", "os-flavor-access:is_public": "false"})
    resp = world.post(V + "/flavors", json=body, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert (resp.json()["flavor"]["ram"], resp.json()["flavor"]["rxtx_factor"]) == (128, 1.5)
    fid = flavor["id"]
    specs = {"extra_specs": {"hw:cpu_policy": "dedicated", "quota:disk_read_bytes_sec": 10240}}
    resp = world.post(V + f"/flavors/{fid}/os-extra_specs", json=specs, headers=ADMIN)
    assert resp.json() == {
        "extra_specs": {"hw:cpu_policy": "dedicated", "quota:disk_read_bytes_sec": "10240"}
    }
    resp = world.put(
        V + f"/flavors/{fid}/os-extra_specs/hw:cpu_policy",
        json={"hw:cpu_policy": "shared"},
        headers=ADMIN,
    )
    assert resp.json() == {"hw:cpu_policy": "shared"}
    resp = world.post(
        V + f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": "p-demo"}}, headers=ADMIN
    )
    assert resp.status_code == 200, resp.text
    resp = world.post(
        V + f"/flavors/{fid}/action",
        json={"removeTenantAccess": {"tenant": "p-demo"}},
        headers=ADMIN,
    )
    assert resp.json() == {"flavor_access": []}


def test_keypair_service_and_quota_bodies_as_the_cli_sends_them(world):
    key = {"keypair": {"public_key": _public_key(), "name": "cli-key"}}
    resp = world.post(V + "/os-keypairs", json=key, headers=DEMO)
    assert resp.status_code == 200 and resp.json()["keypair"]["user_id"] == "u-demo"
    generated = world.post(V + "/os-keypairs", json={"keypair": {"name": "gen"}}, headers=DEMO)
    assert "private_key" in generated.json()["keypair"]
    svc = {"host": "node1", "binary": "nova-compute"}
    resp = world.put(V + "/os-services/disable", json=svc, headers=ADMIN)
    assert resp.json()["service"]["status"] == "disabled"
    resp = world.put(
        V + "/os-services/disable-log-reason",
        json={**svc, "disabled_reason": "maintenance"},
        headers=ADMIN,
    )
    assert resp.json()["service"]["disabled_reason"] == "maintenance"
    resp = world.put(V + "/os-services/enable", json=svc, headers=ADMIN)
    assert resp.json()["service"]["status"] == "enabled"
    resp = world.put(
        V + "/os-quota-sets/p-demo", json={"quota_set": {"instances": 20}}, headers=ADMIN
    )
    assert resp.json()["quota_set"]["instances"] == 20
    resp = world.put(
        V + "/os-quota-sets/p-demo",
        json={"quota_set": {"cores": "30", "ram": -1, "force": "True"}},
        headers=ADMIN,
    )
    assert (resp.json()["quota_set"]["cores"], resp.json()["quota_set"]["ram"]) == (30, -1)


def test_values_past_the_database_columns_are_400(world, db):
    before = snapshot(db)
    flavor = {"name": "f", "ram": 64, "vcpus": 1, "disk": 0}
    for method, url, body in (
        ("PUT", "/os-quota-sets/p-demo", {"quota_set": {"instances": 2**31}}),
        ("PUT", "/os-quota-sets/p-demo", {"quota_set": {"instances": "99999999999"}}),
        ("PUT", "/os-quota-sets/p-demo", {"quota_set": {"instances": -2}}),
        ("PUT", "/os-quota-sets/p-demo", {"quota_set": {"networks": 1}}),
        ("POST", "/flavors", {"flavor": {**flavor, "ram": "99999999999"}}),
        ("POST", "/flavors", {"flavor": {**flavor, "disk": 2**31}}),
        ("POST", "/flavors", {"flavor": {**flavor, "name": " padded"}}),
        ("POST", "/flavors", {"flavor": {**flavor, "rxtx_factor": 0}}),
        ("POST", "/flavors", {"flavor": {**flavor, "description": "2.55+"}}),
        ("POST", "/servers", {"server": {"name": "vm", "flavorRef": "1", "max_count": 2**31}}),
    ):
        assert_nova_400(world.request(method, V + url, json=body, headers=ADMIN), str(body))
        assert snapshot(db) == before, body


# -- every route with a body has a schema -------------------------------------------------


def test_every_compute_route_with_a_body_declares_a_schema():
    with_body = [s for s in ROUTES if s.method in ("POST", "PUT", "PATCH") and not s.raw_body]
    assert len(with_body) >= 13
    missing = [f"{s.method} {s.path}" for s in with_body if s.schema is None]
    assert missing == []
