"""Object storage through the real clients against a running cloud (``pocketstack up`` with
its three embedded storage nodes): python-swiftclient's ``swift`` command (upload with
``--segment-size``, download, list, stat, post, delete), ``openstack container/object`` and
openstacksdk's object_store, and project isolation."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
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


@pytest.fixture(scope="module")
def others(running_cloud, tmp_path_factory):
    """``swift-other`` (member of a new project) and ``swift-reader`` (reader in demo) as
    clouds of a private clouds.yaml; removed after."""
    from tests.api.test_isolation import clouds_with

    cli = running_cloud.openstack
    suffix = uuid.uuid4().hex[:8]
    project, other, reader = f"swift-p-{suffix}", f"swift-o-{suffix}", f"swift-r-{suffix}"
    password = uuid.uuid4().hex
    project_id = cli("project", "create", project, cloud="pocketstack-admin")["id"]
    try:
        for user, proj, role in ((other, project, "member"), (reader, "demo", "reader")):
            cli(
                "user",
                "create",
                "--project",
                proj,
                "--password",
                password,
                user,
                cloud="pocketstack-admin",
            )
            cli(
                "role",
                "add",
                "--project",
                proj,
                "--user",
                user,
                role,
                cloud="pocketstack-admin",
                json_output=False,
            )
        handle = clouds_with(
            running_cloud,
            tmp_path_factory.mktemp("swift-iso"),
            {"swift-other": (other, password, project), "swift-reader": (reader, password, "demo")},
        )
        yield handle, project_id
    finally:
        for user in (other, reader):
            cli("user", "delete", user, cloud="pocketstack-admin", check=False, json_output=False)
        cli("project", "delete", project, cloud="pocketstack-admin", check=False, json_output=False)


def test_projects_are_isolated_until_an_acl_says_otherwise(running_cloud, others):
    import httpx

    handle, other_project = others
    demo = running_cloud.sdk("pocketstack-demo")
    demo.object_store.create_container("iso")
    demo.object_store.upload_object(container="iso", name="doc", data=b"demo's")
    url = demo.object_store.get_endpoint()
    other = handle.sdk("swift-other")
    reader = handle.sdk("swift-reader")
    assert other.object_store.get_endpoint() != url  # its own account
    as_other = {"X-Auth-Token": other.auth_token}
    as_reader = {"X-Auth-Token": reader.auth_token}
    try:
        assert httpx.get(url, headers=as_other).status_code == 403
        assert httpx.get(url + "/iso", headers=as_other).status_code == 403
        assert httpx.get(url + "/iso/doc", headers=as_other).status_code == 403
        assert httpx.get(url + "/iso/doc").status_code == 401
        assert "iso" not in [c.name for c in other.object_store.containers()]
        # demo's reader reads but does not write
        assert httpx.get(url + "/iso/doc", headers=as_reader).content == b"demo's"
        assert httpx.put(url + "/iso/new", headers=as_reader, content=b"x").status_code == 403
        # an ACL naming the other project lets its members read, and only read
        demo.object_store.set_container_metadata("iso", read_ACL=f"{other_project}:*")
        assert httpx.get(url + "/iso/doc", headers=as_other).content == b"demo's"
        assert httpx.put(url + "/iso/doc", headers=as_other, content=b"x").status_code == 403
    finally:
        demo.object_store.delete_object("doc", container="iso")
        demo.object_store.delete_container("iso")


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_swift_tempurl_is_bound_to_method_path_and_time(running_cloud):
    import time
    from urllib.parse import urlsplit

    import httpx

    demo = running_cloud.sdk("pocketstack-demo")
    demo.object_store.create_container("tmp")
    demo.object_store.upload_object(container="tmp", name="f", data=b"signed")
    endpoint = demo.object_store.get_endpoint()  # .../object-store/v1/AUTH_<project>
    swift(running_cloud, "post", "-m", "Temp-URL-Key:s3cret")
    account_path = urlsplit(endpoint).path[len("/object-store") :]
    base = endpoint[: -len(account_path)]
    try:
        signed = swift(
            running_cloud, "tempurl", "GET", "60", f"{account_path}/tmp/f", "s3cret"
        ).strip()
        assert httpx.get(base + signed).content == b"signed"
        assert httpx.put(base + signed, content=b"x").status_code == 401
        other = signed.replace("/tmp/f?", "/tmp/g?")
        assert httpx.get(base + other).status_code == 401
        expiring = swift(
            running_cloud, "tempurl", "GET", "1", f"{account_path}/tmp/f", "s3cret"
        ).strip()
        deadline = time.monotonic() + 15
        while httpx.get(base + expiring).status_code != 401:
            assert time.monotonic() < deadline, "the temp URL never expired"
            time.sleep(0.3)
    finally:
        swift(running_cloud, "post", "-m", "Temp-URL-Key:")
        demo.object_store.delete_object("f", container="tmp")
        demo.object_store.delete_container("tmp")
