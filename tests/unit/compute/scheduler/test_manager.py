"""SchedulerManager: filters, weighers, claims and NoValidHost over several hosts."""

import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.common.errors import NoValidHost
from pocketstack.compute.models import Allocation, ComputeNode, Service
from pocketstack.compute.scheduler.manager import SchedulerManager

CTX = RequestContext(user_id="u", project_id="p", roles=("member",))


def spec(**kw):
    return {
        "instance_uuid": str(uuid.uuid4()),
        "project_id": "p",
        "vcpus": 1,
        "memory_mb": 256,
        "disk_gb": 1,
        "availability_zone": None,
        "image_properties": {},
        "ignore_hosts": [],
        "force_host": None,
        **kw,
    }


@pytest.fixture
def three_hosts(db, exact_conf, add_host):
    """``busy`` (3 of 8 vCPUs, 3 GiB of 8 used), ``half`` (1 of 8) and ``idle``."""
    for name in ("busy", "half", "idle"):
        add_host(db, exact_conf, name, vcpus=8, memory_mb=8192, local_gb=100)
    sched = SchedulerManager(exact_conf, db)
    for i in range(3):
        assert sched.claim("busy", f"b{i}", 1, 1024, 1)
    assert sched.claim("half", "h0", 1, 1024, 1)
    return db


def place(db, conf, **kw):
    return SchedulerManager(conf, db).select_destination(CTX, spec(**kw))


def set_service(db, host, **values):
    with db.transaction() as s:
        s.execute(sa.update(Service).where(Service.host == host).values(**values))


def test_spread_picks_the_emptiest_host(three_hosts, exact_conf):
    dest = place(three_hosts, exact_conf.replace(weigher_multiplier=1.0))
    assert (dest["host"], dest["node"]) == ("idle", "idle")
    # what the scheduler did, in words (the schedule event's details, microversion 2.84)
    assert "Placement (start: 3, end: 3), ComputeFilter (start: 3, end: 3)" in dest["details"]
    assert dest["details"].endswith("Chosen: idle (weight 2.000).")


def test_pack_picks_the_fullest_host_that_fits(three_hosts, exact_conf):
    dest = place(three_hosts, exact_conf.replace(weigher_multiplier=-1.0))
    assert dest["host"] == "busy"
    # busy has 5 GiB free: a 6 GiB server goes to the next fullest
    dest = place(three_hosts, exact_conf.replace(weigher_multiplier=-1.0), memory_mb=6144)
    assert dest["host"] == "half"


def test_selected_host_holds_the_claim(three_hosts, exact_conf):
    request = spec(vcpus=2, memory_mb=2048, disk_gb=5)
    dest = SchedulerManager(exact_conf, three_hosts).select_destination(CTX, request)
    with three_hosts.reader() as s:
        alloc = s.get(Allocation, request["instance_uuid"])
        node = s.execute(
            sa.select(ComputeNode).where(ComputeNode.host == dest["host"])
        ).scalar_one()
        assert (alloc.host, alloc.vcpus, alloc.memory_mb, alloc.disk_gb) == (
            dest["host"],
            2,
            2048,
            5,
        )
        assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used) == (2, 2048, 5)


def test_release_frees_the_host(three_hosts, exact_conf):
    sched = SchedulerManager(exact_conf, three_hosts)
    sched.release("b0")
    sched.release("b0")
    sched.release("unknown")
    with three_hosts.reader() as s:
        node = s.execute(sa.select(ComputeNode).where(ComputeNode.host == "busy")).scalar_one()
        assert (node.vcpus_used, node.memory_mb_used, node.running_vms) == (2, 2048, 2)


def test_availability_zone(db, exact_conf, add_host):
    add_host(db, exact_conf, "a1", az="zone-a")
    add_host(db, exact_conf, "b1", az="zone-b", vcpus=64, memory_mb=65536)
    assert place(db, exact_conf, availability_zone="zone-a")["host"] == "a1"
    with pytest.raises(NoValidHost, match="AvailabilityZoneFilter"):
        place(db, exact_conf, availability_zone="zone-c")


def test_disabled_and_down_services_are_excluded(db, exact_conf, add_host):
    for name in ("disabled", "down", "forced", "ok"):
        add_host(db, exact_conf, name, vcpus=8 if name == "ok" else 64)
    set_service(db, "disabled", disabled=True, disabled_reason="maintenance")
    set_service(db, "forced", forced_down=True)
    old = utcnow() - dt.timedelta(seconds=exact_conf.service_down_time + 5)
    set_service(db, "down", last_seen_up=old)
    assert place(db, exact_conf)["host"] == "ok"
    set_service(db, "ok", disabled=True)
    with pytest.raises(NoValidHost) as err:
        place(db, exact_conf)
    assert "ComputeFilter (start: 4, end: 0)" in err.value.message


def test_no_valid_host_message(db, exact_conf, add_host):
    add_host(db, exact_conf, "small", vcpus=2, memory_mb=1024)
    with pytest.raises(NoValidHost) as err:
        place(db, exact_conf, memory_mb=2048)
    assert err.value.message.startswith(
        "No valid host was found. There are not enough hosts available."
    )
    assert "Placement (start: 1, end: 0)" in err.value.message


def test_no_hosts_at_all(db, exact_conf):
    with pytest.raises(NoValidHost, match="^No valid host was found. There are not enough"):
        place(db, exact_conf)


def test_image_properties_choose_the_host(db, exact_conf, add_host):
    add_host(db, exact_conf, "arm", cpu_info="aarch64 (QEMU 8.2)", vcpus=64)
    add_host(db, exact_conf, "x86", cpu_info="x86_64 (QEMU 8.2)")
    props = {"hw_architecture": "x86_64"}
    assert place(db, exact_conf, image_properties=props)["host"] == "x86"


def test_ignore_hosts(three_hosts, exact_conf):
    dest = place(three_hosts, exact_conf, ignore_hosts=["idle"])
    assert dest["host"] == "half"


def test_force_host_skips_filters_but_not_the_claim(three_hosts, exact_conf):
    set_service(three_hosts, "busy", disabled=True)
    assert place(three_hosts, exact_conf, force_host="busy")["host"] == "busy"
    with pytest.raises(NoValidHost, match="Claims failed"):
        place(three_hosts, exact_conf, force_host="busy", vcpus=8)
    with pytest.raises(NoValidHost, match="No such host - host: nowhere"):
        place(three_hosts, exact_conf, force_host="nowhere")


def test_falls_back_to_the_next_host_when_the_claim_is_lost(db, exact_conf, add_host):
    # With no filters a full host reaches the claim; packing ranks it first; its claim fails.
    add_host(db, exact_conf, "full", vcpus=1)
    add_host(db, exact_conf, "roomy", vcpus=8)
    sched = SchedulerManager(exact_conf.replace(weigher_multiplier=-1.0), db)
    assert sched.claim("full", "f0", 1, 256, 1)
    sched.filters = []
    assert sched.select_destination(CTX, spec())["host"] == "roomy"


def test_same_instance_scheduled_twice_keeps_one_claim(three_hosts, exact_conf):
    request = spec()
    sched = SchedulerManager(exact_conf, three_hosts)
    first = sched.select_destination(CTX, request)
    second = sched.select_destination(CTX, request)
    with three_hosts.reader() as s:
        used = s.scalar(sa.select(sa.func.sum(ComputeNode.running_vms)))
    assert first["host"] == second["host"] == "idle"
    assert used == 5  # 3 + 1 seeded + this one, once


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_creates_fill_hosts_exactly(request, backend, exact_conf, add_host):
    """40 concurrent requests on two hosts holding 6 and 4: exactly 10 placed."""
    db = request.getfixturevalue("db" if backend == "sqlite" else "pg_db")
    add_host(db, exact_conf, "h6", vcpus=6, memory_mb=6 * 256)
    add_host(db, exact_conf, "h4", vcpus=4, memory_mb=4 * 256)
    sched = SchedulerManager(exact_conf, db)
    barrier = threading.Barrier(40)
    placed: list[str] = []
    refused: list[NoValidHost] = []

    def one():
        barrier.wait()
        try:
            placed.append(sched.select_destination(CTX, spec())["host"])
        except NoValidHost as exc:
            refused.append(exc)

    workers = [threading.Thread(target=one) for _ in range(40)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert (placed.count("h6"), placed.count("h4"), len(refused)) == (6, 4, 30)
    with db.reader() as s:
        rows = s.execute(
            sa.select(ComputeNode.host, ComputeNode.vcpus_used, ComputeNode.memory_mb_used)
        ).all()
        assert sorted(rows) == [("h4", 4, 1024), ("h6", 6, 1536)]
