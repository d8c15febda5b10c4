"""Controllers own the builds they run: only a dead controller's builds are recovered."""

from __future__ import annotations

import datetime as dt

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.compute import controllers, states
from pocketstack.compute.conductor import CONTROLLER_INTERRUPTED, Conductor, fail_build
from pocketstack.compute.models import ControllerService, Instance, InstanceFault

LIVE, DEAD, GONE = "live:1", "dead:2", "gone:3"  # GONE has no heartbeat row at all
REQUEST = {"image": {"id": "img", "properties": {}}, "force_host": None}  # a request spec


def _instance(s, name: str, owner: str | None, task: str | None = states.NETWORKING) -> str:
    inst = Instance(
        name=name,
        hostname=name,
        project_id="p",
        user_id="u",
        flavor={},
        vcpus=1,
        memory_mb=64,
        root_gb=0,
        vm_state=states.BUILDING if task else states.ACTIVE,
        task_state=task,
        controller_id=owner,
    )
    s.add(inst)
    s.flush()
    return inst.uuid


@pytest.fixture
def builds(db, conf):
    """One build per owner (this controller, a live one, a dead one, a gone one, nobody),
    and an ACTIVE server of the dead one; ``{name: uuid}``."""
    me = controllers.controller_id(conf)
    controllers.report_controller(db, me)
    controllers.report_controller(db, LIVE)
    with db.transaction() as s:
        s.add(ControllerService(id=DEAD, last_seen_up=utcnow() - dt.timedelta(hours=1)))
        return {
            "mine": _instance(s, "mine", me),
            "live": _instance(s, "live", LIVE),
            "dead": _instance(s, "dead", DEAD, states.SCHEDULING),
            "gone": _instance(s, "gone", GONE, states.BLOCK_DEVICE_MAPPING),
            "nobody": _instance(s, "nobody", None),
            "active": _instance(s, "active", DEAD, None),
        }


def _states(db, builds) -> dict[str, str]:
    with db.reader() as s:
        return {name: s.get(Instance, uuid).vm_state for name, uuid in builds.items()}


def test_controller_id_is_host_and_port(conf):
    assert controllers.controller_id(conf) == f"{conf.hostname}:{conf.port}"


def test_a_controller_is_up_until_its_heartbeat_is_older_than_service_down_time(db, conf):
    controllers.report_controller(db, LIVE)
    controllers.report_controller(db, LIVE)
    with db.transaction() as s:
        s.add(ControllerService(id=DEAD, last_seen_up=utcnow() - dt.timedelta(hours=1)))
    assert controllers.live_controllers(db, conf) == {LIVE}
    with db.reader() as s:
        assert s.get(ControllerService, LIVE).report_count == 2
    controllers.forget_controller(db, LIVE)
    assert controllers.live_controllers(db, conf) == set()


def test_orphans_are_the_builds_of_dead_controllers(db, conf, builds):
    me = controllers.controller_id(conf)
    found = controllers.orphaned_builds(db, conf, me)
    assert sorted(found) == sorted([(builds["dead"], DEAD), (builds["gone"], GONE)])
    found = controllers.orphaned_builds(db, conf, me, include_mine=True)
    assert {uuid for uuid, _ in found} == {
        builds[name] for name in ("mine", "dead", "gone", "nobody")
    }


def test_a_restarting_controller_leaves_a_live_controllers_build_alone(cloud, db, builds):
    Conductor(cloud).recover()
    assert _states(db, builds) == {
        "mine": states.ERROR,
        "live": states.BUILDING,
        "dead": states.ERROR,
        "gone": states.ERROR,
        "nobody": states.ERROR,
        "active": states.ACTIVE,
    }
    with db.reader() as s:
        fault = s.query(InstanceFault).filter_by(instance_uuid=builds["dead"]).one()
    assert fault.message == CONTROLLER_INTERRUPTED


def test_a_live_controller_settles_the_builds_of_dead_ones(cloud, db, builds):
    Conductor(cloud).recover_orphaned_builds()
    assert _states(db, builds) == {
        "mine": states.BUILDING,  # its own builds are running
        "live": states.BUILDING,
        "dead": states.ERROR,
        "gone": states.ERROR,
        "nobody": states.BUILDING,  # no owner: settled by a start-up only
        "active": states.ACTIVE,
    }


def test_a_build_adopted_meanwhile_is_not_failed(cloud, db, builds):
    with db.transaction() as s:  # a live controller took it after the orphans were listed
        s.get(Instance, builds["dead"]).controller_id = LIVE
    fail_build(
        cloud,
        RequestContext.system(),
        builds["dead"],
        CONTROLLER_INTERRUPTED,
        expected={"controller_id": DEAD},
    )
    assert _states(db, builds)["dead"] == states.BUILDING


def test_a_conductor_takes_every_build_of_a_request_before_building_one(cloud, db, monkeypatch):
    with db.transaction() as s:
        first = _instance(s, "first", "api:1", states.SCHEDULING)
        second = _instance(s, "second", "api:1", states.SCHEDULING)
    conductor = Conductor(cloud)
    seen = []

    def run(task):  # the build workflow of one server
        with db.reader() as s:
            seen.append({uuid: s.get(Instance, uuid).controller_id for uuid in (first, second)})

    monkeypatch.setattr(conductor.build, "run", run)
    monkeypatch.setattr(conductor.agents, "build_and_run_instance", lambda *a: None)
    conductor.build_instances(RequestContext.system(), [first, second], REQUEST)
    me = conductor.controller_id
    assert seen == [{first: me, second: me}] * 2
