"""Object storage in the lab: ``pocketstack up --hosts 2`` (a lab with its own prefix, the
fake compute driver: no guests) runs one storage node per host inside the host's namespace
on its underlay address, with its devices under the host's state directory; the ring names
those addresses and the controller's proxy reaches them over the lab's underlay. Objects
uploaded through the proxy have their 3 replicas on both hosts' nodes (counted on disk), and
every object still reads with host2's node killed. A restart of ``up`` adopts the
ring and the data.

Packets go only between the root namespace's underlay address and the lab's namespaces.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from pocketstack.objectstore.ring import Ring
from tests.helpers import wait_until

OBJECTS = 24


def _node_pids(netns: str) -> list[int]:
    """Pids of the ``pocketstack object-node`` processes inside ``netns``."""
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
    pids = []
    for pid in map(int, out.split()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"object-node" in argv:
            pids.append(pid)
    return pids


def _created(conn, container: str) -> bool:
    """Create ``container``; False while the nodes (just started) do not answer yet."""
    from openstack import exceptions

    try:
        conn.object_store.create_container(container)
    except exceptions.HttpException:
        return False
    return True


def _listing(conn, container: str) -> list[str] | None:
    """The object names of ``container``; None while the nodes do not answer yet."""
    from openstack import exceptions

    try:
        return sorted(o.name for o in conn.object_store.objects(container))
    except exceptions.HttpException:
        return None


def _replicas(host_state: Path) -> dict[str, int]:
    """``{object hash: .data files}`` under a host's storage node's devices."""
    found: dict[str, int] = {}
    for path in (host_state / "objects").glob("*/objects/*/*/*/*.data"):
        found[path.parent.name] = found.get(path.parent.name, 0) + 1
    return found


@pytest.mark.slow
@pytest.mark.ci
@pytest.mark.timeout(300)
def test_lab_hosts_hold_the_replicas_and_a_dead_node_loses_nothing(up_process):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    up = up_process("fake", ["--hosts", "2", "--lab-prefix", prefix])
    state = up.state_dir
    try:
        cloud = up.start()
        ring_file = state / "objects" / "object.ring.gz"
        ring = Ring(ring_file)
        assert ring.replica_count == 3
        devs = [d for d in ring.devs if d]
        assert {(d["ip"], d["zone"]) for d in devs} == {("10.255.0.11", 1), ("10.255.0.12", 2)}
        assert len(devs) == 4  # two devices a node, so 3 replicas fit on 2 hosts
        nodes = {h.hostname: _node_pids(h.netns) for h in lab.hosts}
        assert all(len(pids) == 1 for pids in nodes.values()), nodes

        demo = cloud.sdk()
        wait_until(lambda: _created(demo, "labbox"), 60, "the proxy reaching the nodes")
        payloads = {f"obj-{i:02d}": os.urandom(1000 + i) for i in range(OBJECTS)}
        for name, data in payloads.items():
            demo.object_store.upload_object(container="labbox", name=name, data=data)

        host1, host2 = (state / "hosts" / h for h in ("host1", "host2"))

        def placed() -> tuple[dict[str, int], dict[str, int]] | None:
            one, two = _replicas(host1), _replicas(host2)
            total = sum(one.values()) + sum(two.values())
            return (one, two) if total == 3 * OBJECTS else None

        one, two = wait_until(placed, 30, "3 replicas of every object on disk")
        # every object has a replica on each host (zones = hosts), none 3 on one
        assert len(one) == OBJECTS and len(two) == OBJECTS
        assert all(one[h] + two[h] == 3 for h in one)

        os.kill(nodes["host2"][0], signal.SIGKILL)
        wait_until(lambda: not _node_pids(lab.host("host2").netns), 10, "host2's node gone")
        for name, data in payloads.items():
            assert demo.object_store.download_object(name, container="labbox") == data

        ring_bytes = ring_file.read_bytes()
        up.stop()  # stops the nodes and removes the lab with its underlay link
        assert not lab.exists()
        cloud = up.start()  # adopts the ring and the data; both nodes serve again
        assert ring_file.read_bytes() == ring_bytes
        assert all(len(_node_pids(h.netns)) == 1 for h in lab.hosts)
        demo = cloud.sdk()
        names = wait_until(
            lambda: _listing(demo, "labbox"), 60, "the container listing after a restart"
        )
        assert names == sorted(payloads)
        for name, data in payloads.items():
            assert demo.object_store.download_object(name, container="labbox") == data
        up.stop()
        assert not lab.exists()
    finally:
        up.stop()
        lab.teardown()
