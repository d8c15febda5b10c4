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
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

ADMIN = "pocketstack-admin"
#: a compute service is down 6 s after its last heartbeat; heartbeats every 2 s
FAST = ["--service-down-time", "6", "--periodic-interval", "2"]


# ---------------------------------------------------------------------- helpers


def _create(cloud, name: str, wait: bool = False) -> dict[str, Any]:
    args = ["server", "create", "--flavor", "m1.tiny", "--image", "cirros"]
    args += ["--network", "private", name]
    return cloud.openstack(*args, *(["--wait"] if wait else []))


def _show(cloud, name_or_id: str) -> dict[str, Any]:
    return cloud.openstack("server", "show", name_or_id)


def _wait(cloud, name_or_id: str, statuses: set[str], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    server: dict[str, Any] = {}
    while time.monotonic() < deadline:
        server = _show(cloud, name_or_id)
        if server["status"] in statuses:
            return server
        time.sleep(0.5)
    raise AssertionError(
        f"{name_or_id} stuck in {server.get('status')}/{server.get('OS-EXT-STS:task_state')}"
        f"\n{cloud.log()}"
    )


def _servers(cloud) -> list[dict[str, Any]]:
    return cloud.openstack("server", "list", "--all-projects", "--long", cloud=ADMIN)


def _wait_settled(cloud, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every server ACTIVE or ERROR (none BUILD or with a task); returns them."""
    deadline = time.monotonic() + timeout
    servers: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        servers = _servers(cloud)
        if all(s["Status"] in ("ACTIVE", "ERROR") and not s["Task State"] for s in servers):
            return servers
        time.sleep(1)
    stuck = [(s["Name"], s["Status"], s["Task State"]) for s in servers]
    raise AssertionError(f"servers not settled: {stuck}\n{cloud.log()}")


def _service_state(cloud, host: str = "compute1") -> str:
    services = cloud.openstack("compute", "service", "list", cloud=ADMIN)
    return next(s["State"] for s in services if s["Host"] == host and "compute" in s["Binary"])


def _wait_service(cloud, state: str, timeout: float) -> float:
    """Seconds until compute1's service shows ``state``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _service_state(cloud) == state:
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"compute1 not {state} after {timeout}s\n{cloud.log()}")


def _vcpus_used(cloud) -> int:
    hypervisors = cloud.openstack("hypervisor", "list", "--long", cloud=ADMIN)
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
    before = [_create(cloud, f"before{i}", wait=True) for i in range(2)]
    assert all(s["status"] == "ACTIVE" for s in before)

    dc.kill9_compute()
    # sent before the scheduler can know the agent is gone: waits in the agent's queue
    early = _create(cloud, "early")
    assert _wait_service(cloud, "down", timeout=15) < 12
    # once the service is down, the scheduler has no host: ERROR with No valid host
    late = _wait(cloud, _create(cloud, "late")["id"], {"ERROR"})
    assert "No valid host" in _faults(cloud, late["id"])

    dc.start_compute()
    assert _service_state(cloud) == "up"
    # the build that waited in the agent's queue is settled on the agent's start-up, as Nova
    # does with builds a compute restart interrupted: ERROR with a fault, claim and ports
    # released (checked below); never BUILD forever
    early = _wait(cloud, early["id"], {"ACTIVE", "ERROR"})
    assert early["status"] == "ERROR"
    assert "compute restart" in _faults(cloud, early["id"])
    for server in before:
        assert _show(cloud, server["id"])["status"] == "ACTIVE"
    after = _create(cloud, "after", wait=True)
    assert after["status"] == "ACTIVE"
    _wait_settled(cloud)
    _check_accounting(cloud)
    _delete_all(cloud)


def test_casts_to_a_down_agent_are_carried_out_when_it_returns(distributed_cloud):
    dc = distributed_cloud("fake", FAST)
    cloud = dc.start()
    running = _create(cloud, "running", wait=True)
    stopped = _create(cloud, "stopped", wait=True)
    cloud.openstack("server", "stop", stopped["id"], json_output=False)
    _wait(cloud, stopped["id"], {"SHUTOFF"})
    rebooted = _create(cloud, "rebooted", wait=True)

    dc.kill9_compute()
    # the API accepts these while the agent is away; the casts wait in its durable queue
    cloud.openstack("server", "stop", running["id"], json_output=False)
    cloud.openstack("server", "start", stopped["id"], json_output=False)
    cloud.openstack("server", "reboot", rebooted["id"], json_output=False)
    time.sleep(3)
    assert _show(cloud, running["id"])["OS-EXT-STS:task_state"] == "powering-off"

    dc.start_compute()
    assert _wait(cloud, running["id"], {"SHUTOFF"})["OS-EXT-STS:task_state"] is None
    assert _wait(cloud, stopped["id"], {"ACTIVE"})["OS-EXT-STS:task_state"] is None
    assert _wait(cloud, rebooted["id"], {"ACTIVE"})["OS-EXT-STS:task_state"] is None
    # and they stay so: the queued messages did not undo the settled state
    time.sleep(3)
    assert _show(cloud, running["id"])["status"] == "SHUTOFF"
    assert _show(cloud, stopped["id"])["status"] == "ACTIVE"
    _delete_all(cloud)


def test_controller_kill9_during_creates_settles_every_server(distributed_cloud):
    dc = distributed_cloud("fake", FAST)
    cloud = dc.start()
    kept = _create(cloud, "kept", wait=True)
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
    assert _create(cloud, "after", wait=True)["status"] == "ACTIVE"
    _delete_all(cloud)


# ---------------------------------------------------------------------- embedded, qemu


def _guest_pid(state_dir, server_id, find_qemu):
    for pid in find_qemu(state_dir):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if server_id.encode() in f.read():
                return pid
    return None


def _sigint_and_wait(up, timeout: float = 10.0) -> float:
    """SIGINT to ``pocketstack up``; the seconds it took to exit (asserts exit status 0)."""
    assert up.proc is not None
    started = time.monotonic()
    up.proc.send_signal(signal.SIGINT)
    try:
        code = up.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"up did not exit {timeout}s after SIGINT\n{up.cloud.log()}") from None
    assert code == 0, up.proc.stderr.read() if up.proc.stderr else code
    return time.monotonic() - started


@pytest.mark.slow
def test_ctrl_c_leaves_guests_running_or_shuts_them_down(up_process, find_qemu):
    up = up_process("qemu")
    cloud = up.start()
    vm = _create(cloud, "vm1", wait=True)
    pid = _guest_pid(up.state_dir, vm["id"], find_qemu)
    assert pid is not None

    # default: Ctrl-C leaves the guest running; the next up re-adopts it
    assert _sigint_and_wait(up) < 10
    assert os.path.exists(f"/proc/{pid}")
    cloud = up.start()
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) == pid
    time.sleep(5)  # a power-state sync or two later it is still the same guest
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) == pid

    # --shutdown-instances: the guest is gone when up has exited, SHUTOFF after the restart
    up.stop()
    up.flags.append("--shutdown-instances")
    cloud = up.start()
    assert _wait(cloud, vm["id"], {"ACTIVE"})["id"] == vm["id"]
    assert _sigint_and_wait(up, timeout=45) < 45
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) is None
    cloud = up.start()
    assert _show(cloud, vm["id"])["status"] == "SHUTOFF"
    cloud.openstack("server", "start", vm["id"], json_output=False)
    assert _wait(cloud, vm["id"], {"ACTIVE"})["status"] == "ACTIVE"
    assert _guest_pid(up.state_dir, vm["id"], find_qemu) is not None

    cloud.openstack("server", "delete", "--wait", vm["id"], json_output=False)
    assert find_qemu(up.state_dir) == []
    assert list((up.state_dir / "instances").iterdir()) == []


@pytest.mark.slow
def test_compute_agent_kill9_readopts_its_qemu_guest(distributed_cloud, find_qemu):
    dc = distributed_cloud("qemu", FAST)
    cloud = dc.start()
    vm = _create(cloud, "vm1", wait=True)
    pid = _guest_pid(dc.state_dir, vm["id"], find_qemu)
    assert pid is not None

    dc.kill9_compute()
    assert _wait_service(cloud, "down", timeout=15) < 12
    assert os.path.exists(f"/proc/{pid}")  # the guest outlives its agent
    dc.start_compute()
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(dc.state_dir, vm["id"], find_qemu) == pid
    time.sleep(5)  # power-state syncs and orphan sweeps leave the re-adopted guest alone
    assert _show(cloud, vm["id"])["status"] == "ACTIVE"
    assert _guest_pid(dc.state_dir, vm["id"], find_qemu) == pid

    cloud.openstack("server", "delete", "--wait", vm["id"], json_output=False)
    assert find_qemu(dc.state_dir) == []
    assert list((dc.state_dir / "instances").iterdir()) == []
    assert _instance_ports(cloud) == []
