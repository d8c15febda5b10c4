"""Shared fixtures of the functional tests: ``two_hosts``, the whole cloud in one process
with a conductor and two fake compute agents (``node1``, ``node2``) that a test can kill and
restart (the moves' fault tests: resize, migrations, live migration, snapshot, shelve)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.compute import migrations, states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.models import Allocation
from pocketstack.service import Cloud
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member",), auth_token="token"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))
HOSTS = ("node1", "node2")


class TwoHosts:
    """A cloud with a conductor and the compute agents of ``HOSTS`` on fake drivers.

    ``cloud``, ``conductor``, ``agents`` (host -> ``ComputeAgent``), ``image`` (a raw image's
    id), ``conf``, ``bus``. ``kill``/``restart`` stop an agent (its driver, the "host", keeps
    its guests) and start a new one on the same driver, as a process restart does.
    """

    def __init__(self, conf: Any, db: Any, bus: Any, tmp_path: Any):
        self.conf, self.bus, self.tmp_path = conf, bus, tmp_path
        self.cloud = Cloud(conf, db, bus)
        self.cloud.compute.flavors.bootstrap()
        self.cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
        disk = tmp_path / "disk.img"
        disk.write_bytes(b"\0" * 4096)
        self.image = self.cloud.image.create_image_from_file(
            RequestContext.system(), "cirros", disk, disk_format="raw"
        ).id
        self.conductor = Conductor(self.cloud)
        self.conductor.start()
        self.agents: dict[str, ComputeAgent] = {}
        for host in HOSTS:
            host_conf = conf.replace(hostname=host, state_dir=tmp_path / host)
            self.agents[host] = ComputeAgent(host_conf, bus, FakeDriver(host_conf))
            self.agents[host].start()
            wait_hypervisor_up(self.cloud, host)
        #: events a test's blocked handlers wait on; all set at teardown
        self.blocks: list[threading.Event] = []

    def close(self) -> None:
        for event in self.blocks:
            event.set()
        for agent in self.agents.values():
            agent.stop()
        self.conductor.stop()

    # -- processes

    def kill(self, host: str) -> ComputeAgent:
        """Stop ``host``'s agent (its guests stay, as QEMU outlives its agent)."""
        agent = self.agents[host]
        agent.stop()
        return agent

    def restart(self, host: str) -> ComputeAgent:
        """Start a new agent of ``host`` on the same driver (its ``reconcile`` settles)."""
        old = self.agents[host]
        agent = ComputeAgent(old.conf, self.bus, old.driver)
        self.agents[host] = agent
        agent.start()
        return agent

    def restart_conductor(self) -> Conductor:
        """Stop the conductor and start a new one (a controller restart: ``recover``)."""
        self.conductor.stop()
        self.conductor = Conductor(self.cloud)
        self.conductor.start()
        return self.conductor

    def block(self) -> threading.Event:
        """An event a test's stand-in for a dying handler waits on (set at teardown)."""
        event = threading.Event()
        self.blocks.append(event)
        return event

    # -- reading

    def boot(self, name: str = "vm", flavor: str = "1", image: str | None = None) -> Any:
        (server,) = self.cloud.compute.servers.create(
            DEMO, name=name, image_id=image or self.image, flavor_id=flavor, networks="auto"
        )
        return self.settle(server.uuid)

    def settle(self, uuid: str, status: str = "ACTIVE") -> Any:
        def check() -> Any:
            row = self.cloud.compute.servers.get(ADMIN, uuid)
            return row if states.status_of(row.vm_state, row.task_state) == status else None

        return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)

    def claims(self) -> dict[str, tuple[str, int]]:
        """consumer -> (host, MiB) of every claim."""
        with self.cloud.db.reader() as s:
            rows = s.scalars(sa.select(Allocation)).all()
            return {r.instance_uuid: (r.host, r.memory_mb) for r in rows}

    def guests(self) -> dict[str, list[str]]:
        return {h: a.driver.list_instances() for h, a in self.agents.items()}

    def migration(self, uuid: str) -> Any:
        with self.cloud.db.reader() as s:
            (row,) = migrations.for_instance(s, uuid)
            s.expunge(row)
        return row

    def failed(self, uuid: str) -> bool:
        with self.cloud.db.reader() as s:
            return [m.status for m in migrations.for_instance(s, uuid)] == ["error"]

    def events(self, uuid: str, name: str) -> list[tuple[str, str]]:
        """(event, result) of the server's newest action ``name``."""
        action = next(a for a in self.cloud.compute.actions.list(ADMIN, uuid) if a.action == name)
        _action, events = self.cloud.compute.actions.get(ADMIN, uuid, action.request_id)
        return [(e.event, e.result) for e in events]

    def fault(self, uuid: str) -> str:
        """The message of the server's latest fault ("" without one)."""
        row = self.cloud.compute.servers.faults([uuid]).get(uuid)
        return row.message if row is not None else ""

    def port_hosts(self, uuid: str) -> set[str | None]:
        """The ``binding:host_id`` of the server's ports."""
        vifs = self.cloud.network.get_instance_network_info(ADMIN, uuid)
        return {self.cloud.network.ports.get(ADMIN, v["port_id"]).port.host_id for v in vifs}


@pytest.fixture
def make_two_hosts(conf, db, bus, tmp_path) -> Iterator[Callable[..., TwoHosts]]:
    """``make_two_hosts(**conf_changes)``: a ``TwoHosts`` (closed at teardown)."""
    made: list[TwoHosts] = []

    def make(**changes: Any) -> TwoHosts:
        base = {
            "hostname": "node1",
            "periodic_interval": 0.2,
            "compute_vcpus": 8,
            "compute_memory_mb": 4096,
            "compute_disk_gb": 100,
        }
        for every_round in ("sync_power_state_interval", "update_resources_interval"):
            if hasattr(conf, every_round):  # 0: the sweeps run every periodic_interval
                base[every_round] = 0
        made.append(TwoHosts(conf.replace(**(base | changes)), db, bus, tmp_path))
        return made[-1]

    yield make
    for env in made:
        env.close()


@pytest.fixture
def two_hosts(make_two_hosts) -> TwoHosts:
    """The ``TwoHosts`` cloud with the defaults (``periodic_interval`` 0.2 s)."""
    return make_two_hosts()
