"""Placement through the real clients: the osc-placement plugin (``openstack resource
provider ...``, ``resource class``, ``trait``, ``allocation candidate list``, at the
microversion it negotiates, 1.39) and openstacksdk's placement proxy, against the shared
``running_cloud``. Every test makes its own providers (unique names) and deletes them."""

from __future__ import annotations

import uuid

import pytest

ADMIN = "pocketstack-admin"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cli(running_cloud):
    """``openstack ...`` as the admin (Placement is admin or service only)."""

    def run(*args, **kw):
        kw.setdefault("cloud", ADMIN)
        return running_cloud.openstack(*args, **kw)

    return run


@pytest.fixture
def placement(running_cloud):
    """openstacksdk's placement proxy, as the admin."""
    return running_cloud.sdk(ADMIN).placement


@pytest.fixture
def made(placement):
    """Providers (uuids), consumers, custom classes and traits a test makes; removed after."""
    made: dict[str, list[str]] = {"providers": [], "consumers": [], "classes": [], "traits": []}
    yield made
    for consumer in made["consumers"]:
        placement.delete(f"/allocations/{consumer}", raise_exc=False)
    for rp in reversed(made["providers"]):
        placement.delete(f"/resource_providers/{rp}", raise_exc=False)
    for name in made["classes"]:
        placement.delete(f"/resource_classes/{name}", raise_exc=False)
    for name in made["traits"]:
        placement.delete(f"/traits/{name}", raise_exc=False, microversion="1.6")


def _provider(cli, made, name=None, *extra):
    rp = cli("resource", "provider", "create", name or unique("rp"), *extra)
    made["providers"].append(rp["uuid"])
    return rp


def _inventory(cli, rp_uuid, *resources):
    args = [a for r in resources for a in ("--resource", r)]
    return cli("resource", "provider", "inventory", "set", rp_uuid, *args)


def _error(answer, status):
    """The Placement error body of ``answer``, checked to be ``status``."""
    assert answer.status_code == status, answer.text
    body = answer.json()["errors"][0]
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"].startswith("req-")
    return body


def test_providers_inventory_and_usages_through_the_cli(cli, made):
    parent = _provider(cli, made)
    child = _provider(cli, made, None, "--parent-provider", parent["uuid"])
    assert child["root_provider_uuid"] == parent["uuid"]
    assert child["parent_provider_uuid"] == parent["uuid"]

    shown = _inventory(
        cli,
        parent["uuid"],
        "VCPU=8",
        "VCPU:allocation_ratio=4.0",
        "MEMORY_MB=4096",
        "MEMORY_MB:reserved=512",
        "DISK_GB=100",
    )
    assert {r["resource_class"]: r["total"] for r in shown} == {
        "VCPU": 8,
        "MEMORY_MB": 4096,
        "DISK_GB": 100,
    }
    vcpu = cli("resource", "provider", "inventory", "show", parent["uuid"], "VCPU")
    assert vcpu["allocation_ratio"] == 4.0 and vcpu["max_unit"] == 2**31 - 1
    listed = cli("resource", "provider", "list", "--in-tree", parent["uuid"])
    assert {p["uuid"] for p in listed} == {parent["uuid"], child["uuid"]}
    with_room = cli("resource", "provider", "list", "--resource", "VCPU=32")
    assert [p["uuid"] for p in with_room if p["uuid"] in made["providers"]] == [parent["uuid"]]
    shown = cli("resource", "provider", "show", parent["uuid"])
    assert shown["generation"] == 1

    renamed = cli("resource", "provider", "set", "--name", unique("renamed"), child["uuid"])
    assert renamed["name"].startswith("renamed-")
    usages = cli("resource", "provider", "usage", "show", parent["uuid"])
    assert {u["resource_class"]: u["usage"] for u in usages} == {
        "VCPU": 0,
        "MEMORY_MB": 0,
        "DISK_GB": 0,
    }
    proc = cli("resource", "provider", "delete", parent["uuid"], check=False, json_output=False)
    assert proc.returncode != 0 and "child" in proc.stderr  # 409: it has a child
    cli("resource", "provider", "delete", child["uuid"], json_output=False)
    cli("resource", "provider", "delete", parent["uuid"], json_output=False)
    assert cli("resource", "provider", "list", "--name", parent["name"]) == []


def test_invalid_inventories_are_400(cli, made, placement):
    rp = _provider(cli, made)
    proc = cli(
        "resource",
        "provider",
        "inventory",
        "set",
        rp["uuid"],
        "--resource",
        "VCPU=4",
        "--resource",
        "VCPU:min_unit=8",
        "--resource",
        "VCPU:max_unit=2",
        check=False,
        json_output=False,
    )
    assert proc.returncode != 0 and "min_unit" in proc.stderr
    url = f"/resource_providers/{rp['uuid']}/inventories"
    for inventory in (
        {"NO_SUCH_CLASS": {"total": 1}},
        {"VCPU": {"total": 0}},
        {"VCPU": {"total": 4, "reserved": 5}},
        {"VCPU": {"total": "four"}},
    ):
        body = {"resource_provider_generation": 0, "inventories": inventory}
        _error(placement.put(url, json=body, raise_exc=False, microversion="1.39"), 400)
    assert cli("resource", "provider", "inventory", "list", rp["uuid"]) == []


def test_a_stale_generation_is_409_concurrent_update(cli, made, placement):
    rp = _provider(cli, made)
    _inventory(cli, rp["uuid"], "VCPU=4")  # generation 0 -> 1
    url = f"/resource_providers/{rp['uuid']}/inventories"
    stale = {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 8}}}
    body = _error(placement.put(url, json=stale, raise_exc=False, microversion="1.39"), 409)
    assert body["code"] == "placement.concurrent_update"
    traits = {"traits": ["HW_CPU_X86_AVX2"], "resource_provider_generation": 0}
    answer = placement.put(
        f"/resource_providers/{rp['uuid']}/traits",
        json=traits,
        raise_exc=False,
        microversion="1.39",
    )
    assert _error(answer, 409)["code"] == "placement.concurrent_update"
    # the CLI reads the generation first, so it succeeds
    agg = str(uuid.uuid4())
    set_aggs = cli(
        "resource",
        "provider",
        "aggregate",
        "set",
        rp["uuid"],
        "--aggregate",
        agg,
        "--generation",
        "1",
    )
    assert [a["uuid"] for a in set_aggs] == [agg]
    proc = cli(
        "resource",
        "provider",
        "aggregate",
        "set",
        rp["uuid"],
        "--aggregate",
        agg,
        "--generation",
        "1",
        check=False,
        json_output=False,
    )
    assert proc.returncode != 0 and "409" in proc.stderr


def test_allocations_stop_at_capacity(cli, made):
    rp = _provider(cli, made)
    _inventory(cli, rp["uuid"], "VCPU=2", "VCPU:allocation_ratio=2.0", "MEMORY_MB=1024")
    project, user = str(uuid.uuid4()), str(uuid.uuid4())
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    made["consumers"] += [first, second]

    def allocate(consumer, vcpu, check=True):
        return cli(
            "resource",
            "provider",
            "allocation",
            "set",
            consumer,
            "--allocation",
            f"rp={rp['uuid']},VCPU={vcpu},MEMORY_MB=256",
            "--project-id",
            project,
            "--user-id",
            user,
            "--consumer-type",
            "INSTANCE",
            check=check,
            json_output=check,
        )

    rows = allocate(first, 3)
    assert rows[0]["resources"] == {"VCPU": 3, "MEMORY_MB": 256}
    assert rows[0]["project_id"] == project
    over = allocate(second, 2, check=False)  # 3 + 2 > (2 - 0) * 2.0
    assert over.returncode != 0 and "capacity" in over.stderr
    allocate(second, 1)
    usage = cli("resource", "usage", "show", project)
    assert {u["resource_class"]: u["usage"] for u in usage} == {"VCPU": 4, "MEMORY_MB": 512}
    shown = cli("resource", "provider", "allocation", "show", first)
    assert shown[0]["resource_provider"] == rp["uuid"]
    cli("resource", "provider", "allocation", "delete", first, json_output=False)
    assert cli("resource", "provider", "allocation", "show", first) == []


def test_resource_classes_and_traits_through_the_cli(cli, made):
    name = "CUSTOM_" + uuid.uuid4().hex[:8].upper()
    made["classes"].append(name)
    cli("resource", "class", "create", name, json_output=False)
    names = {c["name"] for c in cli("resource", "class", "list")}
    assert {"VCPU", "MEMORY_MB", "DISK_GB", name} <= names
    assert cli("resource", "class", "show", name)["name"] == name
    proc = cli("resource", "class", "create", "NOT_CUSTOM", check=False, json_output=False)
    assert proc.returncode != 0

    trait = "CUSTOM_" + uuid.uuid4().hex[:8].upper()
    made["traits"].append(trait)
    cli("trait", "create", trait, json_output=False)
    listed = {t["name"] for t in cli("trait", "list")}
    assert {trait, "HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH"} <= listed
    rp = _provider(cli, made)
    shown = cli(
        "resource",
        "provider",
        "trait",
        "set",
        rp["uuid"],
        "--trait",
        trait,
        "--trait",
        "HW_CPU_X86_AVX2",
    )
    assert sorted(t["name"] for t in shown) == sorted([trait, "HW_CPU_X86_AVX2"])
    proc = cli("trait", "delete", trait, check=False, json_output=False)
    assert proc.returncode != 0  # a provider has it: 409
    cli("resource", "provider", "trait", "delete", rp["uuid"], json_output=False)
    cli("trait", "delete", trait, json_output=False)
    cli("resource", "class", "delete", name, json_output=False)
    assert name not in {c["name"] for c in cli("resource", "class", "list")}


def test_allocation_candidates(cli, made):
    agg = str(uuid.uuid4())
    hosts = {}
    for label, vcpu, trait in (
        ("small", 1, None),
        ("big", 16, "HW_CPU_X86_AVX2"),
        ("plain", 16, None),
    ):
        rp = _provider(cli, made, unique(label))
        _inventory(cli, rp["uuid"], f"VCPU={vcpu}", "MEMORY_MB=2048")
        if trait:
            cli("resource", "provider", "trait", "set", rp["uuid"], "--trait", trait)
        hosts[label] = rp["uuid"]
    cli(
        "resource",
        "provider",
        "aggregate",
        "set",
        hosts["plain"],
        "--aggregate",
        agg,
        "--generation",
        "1",
    )

    def candidates(*args):
        rows = cli(
            "allocation",
            "candidate",
            "list",
            "--resource",
            "VCPU=2",
            "--resource",
            "MEMORY_MB=512",
            *args,
        )
        mine = set(hosts.values())
        return {r["resource provider"] for r in rows if r["resource provider"] in mine}

    assert candidates() == {hosts["big"], hosts["plain"]}
    assert candidates("--required", "HW_CPU_X86_AVX2") == {hosts["big"]}
    assert candidates("--forbidden", "HW_CPU_X86_AVX2") == {hosts["plain"]}
    assert candidates("--member-of", agg) == {hosts["plain"]}
    rows = cli("allocation", "candidate", "list", "--resource", "VCPU=1", "--limit", "1")
    assert len(rows) == 1


def test_the_sdk_placement_proxy(placement, made):
    rp = placement.create_resource_provider(name=unique("sdk"))
    made["providers"].append(rp.id)
    assert placement.get_resource_provider(rp.id).name == rp.name
    assert rp.id in {p.id for p in placement.resource_providers()}
    placement.update_resource_provider(rp, name=rp.name + "-x")
    inventory = placement.create_resource_provider_inventory(
        rp, resource_class="VCPU", total=4, resource_provider_generation=0
    )
    assert inventory.total == 4
    assert [i.resource_class for i in placement.resource_provider_inventories(rp)] == ["VCPU"]
    assert "VCPU" in {c.name for c in placement.resource_classes()}
    assert "HW_CPU_X86_AVX2" in {t.name for t in placement.traits()}


def test_a_member_is_refused_and_the_version_document_is_open(running_cloud):
    demo = running_cloud.sdk("pocketstack-demo").placement
    answer = demo.get("/resource_providers", raise_exc=False)
    _error(answer, 403)
    doc = demo.get("/", raise_exc=False).json()
    assert doc["versions"][0]["max_version"] == "1.39"
    too_new = demo.get("/resource_providers", raise_exc=False, microversion="1.99")
    assert too_new.status_code == 406


def test_the_compute_host_is_a_resource_provider(running_cloud, cli):
    """The running cloud's compute agent reports its host: the conductor makes it a
    provider with VCPU/MEMORY_MB/DISK_GB inventory and the configured ratios (defaults
    4.0, 1.5, 1.0; 512 MiB reserved), which allocation candidates then offer."""
    admin = running_cloud.sdk(ADMIN)
    hypervisors = {h.name: h for h in admin.compute.hypervisors(details=True)}
    assert hypervisors
    name = sorted(hypervisors)[0]
    (rp,) = cli("resource", "provider", "list", "--name", name)
    inventory = {
        i["resource_class"]: i for i in cli("resource", "provider", "inventory", "list", rp["uuid"])
    }
    assert set(inventory) == {"VCPU", "MEMORY_MB", "DISK_GB"}
    assert inventory["VCPU"]["allocation_ratio"] == 4.0
    assert inventory["MEMORY_MB"]["allocation_ratio"] == 1.5
    assert inventory["MEMORY_MB"]["reserved"] == 512
    rows = cli("allocation", "candidate", "list", "--resource", "VCPU=1")
    assert rp["uuid"] in {r["resource provider"] for r in rows}


def test_post_allocations_moves_a_consumer_between_providers_at_once(cli, made, placement):
    """A migration's move: one POST /allocations gives the source allocation to the
    migration consumer and the instance a new one on the target; over capacity, nothing of
    it is written."""
    source, target = _provider(cli, made), _provider(cli, made)
    for rp in (source, target):
        _inventory(cli, rp["uuid"], "VCPU=4")
    instance, migration = str(uuid.uuid4()), str(uuid.uuid4())
    made["consumers"] += [instance, migration]
    owner = {"project_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())}

    def put(consumer, rp, vcpu, generation):
        body = {
            "allocations": {rp: {"resources": {"VCPU": vcpu}}},
            "consumer_generation": generation,
            "consumer_type": "INSTANCE",
            **owner,
        }
        return placement.put(
            f"/allocations/{consumer}", json=body, raise_exc=False, microversion="1.38"
        )

    assert put(instance, source["uuid"], 3, None).status_code == 204
    stale = put(instance, source["uuid"], 2, None)  # it exists: null is stale
    assert _error(stale, 409)["code"] == "placement.concurrent_update"

    def move(vcpu):
        body = {
            instance: {
                "allocations": {target["uuid"]: {"resources": {"VCPU": vcpu}}},
                "consumer_generation": 1,
                "consumer_type": "INSTANCE",
                **owner,
            },
            migration: {
                "allocations": {source["uuid"]: {"resources": {"VCPU": 3}}},
                "consumer_generation": None,
                "consumer_type": "MIGRATION",
                **owner,
            },
        }
        return placement.post("/allocations", json=body, raise_exc=False, microversion="1.38")

    _error(move(5), 409)  # over the target's capacity: nothing moved
    assert placement.get(f"/allocations/{migration}", microversion="1.38").json() == {
        "allocations": {}
    }
    assert move(3).status_code == 204
    shown = placement.get(f"/allocations/{instance}", microversion="1.38").json()
    assert shown["allocations"][target["uuid"]]["resources"] == {"VCPU": 3}
    assert shown["consumer_generation"] == 2 and shown["consumer_type"] == "INSTANCE"
    usages = placement.get(f"/usages?project_id={owner['project_id']}", microversion="1.38")
    assert usages.json()["usages"] == {
        "INSTANCE": {"consumer_count": 1, "VCPU": 3},
        "MIGRATION": {"consumer_count": 1, "VCPU": 3},
    }


def test_older_microversions_keep_their_shapes(placement, made):
    """1.0: a create answers 201 with a Location and no body, a provider has no parent or
    root, allocations are a list; a route of a later version is 404 below it."""
    name = unique("old")
    created = placement.post(
        "/resource_providers", json={"name": name}, raise_exc=False, microversion="1.0"
    )
    assert created.status_code == 201 and not created.content
    rp_uuid = created.headers["Location"].rsplit("/", 1)[1]
    made["providers"].append(rp_uuid)
    shown = placement.get(f"/resource_providers/{rp_uuid}", microversion="1.0").json()
    assert "root_provider_uuid" not in shown and shown["name"] == name
    assert created.headers["openstack-api-version"] == "placement 1.0"
    body = {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 2}}}
    placement.put(f"/resource_providers/{rp_uuid}/inventories", json=body, microversion="1.0")
    consumer = str(uuid.uuid4())
    made["consumers"].append(consumer)
    listed = {"allocations": [{"resource_provider": {"uuid": rp_uuid}, "resources": {"VCPU": 1}}]}
    done = placement.put(f"/allocations/{consumer}", json=listed, microversion="1.0")
    assert done.status_code == 204
    assert placement.get("/traits", raise_exc=False, microversion="1.5").status_code == 404
    old = placement.get(
        "/allocation_candidates?resources=VCPU:1", raise_exc=False, microversion="1.10"
    ).json()
    assert {"resource_provider": {"uuid": rp_uuid}, "resources": {"VCPU": 1}} in [
        a["allocations"][0] for a in old["allocation_requests"]
    ]
