"""Ansible's openstack.cloud collection against a running cloud (the fake compute driver).

``ansible/site.yml`` creates a keypair, network, subnet, security group with a rule, router
(the subnet as its interface, the ``public`` external network as its gateway when the cloud
has one) and server; run a second time it must report no change in any task: each module
compares what it asked for with what the API shows, so a field missing or shaped otherwise
than OpenStack's shows as a change (or a failure). ``ansible/teardown.yml`` then deletes it
all (``state: absent``), and openstacksdk must find nothing of it left.

The collection comes from the ``ansible`` PyPI package (which bundles ``openstack.cloud``),
pinned with ``ansible-core`` in pyproject.toml's test extras. ``ansible-playbook`` runs as
a subprocess on the venv's Python, on localhost only (``connection: local``, no facts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

PLAYBOOKS = Path(__file__).parent / "ansible"
#: on the modules' PYTHONPATH: openstack.cloud 2.5.0 needs openstack.version imported
SDK_COMPAT = PLAYBOOKS / "sdk_compat"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

pytestmark = pytest.mark.skipif(
    not ANSIBLE_PLAYBOOK.exists(), reason="ansible (the test extras) is not installed"
)


def _public_key() -> str:
    """An OpenSSH ed25519 public key with a comment and the trailing newline a ``.pub``
    file has (the keypair module compares it with what the API returns)."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " ansible@test\n"


def _playbook(cloud, tmp_path: Path, name: str, extra: dict[str, Any]) -> dict[str, Any]:
    """``ansible-playbook <name>`` with ``extra`` as its variables; the ``json`` callback's
    report (``plays[].tasks[].hosts.localhost`` per task, ``stats``). Fails with the
    output when the playbook fails."""
    home = tmp_path / "ansible-home"
    home.mkdir(exist_ok=True)
    config = tmp_path / "ansible.cfg"  # none of the user's or /etc's
    config.write_text("[defaults]\n")
    variables = tmp_path / f"{name}.vars.json"
    variables.write_text(json.dumps(extra))
    env = cloud.env()
    env.update(
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(home / "tmp"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_CONFIG=str(config),
        PYTHONPATH=str(SDK_COMPAT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), str(PLAYBOOKS / name), "-e", f"@{variables}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"{name}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    if proc.returncode != 0:
        failed = {
            task["task"]["name"]: task["hosts"]["localhost"]
            for play in report["plays"]
            for task in play["tasks"]
            if task["hosts"].get("localhost", {}).get("failed")
        }
        pytest.fail(
            f"{name}: exit {proc.returncode}\n{json.dumps(failed, indent=1)[:20000]}\n"
            f"{proc.stderr[-5000:]}\n{cloud.log()[-5000:]}"
        )
    return report


def _changed_tasks(report: dict[str, Any]) -> dict[str, Any]:
    """Each task that reported a change: its name -> its module's result."""
    return {
        task["task"]["name"]: task["hosts"]["localhost"]
        for play in report["plays"]
        for task in play["tasks"]
        if task["hosts"].get("localhost", {}).get("changed")
    }


def _left(conn, prefix: str) -> list[str]:
    """What of the playbook's resources openstacksdk still finds (``kind name``)."""
    found = []
    kinds = [
        ("server", conn.compute.servers()),
        ("keypair", conn.compute.keypairs()),
        ("network", conn.network.networks()),
        ("subnet", conn.network.subnets()),
        ("security group", conn.network.security_groups()),
        ("router", conn.network.routers()),
        ("port", conn.network.ports()),
    ]
    for kind, listed in kinds:
        found += [f"{kind} {r.name or r.id}" for r in listed if (r.name or "").startswith(prefix)]
    return found


@pytest.mark.slow  # ~30-40 s: four playbooks, each module a Python process importing the SDK
def test_playbook_creates_is_idempotent_and_tears_down(running_cloud, tmp_path):
    cloud = running_cloud
    conn = cloud.sdk()
    prefix = f"ans-{uuid.uuid4().hex[:6]}"
    public = conn.network.find_network("public")
    variables = {
        "cloud": "pocketstack-demo",
        "prefix": prefix,
        "public_key": _public_key(),
        "image": "cirros",
        "flavor": "m1.tiny",
        "external_network": "public" if public is not None and public.is_router_external else "",
    }
    try:
        first = _playbook(cloud, tmp_path, "site.yml", variables)
        made = _changed_tasks(first)
        assert sorted(made) == sorted(
            [
                "Keypair",
                "Network",
                "Subnet",
                "Security group",
                "Security group rule",
                "Security group rule from its own members",
                "Router",
                "Server",
            ]
        ), made
        server = conn.compute.find_server(f"{prefix}-server")
        assert server is not None and server.status == "ACTIVE"
        server = conn.compute.get_server(server.id)
        assert server.description == "made by Ansible"
        assert sorted(server.tags) == ["ansible", "web"]
        assert server.metadata == {"role": "web"}
        assert server.key_name == f"{prefix}-key"
        assert [g["name"] for g in server.security_groups] == [f"{prefix}-sg"]
        subnet = conn.network.find_subnet(f"{prefix}-subnet")
        assert subnet.allocation_pools == [{"start": "10.77.0.100", "end": "10.77.0.199"}]
        assert subnet.host_routes == [{"destination": "192.168.77.0/24", "nexthop": "10.77.0.254"}]
        router = conn.network.find_router(f"{prefix}-router")
        if variables["external_network"]:
            assert router.external_gateway_info["network_id"] == public.id

        second = _playbook(cloud, tmp_path, "site.yml", variables)
        assert _changed_tasks(second) == {}
        assert second["stats"]["localhost"]["changed"] == 0
    finally:
        _playbook(cloud, tmp_path, "teardown.yml", variables)
    assert _left(conn, prefix) == []
    # and nothing left to delete: a second teardown changes nothing
    assert _changed_tasks(_playbook(cloud, tmp_path, "teardown.yml", variables)) == {}
