"""The Image service (Glance v2) through the real clients: the `openstack` CLI and
openstacksdk against a running cloud."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid

import pytest
import requests
import yaml
from openstack import connection, exceptions
from openstack.config import loader


class Project:
    """A second project with a member user: its CLI flags and an SDK connection."""

    def __init__(self, cloud, tmp_path, name: str):
        password = uuid.uuid4().hex
        self.id = cloud.openstack("project", "create", name, cloud="pocketstack-admin")["id"]
        cloud.openstack(
            "user",
            "create",
            "--project",
            name,
            "--password",
            password,
            name,
            cloud="pocketstack-admin",
        )
        cloud.openstack(
            "role",
            "add",
            "--project",
            name,
            "--user",
            name,
            "member",
            cloud="pocketstack-admin",
            json_output=False,
        )
        self.flags = ["--os-username", name, "--os-password", password, "--os-project-name", name]
        config = yaml.safe_load(cloud.clouds_yaml.read_text())
        entry = dict(config["clouds"]["pocketstack-demo"])
        entry["auth"] = {
            **entry["auth"],
            "username": name,
            "password": password,
            "project_name": name,
        }
        path = tmp_path / "alt-clouds.yaml"
        path.write_text(yaml.safe_dump({"clouds": {"alt": entry}}))
        self.conn = connection.Connection(
            config=loader.OpenStackConfig(config_files=[str(path)], load_envvars=False).get_one(
                "alt"
            )
        )


@pytest.fixture(scope="module")
def alt(running_cloud, tmp_path_factory):
    return Project(running_cloud, tmp_path_factory.mktemp("alt"), f"img-alt-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def cli(running_cloud):
    return running_cloud.openstack


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "disk.qcow2"
    path.write_bytes(os.urandom(256 * 1024 + 17))
    return path


def create(cli, path, name, *extra):
    return cli(
        "image",
        "create",
        "--file",
        str(path),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        *extra,
        name,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_bootstrap_cirros_is_public_and_active(cli):
    listed = cli("image", "list", "--public")
    cirros = [i for i in listed if i["Name"] == "cirros"]
    assert cirros and cirros[0]["Status"] == "active"


def test_create_show_save(cli, image_file, tmp_path):
    name = unique("img")
    image = create(cli, image_file, name)
    data = image_file.read_bytes()
    assert image["status"] == "active"
    assert image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    shown = cli("image", "show", name)
    assert (shown["id"], shown["disk_format"]) == (image["id"], "qcow2")
    out = tmp_path / "out.img"
    cli("image", "save", "--file", str(out), name, json_output=False)
    assert out.read_bytes() == data


def test_properties_set_unset_and_list_filters(cli, image_file):
    name = unique("img")
    image = create(cli, image_file, name, "--private")
    cli("image", "set", "--property", "flavor=blue", name, json_output=False)
    assert cli("image", "show", name)["properties"]["flavor"] == "blue"
    assert [i["ID"] for i in cli("image", "list", "--property", "flavor=blue")] == [image["id"]]
    assert image["id"] in [i["ID"] for i in cli("image", "list", "--private")]
    assert image["id"] not in [i["ID"] for i in cli("image", "list", "--shared")]
    cli("image", "unset", "--property", "flavor", name, json_output=False)
    assert "flavor" not in cli("image", "show", name)["properties"]
    assert cli("image", "list", "--property", "flavor=blue") == []


def test_delete(cli, image_file):
    name = unique("img")
    create(cli, image_file, name)
    cli("image", "delete", name, json_output=False)
    assert name not in [i["Name"] for i in cli("image", "list")]


def test_private_image_is_invisible_to_another_project(running_cloud, cli, image_file, alt):
    image = create(cli, image_file, unique("img"), "--private")
    with pytest.raises(exceptions.NotFoundException):
        alt.conn.image.get_image(image["id"])
    assert image["id"] not in [i.id for i in alt.conn.image.images()]
    proc = cli(*alt.flags, "image", "show", image["id"], check=False)
    assert proc.returncode != 0


def test_sharing_with_a_project_and_accepting(running_cloud, cli, image_file, alt):
    image = create(cli, image_file, unique("img"))
    assert image["visibility"] == "shared"
    # OSC looks the project up in Identity first and uses the id as given when Keystone
    # answers 403 for another project (as real Keystone does for non-admins).
    proc = cli("image", "add", "project", image["id"], alt.id, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "pending"
    assert image["id"] not in [i["ID"] for i in cli(*alt.flags, "image", "list")]
    cli(*alt.flags, "image", "set", "--accept", image["id"], json_output=False)
    assert image["id"] in [i["ID"] for i in cli(*alt.flags, "image", "list")]
    assert image["id"] in [i["ID"] for i in cli(*alt.flags, "image", "list", "--shared")]
    members = cli("image", "member", "list", image["id"])
    assert [(m["Member ID"], m["Status"]) for m in members] == [(alt.id, "accepted")]
    with pytest.raises(exceptions.ForbiddenException):
        alt.conn.image.delete_image(image["id"])
    cli("image", "remove", "project", image["id"], alt.id, json_output=False)
    with pytest.raises(exceptions.NotFoundException):
        alt.conn.image.get_image(image["id"])


def test_bad_disk_format_is_400(running_cloud):
    conn = running_cloud.sdk()
    with pytest.raises(exceptions.BadRequestException) as err:
        conn.image.create_image(
            name=unique("bad"), disk_format="exe", container_format="bare", allow_duplicates=True
        )
    assert "disk_format" in str(err.value)


def test_unknown_image_is_404(running_cloud, cli):
    missing = str(uuid.uuid4())
    with pytest.raises(exceptions.NotFoundException):
        running_cloud.sdk().image.get_image(missing)
    with pytest.raises(subprocess.CalledProcessError) as err:
        cli("image", "show", missing)
    assert "No Image found" in err.value.stderr


def test_second_upload_to_an_active_image_is_409(running_cloud, cli, image_file):
    conn = running_cloud.sdk()
    image = conn.image.get_image(create(cli, image_file, unique("img"))["id"])
    response = image.upload(conn.image, data=b"other bytes")
    assert response.status_code == 409
    assert (
        conn.image.get_image(image.id).checksum == hashlib.md5(image_file.read_bytes()).hexdigest()
    )


def test_delete_protected_is_403(running_cloud, cli, image_file):
    name = unique("img")
    image = create(cli, image_file, name, "--protected")
    proc = cli("image", "delete", name, check=False, json_output=False)
    assert proc.returncode != 0 and "403" in proc.stderr
    with pytest.raises(exceptions.ForbiddenException):
        running_cloud.sdk().image.delete_image(image["id"])
    cli("image", "set", "--unprotected", name, json_output=False)
    cli("image", "delete", name, json_output=False)


def test_import_with_glance_direct(cli, image_file):
    image = cli(
        "image",
        "create",
        "--import",
        "--file",
        str(image_file),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        unique("imp"),
    )
    assert image["status"] == "active"
    assert image["checksum"] == hashlib.md5(image_file.read_bytes()).hexdigest()
    assert image["virtual_size"] == image_file.stat().st_size


def test_download_of_one_range_is_206_and_outside_the_data_416(running_cloud):
    conn = running_cloud.sdk()
    data = os.urandom(64 * 1024)
    image = conn.image.create_image(
        name=unique("range"),
        data=data,
        disk_format="raw",
        container_format="bare",
        allow_duplicates=True,
        validate_checksum=False,
    )
    url = f"{running_cloud.url}/image/v2/images/{image.id}/file"
    token = {"X-Auth-Token": conn.auth_token}
    part = requests.get(url, headers={**token, "Range": "bytes=1000-1999"}, timeout=30)
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    outside = requests.get(url, headers={**token, "Range": "bytes=70000-"}, timeout=30)
    assert outside.status_code == 416
    assert outside.headers["Content-Range"] == f"bytes */{len(data)}"
    assert outside.json()["code"] == 416
    conn.image.delete_image(image)
