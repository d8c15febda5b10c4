"""Concurrent server creates against a small host never overcommit it (issue 2, section 4:
atomic claims). Real processes, real clients, fake driver.

The host reports 2 vCPUs, 2048 MiB and 10 GiB; with the default allocation ratios (CPU 4.0,
RAM 1.5 less 512 MiB reserved, disk 1.0) it holds exactly 8 m1.tiny servers
(1 vCPU / 256 MiB / 1 GiB): CPU is the bound.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.helpers import wait_until

CAPACITY = 8
REQUESTS = 20


def _settled(conn, ids, timeout=120.0):
    servers: list = []

    def settled() -> list | None:
        nonlocal servers
        servers = [conn.compute.get_server(i) for i in ids]
        return servers if all(s.status in ("ACTIVE", "ERROR") for s in servers) else None

    return wait_until(
        settled,
        timeout,
        "every server ACTIVE or ERROR",
        interval=0.5,
        detail=lambda: str([s.status for s in servers]),
    )


def _hypervisors(admin) -> list[dict]:
    """The hypervisors' usage counters, which Nova shows up to microversion 2.87 (Placement
    has them from 2.88 on)."""
    resp = admin.compute.get("/os-hypervisors/detail", microversion="2.87")
    return resp.json()["hypervisors"]


def test_concurrent_creates_fill_a_small_host_exactly(cloud_launcher, tmp_path):
    small = ["--compute-vcpus", "2", "--compute-memory-mb", "2048", "--compute-disk-gb", "10"]
    with cloud_launcher(tmp_path / "state", driver="fake", extra=small) as cloud:
        cloud.openstack(
            "quota",
            "set",
            "--instances",
            "50",
            "--cores",
            "100",
            "--ram",
            "100000",
            "demo",
            cloud="pocketstack-admin",
            json_output=False,
        )
        demo = cloud.sdk()
        flavor = demo.compute.find_flavor("m1.tiny")
        image = demo.image.find_image("cirros")
        net = demo.network.find_network("private")

        def create(i: int) -> str:
            conn = cloud.sdk()  # one connection per thread
            server = conn.compute.create_server(
                name=f"c{i}", flavor_id=flavor.id, image_id=image.id, networks=[{"uuid": net.id}]
            )
            return server.id

        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            ids = list(pool.map(create, range(REQUESTS)))
        servers = _settled(demo, ids)

        active = [s for s in servers if s.status == "ACTIVE"]
        failed = [s for s in servers if s.status == "ERROR"]
        assert len(active) == CAPACITY
        assert len(failed) == REQUESTS - CAPACITY
        assert all("No valid host was found" in s.fault["message"] for s in failed)

        admin = cloud.sdk("pocketstack-admin")
        (hyp,) = _hypervisors(admin)
        assert hyp["vcpus_used"] == CAPACITY
        assert hyp["memory_mb_used"] == CAPACITY * 256  # claimed by servers (reserve not counted)
        assert hyp["running_vms"] == CAPACITY

        for server in servers:
            demo.compute.delete_server(server)
        for server in servers:
            demo.compute.wait_for_delete(server, wait=60)
        (hyp,) = _hypervisors(admin)
        assert hyp["vcpus_used"] == 0 and hyp["running_vms"] == 0
        assert list(demo.network.ports(device_owner="compute:nova")) == []
