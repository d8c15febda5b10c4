"""Unshelve and availability zones across two fake compute hosts in two zones (node1 in
``nova``, node2 in ``az2``), the whole cloud in one process (issue 10), as Nova's table of
unshelve cases (its ``test_availability_zones`` functional tests): a zone asked for (2.77)
places the server there and pins it; a host (2.91) must be in the zone the server is pinned
to (400 otherwise, before anything starts); a null zone (2.91) unpins it; a failed unshelve
leaves the pin as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import agent as agent_module
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.models import Service
from tests.functional.conftest import ADMIN, DEMO, TwoHosts
from tests.helpers import wait_until


@pytest.fixture
def env(two_hosts: TwoHosts, monkeypatch) -> TwoHosts:
    """``two_hosts`` with node2's agent restarted in the zone ``az2``. The agents upload a
    shelve's disk through the image service in this process (no image API listens here)."""

    def upload_in_process(url: str, path: Path, _auth: object) -> None:
        image_id = url.rstrip("/").split("/")[-2]  # .../images/<id>/file
        with open(path, "rb") as data:
            two_hosts.cloud.image.data.upload(RequestContext.system(), image_id, data)

    monkeypatch.setattr(agent_module, "upload_image", upload_in_process)
    old = two_hosts.kill("node2")
    agent = ComputeAgent(old.conf.replace(availability_zone="az2"), two_hosts.bus, old.driver)
    two_hosts.agents["node2"] = agent
    agent.start()

    def zone_of_node2() -> str | None:
        with two_hosts.cloud.db.reader() as s:
            return s.scalars(
                sa.select(Service.availability_zone).where(Service.host == "node2")
            ).first()

    wait_until(lambda: zone_of_node2() == "az2", 10, "node2 in az2")
    return two_hosts


def _offloaded(env: TwoHosts, uuid: str) -> None:
    env.cloud.compute.server_actions.shelve(DEMO, uuid)
    env.settle(uuid, "SHELVED_OFFLOADED")


def test_a_zone_asked_for_places_and_pins_and_a_null_zone_unpins(env):
    actions = env.cloud.compute.server_actions
    server = env.boot()
    assert server.requested_availability_zone is None
    _offloaded(env, server.uuid)
    other = "az2" if server.host == "node1" else "nova"
    other_host = "node2" if server.host == "node1" else "node1"
    actions.unshelve(DEMO, server.uuid, other)
    back = env.settle(server.uuid)
    assert (back.host, back.availability_zone) == (other_host, other)
    assert back.requested_availability_zone == other  # pinned, as Nova's request spec

    # pinned: a host of the other zone is refused before anything starts
    _offloaded(env, server.uuid)
    with pytest.raises(errors.BadRequest, match="is not in the availability zone"):
        actions.unshelve(ADMIN, server.uuid, None, server.host)
    with pytest.raises(errors.BadRequest, match="is not in the availability zone"):
        actions.unshelve(ADMIN, server.uuid, other, server.host)
    assert env.settle(server.uuid, "SHELVED_OFFLOADED").requested_availability_zone == other

    # unpinned (2.91's null zone), the host may be anywhere
    actions.unshelve(ADMIN, server.uuid, None, server.host, unpin_az=True)
    back = env.settle(server.uuid)
    assert back.host == server.host and back.requested_availability_zone is None
    assert back.availability_zone == ("nova" if server.host == "node1" else "az2")


def test_an_unshelve_that_finds_no_host_keeps_the_pin(env):
    server = env.boot()
    _offloaded(env, server.uuid)
    # node1, the zone nova's only host, disabled: nova stays a zone (the default one) but
    # the scheduler finds no host in it
    env.cloud.compute.hypervisors.update_service(
        ADMIN, host="node1", binary="nova-compute", disabled=True
    )
    env.cloud.compute.server_actions.unshelve(DEMO, server.uuid, "nova")
    failed = wait_until(
        lambda: (r := env.cloud.compute.servers.get(ADMIN, server.uuid)).task_state is None and r,
        10,
        "the unshelve to end",
    )
    assert failed.vm_state == "shelved_offloaded" and failed.host is None
    assert failed.requested_availability_zone is None  # not pinned to nova
    assert env.events(server.uuid, "unshelve")[0][1] == "Error"
