"""Object storage through the real clients against a running cloud (``pocketstack up`` with
its three embedded storage nodes): python-swiftclient's ``swift`` command (upload with
``--segment-size``, download, list, stat, post, delete), ``openstack container/object`` and
openstacksdk's object_store, and project isolation."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import yaml

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def swift(cloud, *args: str, name: str = "pocketstack-demo", cwd: Path | None = None):
    """Run ``swift <args>`` with the Keystone v3 credentials of ``name`` in clouds.yaml."""
    auth = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"][name]["auth"]
    env = cloud.env()
    env.update(
        OS_AUTH_URL=auth["auth_url"],
        OS_USERNAME=auth["username"],
        OS_PASSWORD=auth["password"],
        OS_PROJECT_NAME=auth["project_name"],
        OS_USER_DOMAIN_NAME=auth.get("user_domain_name", "Default"),
        OS_PROJECT_DOMAIN_NAME=auth.get("project_domain_name", "Default"),
        OS_IDENTITY_API_VERSION="3",
    )
    proc = subprocess.run(
        [str(VENV_BIN / "swift"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"swift {args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_swift_cli_segmented_upload_round_trip(running_cloud, tmp_path):
    big = tmp_path / "up" / "big.bin"
    big.parent.mkdir()
    data = os.urandom(50 * 1024 * 1024 + 123)  # the 50 MB, in 6 segments
    big.write_bytes(data)
    swift(running_cloud, "upload", "cli", "big.bin", "--segment-size", "10485760", cwd=big.parent)
    assert "big.bin" in swift(running_cloud, "list", "cli")
    assert "cli_segments" in swift(running_cloud, "list")
    stat = swift(running_cloud, "stat", "cli", "big.bin")
    assert "Manifest" in stat or "static" in stat.lower()
    swift(running_cloud, "post", "cli", "big.bin", "-m", "color:blue")
    assert "Color: blue" in swift(running_cloud, "stat", "cli", "big.bin")
    out = tmp_path / "down"
    out.mkdir()
    swift(running_cloud, "download", "cli", "big.bin", cwd=out)
    assert hashlib.md5((out / "big.bin").read_bytes()).digest() == hashlib.md5(data).digest()
    swift(running_cloud, "delete", "cli", "big.bin")
    assert "big.bin" not in swift(running_cloud, "list", "cli")
    assert swift(running_cloud, "list", "cli_segments").strip() == ""


def test_openstack_cli_container_and_objects(running_cloud, tmp_path):
    cloud = running_cloud
    cloud.openstack("container", "create", "osc")
    src = tmp_path / "hello.txt"
    src.write_text("hello from the openstack CLI\n")
    created = cloud.openstack("object", "create", "osc", str(src))
    assert created[0]["object"] == str(src)
    listed = cloud.openstack("object", "list", "osc")
    assert [o["Name"] for o in listed] == [str(src)]
    saved = tmp_path / "saved.txt"
    cloud.openstack("object", "save", "osc", str(src), "--file", str(saved), json_output=False)
    assert saved.read_text() == src.read_text()
    shown = cloud.openstack("container", "show", "osc")
    assert int(shown["object_count"]) == 1


def test_sdk_object_store_and_isolation(running_cloud):
    demo = running_cloud.sdk("pocketstack-demo")
    admin = running_cloud.sdk("pocketstack-admin")
    demo.object_store.create_container("sdkbox")
    demo.object_store.upload_object(container="sdkbox", name="a", data=b"payload")
    assert demo.object_store.download_object("a", container="sdkbox") == b"payload"
    assert [o.name for o in demo.object_store.objects("sdkbox")] == ["a"]
    # the admin's own account does not see demo's containers
    assert "sdkbox" not in [c.name for c in admin.object_store.containers()]
    demo.object_store.delete_object("a", container="sdkbox")
    demo.object_store.delete_container("sdkbox")


def test_another_project_is_refused(running_cloud):
    import httpx

    demo = running_cloud.sdk("pocketstack-demo")
    demo.object_store.create_container("mine")
    url = demo.object_store.get_endpoint()
    other = running_cloud.sdk("pocketstack-admin")
    token = other.auth_token
    # the admin role may reach any account; a token of another project without admin may not
    assert httpx.get(url + "/mine", headers={"X-Auth-Token": token}).status_code in (200, 204)
    assert httpx.get(url + "/mine").status_code == 401
    demo.object_store.delete_container("mine")


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
