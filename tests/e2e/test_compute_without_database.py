"""A compute host holds no database credentials (ARCHITECTURE.md; as nova-compute reaches the
database only through nova-conductor): ``pocketstack compute`` runs with the bus only, on a
state directory of its own as on another machine, and still boots servers, downloading the
image with the compute service user's token.

Always distributed: PostgreSQL + RabbitMQ, ``pocketstack controller`` and ``pocketstack
compute`` as separate processes (whatever ``POCKETSTACK_TEST_MODE``).
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import PG_ADMIN_URL


def _proc_strings(pid: int, what: str) -> list[str]:
    raw = Path(f"/proc/{pid}/{what}").read_bytes()
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def test_a_compute_agent_without_database_credentials_boots_a_server(distributed_cloud):
    dc = distributed_cloud("fake", own_compute_state=True)
    cloud = dc.start()
    assert dc.compute is not None

    # nothing of the database reaches the compute process: not its command line, not its
    # environment, not its configuration
    cmdline = _proc_strings(dc.compute.pid, "cmdline")
    environ = _proc_strings(dc.compute.pid, "environ")
    assert "compute" in cmdline and "--transport" in cmdline
    for text in (*cmdline, *environ):
        assert "--database" not in text and "POCKETSTACK_DATABASE" not in text, text
        assert "postgresql" not in text and PG_ADMIN_URL not in text, text
    assert not (dc.compute_state_dir / "pocketstack.toml").exists()

    server = cloud.create_server("no-db-host", wait=True)
    assert server["status"] == "ACTIVE"
    shown = cloud.openstack("server", "show", server["id"], cloud="pocketstack-admin")
    assert shown["OS-EXT-SRV-ATTR:host"] == "compute1"

    # the image is not in the compute host's state directory: it was downloaded from the
    # Image API with the service user's token (no user's token travels with the spec)
    image = cloud.openstack("image", "show", "cirros")
    cached = dc.compute_state_dir / "images" / "cache" / image["id"]
    assert cached.is_file() and cached.stat().st_size == image["size"]

    # the agent's reports reached the conductor: the spawn step is recorded, power actions
    # and the delete go through it too
    events = cloud.openstack("server", "event", "list", server["id"])
    request_id = next(e["Request ID"] for e in events if e["Action"] == "create")
    steps = cloud.openstack("server", "event", "show", server["id"], request_id)["events"]
    spawn = next(s for s in steps if s["event"] == "compute__spawn")
    assert spawn["result"] == "Success"
    cloud.openstack("server", "stop", server["id"], json_output=False)
    assert cloud.wait_for_server(server["id"], "SHUTOFF")["status"] == "SHUTOFF"
    cloud.openstack("server", "start", server["id"], json_output=False)
    assert cloud.wait_for_server(server["id"], "ACTIVE")["status"] == "ACTIVE"
    cloud.openstack("server", "delete", "--wait", server["id"], json_output=False)
    assert cloud.openstack("server", "list") == []
