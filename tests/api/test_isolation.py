"""Isolation between projects across services, through the real clients.

demo creates a server, a network, a private image, a keypair and a security group; a third
project ``other`` (a member user of its own) must get 404 for each and never see them listed,
nor put a port on demo's network. Admin sees demo's server with ``--all-projects``; ``other``
gets 403 for it. A reader in demo lists demo's servers but may not create or delete.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunningCloud

ADMIN = "pocketstack-admin"
DEMO = "pocketstack-demo"
OTHER = "iso-other"
READER = "iso-reader"


def _name(prefix: str) -> str:
    return f"iso-{prefix}-{uuid.uuid4().hex[:8]}"


def clouds_with(
    cloud: RunningCloud, tmp_dir: Path, extra: dict[str, tuple[str, str, str]]
) -> RunningCloud:
    """A handle on the same cloud whose clouds.yaml (a copy in ``tmp_dir``; the shared file is
    left alone) has extra clouds ``{cloud_name: (username, password, project_name)}``."""
    config = yaml.safe_load(cloud.clouds_yaml.read_text())
    template = config["clouds"][DEMO]
    for cloud_name, (user, password, project) in extra.items():
        config["clouds"][cloud_name] = {
            **template,
            "auth": {
                **template["auth"],
                "username": user,
                "password": password,
                "project_name": project,
            },
        }
    (tmp_dir / "clouds.yaml").write_text(yaml.safe_dump(config))
    return RunningCloud(cloud.url, tmp_dir, [])


def _fails(cloud: RunningCloud, *args: str, cloud_name: str) -> str:
    return _refused(cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False))


def _refused(proc: Any) -> str:
    """The stderr of a CLI command that had to fail."""
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


@pytest.fixture(scope="module")
def clouds(running_cloud, tmp_path_factory):
    """``running_cloud`` plus ``iso-other`` (member of a new project) and ``iso-reader``
    (reader in demo) in a private clouds.yaml; the users and the project are deleted after."""
    cli = running_cloud.openstack
    project, other_user, reader_user = _name("proj"), _name("other"), _name("reader")
    password = uuid.uuid4().hex
    cli("project", "create", project, cloud=ADMIN)
    try:
        for user, proj, role in ((other_user, project, "member"), (reader_user, "demo", "reader")):
            cli("user", "create", "--project", proj, "--password", password, user, cloud=ADMIN)
            cli(
                "role",
                "add",
                "--project",
                proj,
                "--user",
                user,
                role,
                cloud=ADMIN,
                json_output=False,
            )
        yield clouds_with(
            running_cloud,
            tmp_path_factory.mktemp("iso"),
            {OTHER: (other_user, password, project), READER: (reader_user, password, "demo")},
        )
    finally:
        for user in (other_user, reader_user):
            cli("user", "delete", user, cloud=ADMIN, check=False, json_output=False)
        cli("project", "delete", project, cloud=ADMIN, check=False, json_output=False)


@pytest.fixture(scope="module")
def demo_things(clouds, tmp_path_factory):
    """What demo owns: ids of a server, a network (with a subnet), a private image, a
    security group, and a keypair's name. Everything is deleted after."""
    cli = clouds.openstack
    things: dict[str, str] = {}
    disk = tmp_path_factory.mktemp("iso-img") / "disk.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    try:
        things["network"] = cli("network", "create", _name("net"))["id"]
        cli(
            "subnet",
            "create",
            "--network",
            things["network"],
            "--subnet-range",
            "10.77.0.0/24",
            _name("subnet"),
        )
        things["image"] = cli(
            "image",
            "create",
            "--private",
            "--file",
            str(disk),
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            _name("img"),
        )["id"]
        things["keypair"] = _name("key")
        cli("keypair", "create", things["keypair"], json_output=False)
        things["security_group"] = cli("security", "group", "create", _name("sg"))["id"]
        things["server"] = clouds.create_server(_name("vm"), wait=True)["id"]
        yield things
    finally:

        def drop(*args: str) -> None:
            cli(*args, check=False, json_output=False)

        if "server" in things:
            drop("server", "delete", "--wait", things["server"])
        if "security_group" in things:
            drop("security", "group", "delete", things["security_group"])
        drop("keypair", "delete", things.get("keypair", "-"))
        if "image" in things:
            drop("image", "delete", things["image"])
        if "network" in things:
            drop("network", "delete", things["network"])


def _status(conn, service: str, path: str) -> int:
    return getattr(conn, service).get(path, raise_exc=False).status_code


def test_other_project_gets_404_for_each_of_demos_resources(clouds, demo_things):
    demo, other = clouds.sdk(), clouds.sdk(OTHER)
    for service, path in (
        ("compute", f"/servers/{demo_things['server']}"),
        ("compute", f"/os-keypairs/{demo_things['keypair']}"),
        ("network", f"/networks/{demo_things['network']}"),
        ("network", f"/security-groups/{demo_things['security_group']}"),
        ("image", f"/images/{demo_things['image']}"),
    ):
        assert _status(demo, service, path) == 200, path  # the path is right for demo
        assert _status(other, service, path) == 404, path
    for args in (
        ("server", "show", demo_things["server"]),
        ("network", "show", demo_things["network"]),
        ("image", "show", demo_things["image"]),
        ("security", "group", "show", demo_things["security_group"]),
        ("keypair", "show", demo_things["keypair"]),
    ):
        _fails(clouds, *args, cloud_name=OTHER)


def test_other_project_lists_none_of_demos_resources(clouds, demo_things):
    def ids(*args: str) -> set[str]:
        return {row.get("ID") or row.get("Name") for row in clouds.openstack(*args, cloud=OTHER)}

    assert demo_things["server"] not in ids("server", "list")
    assert demo_things["network"] not in ids("network", "list")
    assert demo_things["image"] not in ids("image", "list")
    assert demo_things["security_group"] not in ids("security", "group", "list")
    assert demo_things["keypair"] not in ids("keypair", "list")
    demo_sgs = {row["ID"] for row in clouds.openstack("security", "group", "list")}
    assert not demo_sgs & ids("security", "group", "list")
    other = clouds.sdk(OTHER)
    assert demo_things["network"] not in {p.network_id for p in other.network.ports()}


def test_other_project_cannot_use_demos_private_network(clouds, demo_things):
    other = clouds.sdk(OTHER)
    demo_private = clouds.openstack("network", "show", "private")["id"]
    ports_before = {p.id for p in clouds.sdk().network.ports(network_id=demo_private)}
    for network_id in (demo_things["network"], demo_private):
        resp = other.network.post(
            "/ports", json={"port": {"network_id": network_id}}, raise_exc=False
        )
        assert resp.status_code == 404, resp.text
        assert resp.json()["NeutronError"]["type"] == "NetworkNotFound"
    _fails(clouds, "port", "create", "--network", demo_private, _name("port"), cloud_name=OTHER)
    assert all(p.network_id != demo_private for p in other.network.ports())
    assert ports_before == {p.id for p in clouds.sdk().network.ports(network_id=demo_private)}


def test_all_projects_is_admin_only(clouds, demo_things):
    everyone = clouds.openstack("server", "list", "--all-projects", cloud=ADMIN)
    assert demo_things["server"] in {s["ID"] for s in everyone}
    assert "403" in _fails(clouds, "server", "list", "--all-projects", cloud_name=OTHER)
    other = clouds.sdk(OTHER)
    assert _status(other, "compute", "/servers/detail?all_tenants=1") == 403
    assert _status(clouds.sdk(ADMIN), "compute", "/servers/detail?all_tenants=1") == 200


def test_reader_reads_but_cannot_create_or_delete(clouds, demo_things, tmp_path):
    listed = clouds.openstack("server", "list", cloud=READER)
    assert demo_things["server"] in {s["ID"] for s in listed}
    assert (
        clouds.openstack("server", "show", demo_things["server"], cloud=READER)["id"]
        == demo_things["server"]
    )
    assert demo_things["network"] in {
        n["ID"] for n in clouds.openstack("network", "list", cloud=READER)
    }
    refused = _name("vm")
    stderr = _refused(clouds.create_server(refused, cloud=READER, check=False))
    assert "403" in stderr
    assert "403" in _fails(clouds, "server", "delete", demo_things["server"], cloud_name=READER)
    assert clouds.openstack("server", "show", demo_things["server"])["status"] == "ACTIVE"
    assert "403" in _fails(clouds, "network", "create", _name("net"), cloud_name=READER)
    assert "403" in _fails(clouds, "security", "group", "create", _name("sg"), cloud_name=READER)
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    assert "403" in _fails(
        clouds,
        "image",
        "create",
        "--file",
        str(disk),
        "--disk-format",
        "raw",
        _name("img"),
        cloud_name=READER,
    )
    assert refused not in {s["Name"] for s in clouds.openstack("server", "list")}
