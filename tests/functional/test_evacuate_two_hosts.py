"""Evacuate across two fake compute hosts, the whole cloud in one process (issue 10): a
server whose host's agent is gone and whose service is forced down is rebuilt on the other
host with its id, ports and fixed IPs; the Migration record of type ``evacuation`` ends
``done``; a host that is up is 400; the old host's agent, back, destroys its leftover guest
(``compute.evacuate``)."""

from __future__ import annotations

import types

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import evacuate, states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.models import Migration
from pocketstack.service import Cloud
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member",), auth_token="token"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))


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
    agents, confs = {}, {}
    for host in ("node1", "node2"):
        confs[host] = conf.replace(hostname=host, state_dir=tmp_path / host)
        agents[host] = ComputeAgent(confs[host], bus, FakeDriver(confs[host]))
        agents[host].start()
        wait_hypervisor_up(cloud, host)
    ns = types.SimpleNamespace(cloud=cloud, db=db, bus=bus, image=image.id, agents=agents)
    ns.confs = confs
    yield ns
    for agent in ns.agents.values():
        agent.stop()
    conductor.stop()


def settle(env, uuid, status):
    def check():
        row = env.cloud.compute.servers.get(ADMIN, uuid)
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)


def boot(env):
    """A demo server, ACTIVE; ``(server, its host, the other host)``."""
    (server,) = env.cloud.compute.servers.create(
        DEMO, name="vm", image_id=env.image, flavor_id="1", networks="auto"
    )
    server = settle(env, server.uuid, "ACTIVE")
    return server, server.host, next(h for h in ("node1", "node2") if h != server.host)


def kill_and_force_down(env, host):
    env.agents[host].stop()
    force_down(env, host, True)


def force_down(env, host, down):
    env.cloud.compute.hypervisors.update_service(
        ADMIN, host=host, binary="nova-compute", forced_down=down
    )


def test_evacuate_rebuilds_on_the_other_host_and_the_old_host_cleans_up(env):
    server, src, dst = boot(env)
    with pytest.raises(errors.BadRequest, match="still in use"):
        evacuate.evacuate(env.cloud, ADMIN, server.uuid)
    kill_and_force_down(env, src)
    password = evacuate.evacuate(env.cloud, ADMIN, server.uuid)
    assert password
    after = settle(env, server.uuid, "ACTIVE")
    assert after.host == dst and after.network_info and after.uuid == server.uuid
    assert [v["port_id"] for v in after.network_info] == [v["port_id"] for v in server.network_info]
    assert server.uuid in env.agents[dst].driver.list_instances()
    with env.db.reader() as s:
        (migration,) = s.scalars(sa.select(Migration).where(Migration.instance_uuid == server.uuid))
        assert (migration.migration_type, migration.status) == ("evacuation", "done")
        assert (migration.source_compute, migration.dest_compute) == (src, dst)
    # the old host comes back: its leftover guest of the evacuated server is destroyed
    old_driver = env.agents[src].driver
    assert server.uuid in old_driver.list_instances()
    force_down(env, src, False)
    env.agents[src] = ComputeAgent(env.confs[src], env.bus, old_driver)
    env.agents[src].start()
    wait_until(lambda: server.uuid not in old_driver.list_instances(), 10, "the cleanup")
    assert settle(env, server.uuid, "ACTIVE").host == dst


def test_evacuate_to_a_named_host_and_refusals(env):
    server, src, dst = boot(env)
    kill_and_force_down(env, src)
    with pytest.raises(errors.BadRequest, match="same one"):
        evacuate.evacuate(env.cloud, ADMIN, server.uuid, host=src)
    with pytest.raises(errors.NotFound):
        evacuate.evacuate(env.cloud, ADMIN, server.uuid, host="nowhere")
    evacuate.evacuate(env.cloud, ADMIN, server.uuid, host=dst, stop=True)
    assert settle(env, server.uuid, "SHUTOFF").host == dst  # 2.95: ends stopped
