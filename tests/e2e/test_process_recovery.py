"""Process recovery: Ctrl-C of ``pocketstack up`` (guests left running or shut down) and
kill -9 of the controller or the compute agent when they run as separate processes.

The distributed tests always run on PostgreSQL + RabbitMQ with ``pocketstack controller``
and ``pocketstack compute`` started by the test (whatever ``POCKETSTACK_TEST_MODE``), with
the fake driver; the QEMU ones are slow-marked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.helpers import wait_until

ADMIN = "pocketstack-admin"
#: a compute service is down 6 s after its last heartbeat; heartbeats every 2 s
FAST = ["--service-down-time", "6", "--periodic-interval", "2"]


# ---------------------------------------------------------------------- helpers


def _show(cloud, name_or_id: str) -> dict[str, Any]:
    return cloud.openstack("server", "show", name_or_id)


def _servers(cloud) -> list[dict[str, Any]]:
    return cloud.openstack("server", "list", "--all-projects", "--long", cloud=ADMIN)


def _wait_settled(cloud, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every server ACTIVE or ERROR (none BUILD or with a task); returns them."""
    servers: list[dict[str, Any]] = []

    def settled() -> list[dict[str, Any]] | None:
        nonlocal servers
        servers = _servers(cloud)
        done = all(s["Status"] in ("ACTIVE", "ERROR") and not s["Task State"] for s in servers)
        return servers if done else None

    return wait_until(
        settled,
        timeout,
        "every server ACTIVE or ERROR without a task",
        interval=1,
        detail=lambda: (
            f"{[(s['Name'], s['Status'], s['Task State']) for s in servers]}\n" + cloud.log()
        ),
    )


def _compute_service(cloud, host: str | None = "compute1") -> dict[str, Any]:
    """The compute service row of ``host`` (``None``: the only one) in the admin's list."""
    services = cloud.openstack("compute", "service", "list", cloud=ADMIN)
    return next(
        s for s in services if "compute" in s["Binary"] and (host is None or s["Host"] == host)
    )


def _service_state(cloud, host: str = "compute1") -> str:
    return _compute_service(cloud, host)["State"]


def _wait_service(cloud, state: str, timeout: float) -> None:
    """Until compute1's service shows ``state`` (``timeout``: the bound the test promises)."""
    wait_until(
        lambda: _service_state(cloud) == state,
        timeout,
        f"compute1 to be reported {state}",
        interval=0.5,
        detail=cloud.log,
    )


def _wait_periodic_rounds(cloud, rounds: int = 2, host: str | None = "compute1") -> None:
    """Until the compute agent has run ``rounds`` whole rounds of its periodic tasks
    (heartbeat, power-state sync, orphan sweep) from now: its heartbeat seen changing
    ``rounds + 1`` times. What "a little later" means, without a clock in the test."""
    seen = [_compute_service(cloud, host)["Updated At"]]

    def ran() -> bool:
        beat = _compute_service(cloud, host)["Updated At"]
        if beat != seen[-1]:
            seen.append(beat)
        return len(seen) > rounds + 1

    wait_until(
        ran,
        60,
        f"{rounds} rounds of the compute agent's periodic tasks",
        interval=0.5,
        detail=lambda: f"heartbeats seen: {seen}\n{cloud.log()}",
    )


def _vcpus_used(cloud) -> int:
    # the counters are gone from 2.88 on (Placement has them), as in Nova
    hypervisors = cloud.openstack(
        "--os-compute-api-version", "2.87", "hypervisor", "list", "--long", cloud=ADMIN
    )
    return sum(h["vCPUs Used"] for h in hypervisors)


def _instance_ports(cloud) -> list[Any]:
    return list(cloud.sdk(ADMIN).network.ports(device_owner="compute:nova"))


def _faults(cloud, server_id: str) -> str:
    return (_show(cloud, server_id).get("fault") or {}).get("message", "")


def _check_accounting(cloud) -> None:
    """Claims are the ACTIVE servers' (m1.tiny: 1 vCPU); only they (and still-building
    ones) hold ports."""
    servers = _servers(cloud)
    active = {s["ID"] for s in servers if s["Status"] == "ACTIVE"}
    assert _vcpus_used(cloud) == len(active), (servers, cloud.log())
    owners = {p.device_id for p in _instance_ports(cloud)}
    assert owners == active, (owners, servers)


def _delete_all(cloud) -> None:
    ids = [s["ID"] for s in _servers(cloud)]
    if ids:
        cloud.openstack("server", "delete", "--wait", *ids, cloud=ADMIN, json_output=False)
    assert _servers(cloud) == []
    assert _vcpus_used(cloud) == 0
    assert _instance_ports(cloud) == []


# ---------------------------------------------------------------------- distributed, fake


def test_compute_agent_kill9_goes_down_and_comes_back(distributed_cloud):
    dc = distributed_cloud("fake", FAST)
    cloud = dc.start()
    before = [cloud.create_server(f"before{i}", wait=True) for i in range(2)]
    assert all(s["status"] == "ACTIVE" for s in before)

    dc.kill9_compute()
    # sent before the scheduler can know the agent is gone: waits in the agent's queue
    early = cloud.create_server("early")
    _wait_service(cloud, "down", timeout=12)  # service-down-time 6 s, heartbeats every 2 s
    # once the service is down, the scheduler has no host: ERROR with No valid host
    late = cloud.wait_for_server(cloud.create_server("late")["id"], {"ERROR"})
    assert "No valid host" in _faults(cloud, late["id"])

    dc.start_compute()
    assert _service_state(cloud) == "up"
    # the build that waited in the agent's queue is settled on the agent's start-up, as Nova
    # does with builds a compute restart interrupted: ERROR with a fault, claim and ports
    # released (checked below); never BUILD forever
    early = cloud.wait_for_server(early["id"], {"ACTIVE", "ERROR"})
    assert early["status"] == "ERROR"
    assert "compute restart" in _faults(cloud, early["id"])
    for server in before:
        assert _show(cloud, server["id"])["status"] == "ACTIVE"
    after = cloud.create_server("after", wait=True)
    assert after["status"] == "ACTIVE"
    _wait_settled(cloud)
    _check_accounting(cloud)
    _delete_all(cloud)


def test_casts_to_a_down_agent_are_carried_out_when_it_returns(distributed_cloud):
    dc = distributed_cloud("fake", FAST)
    cloud = dc.start()
    running = cloud.create_server("running", wait=True)
    stopped = cloud.create_server("stopped", wait=True)
    cloud.openstack("server", "stop", stopped["id"], json_output=False)
    cloud.wait_for_server(stopped["id"], {"SHUTOFF"})
    rebooted = cloud.create_server("rebooted", wait=True)

    dc.kill9_compute()
    # the API accepts these while the agent is away; the casts wait in its durable queue
    cloud.openstack("server", "stop", running["id"], json_output=False)
    cloud.openstack("server", "start", stopped["id"], json_output=False)
    cloud.openstack("server", "reboot", rebooted["id"], json_output=False)
    _wait_service(cloud, "down", timeout=15)  # long enough for anyone else to have taken them
    assert _show(cloud, running["id"])["OS-EXT-STS:task_state"] == "powering-off"

    dc.start_compute()
    assert cloud.wait_for_server(running["id"], {"SHUTOFF"})["OS-EXT-STS:task_state"] is None
    assert cloud.wait_for_server(stopped["id"], {"ACTIVE"})["OS-EXT-STS:task_state"] is None
    assert cloud.wait_for_server(rebooted["id"], {"ACTIVE"})["OS-EXT-STS:task_state"] is None
    # and they stay so: the queued messages did not undo the settled state
    _wait_periodic_rounds(cloud)
    assert _show(cloud, running["id"])["status"] == "SHUTOFF"
    assert _show(cloud, stopped["id"])["status"] == "ACTIVE"
    _delete_all(cloud)


def test_controller_kill9_during_creates_settles_every_server(distributed_cloud):
    dc = distributed_cloud("fake", FAST)
    cloud = dc.start()
    kept = cloud.create_server("kept", wait=True)
    cloud.openstack(
        "quota",
        *("set", "--instances", "100", "--cores", "100", "--ram", "1000000", "demo"),
        cloud=ADMIN,
        json_output=False,
    )

    conn = cloud.sdk()
    image = conn.image.find_image("cirros").id
    flavor = conn.compute.find_flavor("m1.tiny").id
    network = conn.network.find_network("private").id

    created: list[int] = []
    enough = threading.Event()

    def create(i: int) -> str:
        try:
            own = cloud.sdk()
            own.compute.create_server(
                name=f"batch{i}", image_id=image, flavor_id=flavor, networks=[{"uuid": network}]
            )
            created.append(i)
            if len(created) >= 8:
                enough.set()
            return "created"
        except Exception as exc:  # the controller died under the request
            return type(exc).__name__

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(create, i) for i in range(40)]
        enough.wait(timeout=60)
        dc.kill9_controller()  # mid-batch: some created, some building, some not sent
        results = [f.result() for f in futures]
    assert "created" in results and set(results) != {"created"}, results

    dc.start_controller()
    servers = _wait_settled(cloud)
    for server in servers:  # every ERROR says why
        if server["Status"] == "ERROR":
            assert _faults(cloud, server["ID"]), server
    assert {s["Status"] for s in servers} <= {"ACTIVE", "ERROR"}
    assert _show(cloud, kept["id"])["status"] == "ACTIVE"
    _check_accounting(cloud)
    # the cloud still works
    assert cloud.create_server("after", wait=True)["status"] == "ACTIVE"
    _delete_all(cloud)


# ---------------------------------------------------------------------- embedded, qemu


def _guest_pid(state_dir, server_id, find_qemu):
    for pid in find_qemu(state_dir):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if server_id.encode() in f.read():
                return pid
    return None


def _sigint_and_wait(up, timeout: float = 10.0) -> None:
    """SIGINT to ``pocketstack up``; asserts it exits, with status 0, within ``timeout`` s."""
    assert up.proc is not None
    up.proc.send_signal(signal.SIGINT)
    try:
        code = up.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"up did not exit {timeout}s after SIGINT\n{up.cloud.log()}") from None
    assert code == 0, up.proc.stderr.read() if up.proc.stderr else code


@pytest.mark.slow
def test_ctrl_c_leaves_guests_running_or_shuts_them_down(up_process, find_qemu):
    up = up_process("qemu")
    cloud = up.start()
    vm = cloud.create_server("vm1", wait=True)
    pid = _guest_pid(up.state_dir, vm["id"], find_qemu)
    assert pid is not None

    # default: Ctrl-C leaves the guest running; the next up re-adopts it
    _sigint_and_wait(up, timeout=10)
    assert os.path.exists(f"/proc/{pid}")
    cloud = up.start()
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) == pid
    _wait_periodic_rounds(cloud, host=None)  # a power-state sync or two later: the same guest
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) == pid

    # --shutdown-instances: the guest is gone when up has exited, SHUTOFF after the restart
    up.stop()
    up.flags.append("--shutdown-instances")
    cloud = up.start()
    assert cloud.wait_for_server(vm["id"], {"ACTIVE"})["id"] == vm["id"]
    _sigint_and_wait(up, timeout=45)
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) is None
    cloud = up.start()
    assert _show(cloud, vm["id"])["status"] == "SHUTOFF"
    cloud.openstack("server", "start", vm["id"], json_output=False)
    assert cloud.wait_for_server(vm["id"], {"ACTIVE"})["status"] == "ACTIVE"
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) is not None

    cloud.openstack("server", "delete", "--wait", vm["id"], json_output=False)
    assert find_qemu(up.state_dir) == []
    assert list((up.state_dir / "instances").iterdir()) == []


@pytest.mark.slow
@pytest.mark.ci
def test_compute_agent_kill9_readopts_its_qemu_guest(distributed_cloud, find_qemu):
    dc = distributed_cloud("qemu", FAST)
    cloud = dc.start()
    vm = cloud.create_server("vm1", wait=True)
    pid = _guest_pid(dc.state_dir, vm["id"], find_qemu)
    assert pid is not None

    dc.kill9_compute()
    _wait_service(cloud, "down", timeout=12)
    assert os.path.exists(f"/proc/{pid}")  # the guest outlives its agent
    dc.start_compute()
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(dc.state_dir, vm["id"], find_qemu) == pid
    _wait_periodic_rounds(cloud)  # power-state syncs and orphan sweeps leave it alone
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(dc.state_dir, vm["id"], find_qemu) == pid

    cloud.openstack("server", "delete", "--wait", vm["id"], json_output=False)
    assert find_qemu(dc.state_dir) == []
    assert list((dc.state_dir / "instances").iterdir()) == []
    assert _instance_ports(cloud) == []


# ---------------------------------------------------------------------- two controllers


def _dsn(dc) -> str:
    return dc.flags[dc.flags.index("--database") + 1]


def _hold_port_writes(conn) -> None:
    """Hold every write to ``ports`` in a transaction of the test's own (``conn.rollback()``
    lets go): a build reaching its network step waits there, in a controller step."""
    with conn.cursor() as cur:
        cur.execute("LOCK TABLE ports IN EXCLUSIVE MODE")


def _build_row(db, server_id: str) -> tuple[str, str | None, str | None]:
    """``(vm_state, task_state, controller_id)`` of a server, read from the database."""
    with db.cursor() as cur:
        cur.execute(
            "SELECT vm_state, task_state, controller_id FROM instances WHERE uuid = %s",
            (server_id,),
        )
        return cur.fetchone()


def _wait_in_network_step(db, server_id: str, timeout: float = 60.0) -> str:
    """Wait until the server's build waits in its network step; the controller running it."""

    def owner() -> str | None:
        row = _build_row(db, server_id)
        return row[2] if row and row[1] == "networking" else None

    return wait_until(owner, timeout, f"the build of {server_id} in its network step")


def test_controllers_recover_only_the_builds_of_dead_controllers(distributed_cloud):
    import psycopg2

    dc = distributed_cloud("fake", FAST)
    cloud = dc.start()
    a = f":{dc.port}"  # controller ids are <hostname>:<API port>
    db = psycopg2.connect(_dsn(dc))
    db.autocommit = True
    hold = psycopg2.connect(_dsn(dc))
    try:
        # controller A runs a build that waits in its network step
        _hold_port_writes(hold)
        held = cloud.create_server("held")
        assert _wait_in_network_step(db, held["id"]).endswith(a)

        # B starts: its start-up recovery (done before it is ready) leaves A's build alone
        dc.start_second_controller()
        assert _build_row(db, held["id"])[:2] == ("building", "networking")
        hold.rollback()
        assert cloud.wait_for_server(held["id"], {"ACTIVE", "ERROR"})["status"] == "ACTIVE"

        # builds of both controllers wait in their network step; A is killed -9
        _hold_port_writes(hold)
        owners: dict[str, str] = {}
        for i in range(6):
            server = cloud.create_server(f"build{i}")
            owners[server["id"]] = _wait_in_network_step(db, server["id"])
            if any(o.endswith(a) for o in owners.values()) and len(owners) > 1:
                break
        of_a = [uuid for uuid, owner in owners.items() if owner.endswith(a)]
        of_b = [uuid for uuid, owner in owners.items() if not owner.endswith(a)]
        assert of_a, owners
        dc.kill9_controller()
        hold.rollback()

        # B, alive, settles A's builds once A's heartbeat is gone; its own go on
        for uuid in of_a:
            assert cloud.wait_for_server(uuid, {"ERROR"})["status"] == "ERROR"
            assert "interrupted" in _faults(cloud, uuid)
        for uuid in of_b:
            assert cloud.wait_for_server(uuid, {"ACTIVE", "ERROR"})["status"] == "ACTIVE"
        assert _show(cloud, held["id"])["status"] == "ACTIVE"
        _wait_settled(cloud)
        _check_accounting(cloud)
        assert cloud.create_server("after", wait=True)["status"] == "ACTIVE"
        _delete_all(cloud)
    finally:
        hold.close()
        db.close()
