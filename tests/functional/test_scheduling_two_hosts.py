"""Scheduling across two fake compute hosts, the whole cloud in one process (issue 10 part
2): an anti-affinity group of 2 lands one per host and a third member is 'No valid host';
soft-anti-affinity spreads and still places a third; ``same_host``/``different_host``
hints; a flavor's ``aggregate_instance_extra_specs`` against aggregate metadata."""

from __future__ import annotations

import types

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute import states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.service import Cloud
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member",), auth_token="token"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))
HOSTS = ("node1", "node2")


@pytest.fixture
def env(conf, db, bus, tmp_path):
    conf = conf.replace(
        hostname="node1",
        periodic_interval=0.2,
        compute_vcpus=8,
        compute_memory_mb=4096,
        compute_disk_gb=100,
    )
    cloud = Cloud(conf, db, bus)
    cloud.compute.flavors.bootstrap()
    cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    image = cloud.image.create_image_from_file(
        RequestContext.system(), "cirros", disk, disk_format="raw"
    )
    conductor = Conductor(cloud)
    conductor.start()
    agents = []
    for host in HOSTS:
        host_conf = conf.replace(hostname=host, state_dir=tmp_path / host)
        agents.append(ComputeAgent(host_conf, bus, FakeDriver(host_conf)))
        agents[-1].start()
        wait_hypervisor_up(cloud, host)
    yield types.SimpleNamespace(cloud=cloud, image=image.id)
    for agent in agents:
        agent.stop()
    conductor.stop()


def boot(env, name, flavor="1", **kw):
    (server,) = env.cloud.compute.servers.create(
        DEMO, name=name, image_id=env.image, flavor_id=flavor, networks="auto", **kw
    )
    return server.uuid


def settle(env, uuid, status="ACTIVE"):
    def check():
        row = env.cloud.compute.servers.get(ADMIN, uuid)
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)


def group(env, policy):
    return env.cloud.compute.server_groups.create(DEMO, name=policy, policy=policy).group.uuid


def test_anti_affinity_places_one_per_host_and_a_third_finds_no_valid_host(env):
    hint = group(env, "anti-affinity")
    hosts = {settle(env, boot(env, f"aa{n}", group=hint)).host for n in range(2)}
    assert hosts == set(HOSTS)
    third = boot(env, "aa3", group=hint)
    settle(env, third, "ERROR")
    fault = env.cloud.compute.servers.faults([third])[third]
    assert "No valid host" in fault.message
    assert "ServerGroupAntiAffinityFilter" in fault.message


def test_soft_anti_affinity_spreads_then_still_places(env):
    hint = group(env, "soft-anti-affinity")
    hosts = [settle(env, boot(env, f"saa{n}", group=hint)).host for n in range(3)]
    assert set(hosts[:2]) == set(HOSTS)
    assert hosts[2] in HOSTS


def test_soft_affinity_packs(env):
    hint = group(env, "soft-affinity")
    hosts = {settle(env, boot(env, f"sa{n}", group=hint)).host for n in range(3)}
    assert len(hosts) == 1


def test_same_host_and_different_host_hints(env):
    first = settle(env, boot(env, "first"))
    other = next(h for h in HOSTS if h != first.host)
    for n in range(2):
        near = settle(env, boot(env, f"near{n}", scheduler_hints={"same_host": [first.uuid]}))
        assert near.host == first.host
        far = settle(env, boot(env, f"far{n}", scheduler_hints={"different_host": [first.uuid]}))
        assert far.host == other


def test_aggregate_instance_extra_specs_pick_the_aggregate_host(env):
    aggs = env.cloud.compute.aggregates
    agg = aggs.create(ADMIN, "fast", None)
    aggs.add_host(ADMIN, str(agg.aggregate.id), "node2")
    aggs.set_metadata(ADMIN, str(agg.aggregate.id), {"ssd": "true"})
    env.cloud.compute.flavors.update_extra_specs(
        ADMIN, "1", {"aggregate_instance_extra_specs:ssd": "true"}
    )
    for n in range(3):
        assert settle(env, boot(env, f"ssd{n}")).host == "node2"
    env.cloud.compute.flavors.update_extra_specs(
        ADMIN, "1", {"aggregate_instance_extra_specs:ssd": "false"}
    )
    uuid = boot(env, "nossd")
    settle(env, uuid, "ERROR")
    assert (
        "AggregateInstanceExtraSpecsFilter"
        in env.cloud.compute.servers.faults([uuid])[uuid].message
    )


def test_hints_parsed_from_a_create_body():
    from pocketstack.compute import scheduler_hints

    one, two = "0" * 8 + "-0000-0000-0000-" + "0" * 12, "1" * 8 + "-1111-1111-1111-" + "1" * 12
    body = {"os:scheduler_hints": {"same_host": one, "different_host": [one, two], "x": 1}}
    assert scheduler_hints.parse(body) == {"same_host": [one], "different_host": [one, two]}
    assert scheduler_hints.parse({"server": {}}) == {}
