"""A zone's host aggregate reaches its hosts' resource providers even when ``add_host``
could not copy it (the scheduler asks Placement for the zone's aggregates, ``member_of``,
so a host whose provider misses the aggregate would never take the zone's servers): a host
added before its provider exists gets it with its first report; a provider whose aggregates
were lost gets them back at the controller's start-up sync and with a later report. The
whole cloud in one process: two fake hosts, ``node1`` and ``node2``, in zone ``az-x``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pocketstack.compute import provider_aggregates
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.liveness import report_service
from pocketstack.compute.scheduler import claims
from tests.functional.conftest import ADMIN, DEMO, TwoHosts
from tests.helpers import wait_hypervisor_up, wait_until

ZONE = "az-x"


@pytest.fixture
def zoned(make_two_hosts) -> TwoHosts:
    """Both hosts report zone ``az-x``, as ``pocketstack up --availability-zone az-x``;
    each has its resource provider."""
    env = make_two_hosts(availability_zone=ZONE)
    for host in ("node1", "node2"):
        _provider(env, host)
    return env


def _boot_in_zone(env: TwoHosts, name: str, status: str = "ACTIVE") -> str | None:
    """Boot a server into ``ZONE``; its host once ``status``."""
    (server,) = env.cloud.compute.servers.create(
        DEMO,
        name=name,
        image_id=env.image,
        flavor_id="1",
        networks="none",
        availability_zone=ZONE,
    )
    return env.settle(server.uuid, status).host  # type: ignore[no-any-return]


def _provider(env: TwoHosts, host: str) -> str:
    """The UUID of ``host``'s resource provider, once its report made it (a hypervisor is
    up a moment before its provider is written)."""
    return wait_until(  # type: ignore[no-any-return]
        lambda: claims.provider_of(env.cloud, host), 10, f"{host}'s provider", interval=0.05
    )


def _provider_aggregates(env: TwoHosts, host: str) -> list[str]:
    uuid = _provider(env, host)
    return env.cloud.placement.resource_providers.get_aggregates(claims.SERVICE_CTX, uuid)[1]


def _wipe(env: TwoHosts, host: str) -> None:
    """Drop every aggregate of ``host``'s provider, as a lost copy leaves it."""
    uuid = _provider(env, host)
    env.cloud.placement.resource_providers.set_aggregates(claims.SERVICE_CTX, uuid, [], None)


def test_host_added_to_a_zone_aggregate_before_its_provider_exists_takes_the_zone(zoned, tmp_path):
    env = zoned
    # node3's compute service is known (its heartbeat), its node and provider are not yet
    report_service(env.cloud.db, "node3", availability_zone=ZONE)
    assert claims.provider_of(env.cloud, "node3") is None
    agg = env.cloud.compute.aggregates.create(ADMIN, "late-host", ZONE)
    env.cloud.compute.aggregates.add_host(ADMIN, str(agg.aggregate.id), "node3")

    host_conf = env.conf.replace(hostname="node3", state_dir=tmp_path / "node3")
    agent = ComputeAgent(host_conf, env.bus, FakeDriver(host_conf))
    agent.start()
    try:
        wait_hypervisor_up(env.cloud, "node3")
        # its first report made the provider and copied the aggregate onto it
        wait_until(
            lambda: (
                claims.provider_of(env.cloud, "node3") is not None
                and _provider_aggregates(env, "node3") == [agg.aggregate.uuid]
            ),
            10,
            "node3's provider in the aggregate",
            interval=0.05,
        )
        assert {_boot_in_zone(env, f"late{i}") for i in range(3)} == {"node3"}
    finally:
        agent.stop()


def test_lost_provider_aggregates_come_back_at_the_controllers_start(zoned):
    env = zoned
    agg = env.cloud.compute.aggregates.create(ADMIN, "lost-copy", ZONE)
    env.cloud.compute.aggregates.add_host(ADMIN, str(agg.aggregate.id), "node1")
    assert _provider_aggregates(env, "node1") == [agg.aggregate.uuid]
    assert _boot_in_zone(env, "before") == "node1"

    # the copy lost (a Placement failure at add_host, an aggregate older than the copy):
    # Placement excludes every host of the zone, the boot finds no valid host
    _wipe(env, "node1")
    (server,) = env.cloud.compute.servers.create(
        DEMO, name="lost", image_id=env.image, flavor_id="1", networks="none",
        availability_zone=ZONE,
    )  # fmt: skip
    env.settle(server.uuid, "ERROR")
    assert "No valid host" in env.fault(server.uuid)

    env.restart_conductor()  # a controller start: nova-manage placement sync_aggregates
    wait_until(
        lambda: _provider_aggregates(env, "node1") == [agg.aggregate.uuid],
        10,
        "node1's provider in the aggregate again",
        interval=0.05,
    )
    assert _boot_in_zone(env, "after") == "node1"
    # node2, in no aggregate, got none
    assert _provider_aggregates(env, "node2") == []


def test_a_hosts_report_copies_lost_aggregates_again(zoned, monkeypatch):
    env = zoned
    agg = env.cloud.compute.aggregates.create(ADMIN, "report-copy", ZONE)
    env.cloud.compute.aggregates.add_host(ADMIN, str(agg.aggregate.id), "node2")
    # an aggregate set through Placement alone (no host aggregate) is left as it is
    uuid = _provider(env, "node2")
    foreign = "5a7fbb5b-7a3a-4d55-9a43-3a4c0d6f9d21"
    env.cloud.placement.resource_providers.set_aggregates(claims.SERVICE_CTX, uuid, [foreign], None)
    # the reports check an unchanged host's aggregates every REFRESH_SECONDS (300 s)
    monkeypatch.setattr(provider_aggregates, "REFRESH_SECONDS", 0.0)
    wait_until(
        lambda: _provider_aggregates(env, "node2") == sorted([agg.aggregate.uuid, foreign]),
        10,
        "node2's provider in the aggregate again",
        interval=0.05,
    )
    assert _boot_in_zone(env, "reported") == "node2"


def test_pocketstack_placement_sync_aggregates_copies_them(zoned):
    env = zoned
    agg = env.cloud.compute.aggregates.create(ADMIN, "cli-sync", ZONE)
    env.cloud.compute.aggregates.add_host(ADMIN, str(agg.aggregate.id), "node2")
    _wipe(env, "node2")
    # a host named by an aggregate that never reported has no provider: exit status 6
    report_service(env.cloud.db, "node9", availability_zone=ZONE)
    env.cloud.compute.aggregates.add_host(ADMIN, str(agg.aggregate.id), "node9")

    command = [sys.executable, "-m", "pocketstack.cli", "placement", "sync-aggregates"]
    command += ["--state-dir", str(env.conf.state_dir), "--database", env.conf.database]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 6, done.stderr
    assert "hosts without a resource provider: node9" in done.stdout
    assert _provider_aggregates(env, "node2") == [agg.aggregate.uuid]
    assert _boot_in_zone(env, "synced") == "node2"

    env.cloud.compute.aggregates.remove_host(ADMIN, str(agg.aggregate.id), "node9")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
