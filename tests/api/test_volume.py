"""Block Storage (Cinder v3) through the real clients: the ``openstack volume ...`` CLI and
openstacksdk's block_storage proxy against ``pocketstack up`` (its volume agent in the same
process, the file driver's volumes in ``<state>/volumes``)."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

from tests.helpers import wait_until


@pytest.fixture
def cli(running_cloud):
    return running_cloud.openstack


@pytest.fixture
def made(running_cloud):
    """Volumes, snapshots and types a test makes, deleted afterwards as the admin."""
    made: dict[str, list[str]] = {"volumes": [], "snapshots": [], "types": []}
    yield made
    admin = running_cloud.sdk("pocketstack-admin").block_storage
    for snap_id in made["snapshots"]:
        try:
            admin.delete_snapshot(snap_id, ignore_missing=True, force=True)
        except openstack.exceptions.NotFoundException:
            continue
        wait_until(
            lambda s=snap_id: (
                admin.find_snapshot(s, ignore_missing=True, all_projects=True) is None
            ),
            30,
            f"snapshot {snap_id} gone",
        )
    for volume_id in made["volumes"]:
        try:
            admin.reset_volume_status(volume_id, "available", "detached", None)
        except openstack.exceptions.NotFoundException:
            continue
        admin.delete_volume(volume_id, ignore_missing=True, force=True)
    for type_id in made["types"]:
        admin.delete_type(type_id, ignore_missing=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_volume(cli, name: str, status: str = "available", cloud: str = "pocketstack-demo"):
    return wait_until(
        lambda: (shown := cli("volume", "show", name, cloud=cloud))["status"] == status and shown,
        60,
        f"volume {name} {status}",
        interval=0.3,
    )


def test_volume_create_list_show_set_delete_through_the_cli(cli, made):
    name = unique("vol")
    created = cli("volume", "create", "--size", "1", "--property", "tier=gold", name)
    made["volumes"].append(created["id"])
    assert created["size"] == 1 and created["type"] == "__DEFAULT__"
    shown = wait_volume(cli, name)
    assert shown["properties"] == {"tier": "gold"} and shown["bootable"] is False
    listed = {v["Name"]: v for v in cli("volume", "list")}
    assert listed[name]["Status"] == "available" and listed[name]["Size"] == 1
    new = unique("renamed")
    cli("volume", "set", "--name", new, "--property", "k=v", "--size", "2", name, json_output=False)
    resized = wait_until(
        lambda: (v := cli("volume", "show", new))["size"] == 2 and v, 60, "extended"
    )
    assert resized["properties"] == {"tier": "gold", "k": "v"}
    cli("volume", "delete", new, json_output=False)
    wait_until(lambda: cli("volume", "show", new, check=False).returncode != 0, 60, "volume gone")


def test_another_projects_volume_is_not_found(running_cloud, cli, made):
    name = unique("private")
    made["volumes"].append(cli("volume", "create", "--size", "1", name)["id"])
    volume_id = wait_volume(cli, name)["id"]
    admin = running_cloud.sdk("pocketstack-admin").block_storage
    assert admin.get_volume(volume_id).id == volume_id  # the admin sees it
    other = cli("volume", "show", volume_id, cloud="pocketstack-admin", check=False)
    assert other.returncode == 0
    ids = [v.id for v in admin.volumes()]
    assert volume_id not in ids  # not in the admin's own project's list
    assert volume_id in [v.id for v in admin.volumes(all_projects=True)]


def test_a_volume_in_a_type_no_backend_has_goes_to_error(running_cloud, cli, made):
    type_name = unique("nvme")
    vtype = cli(
        "volume",
        "type",
        "create",
        "--property",
        "volume_backend_name=nvme",
        type_name,
        cloud="pocketstack-admin",
    )
    made["types"].append(vtype["id"])
    denied = cli("volume", "type", "create", unique("t"), check=False)
    assert denied.returncode != 0 and "403" in denied.stderr
    assert type_name in [t["Name"] for t in cli("volume", "type", "list")]
    name = unique("typed")
    made["volumes"].append(cli("volume", "create", "--size", "1", "--type", type_name, name)["id"])
    assert wait_volume(cli, name, "error")["type"] == type_name


def test_snapshots_through_the_cli_and_a_volume_from_one(cli, made):
    name = unique("src")
    made["volumes"].append(cli("volume", "create", "--size", "1", name)["id"])
    wait_volume(cli, name)
    snap = unique("snap")
    created = cli("volume", "snapshot", "create", "--volume", name, snap)
    made["snapshots"].append(created["id"])
    wait_until(
        lambda: cli("volume", "snapshot", "show", snap)["status"] == "available", 60, "snapshot"
    )
    assert snap in [s["Name"] for s in cli("volume", "snapshot", "list")]
    refused = cli("volume", "delete", name, check=False)
    assert refused.returncode != 0
    clone = unique("clone")
    made["volumes"].append(cli("volume", "create", "--snapshot", snap, clone)["id"])
    assert wait_volume(cli, clone)["snapshot_id"] == created["id"]
    cli("volume", "snapshot", "delete", snap, json_output=False)
    wait_until(
        lambda: cli("volume", "snapshot", "show", snap, check=False).returncode != 0,
        60,
        "snapshot gone",
    )


def test_quota_zones_and_services_through_the_cli(cli):
    quota = {row["Resource"]: row["Limit"] for row in cli("quota", "show")}
    assert (quota["volumes"], quota["gigabytes"], quota["snapshots"]) == (10, 1000, 10)
    zones = cli("availability", "zone", "list", "--volume")
    assert {"Zone Name": "nova", "Zone Status": "available"} in zones
    services = cli("volume", "service", "list", cloud="pocketstack-admin")
    states = {(s["Binary"], s["State"]) for s in services}
    assert {("cinder-scheduler", "up"), ("cinder-volume", "up")} <= states


def test_over_quota_is_refused_with_cinders_message(running_cloud, made):
    admin = running_cloud.sdk("pocketstack-admin").block_storage
    demo = running_cloud.sdk("pocketstack-demo")
    project = demo.current_project_id
    used = admin.get_quota_set(project, usage=True).usage["gigabytes"]
    admin.update_quota_set(project, gigabytes=used + 3)
    try:
        volume = demo.block_storage.create_volume(size=2, name=unique("q"))
        made["volumes"].append(volume.id)
        with pytest.raises(openstack.exceptions.HttpException) as err:
            demo.block_storage.create_volume(size=2, name=unique("q"))
        assert err.value.status_code == 413
        assert "VolumeSizeExceedsAvailableQuota" in str(err.value)
    finally:
        admin.revert_quota_set(project)


def test_sdk_volume_actions_metadata_and_attachments(running_cloud, made):
    conn = running_cloud.sdk("pocketstack-demo")
    bs = conn.block_storage
    volume = bs.create_volume(size=1, name=unique("sdk"))
    made["volumes"].append(volume.id)
    volume = bs.wait_for_status(volume, "available", wait=60)
    bs.set_volume_metadata(volume, a="1")
    assert bs.get_volume_metadata(volume).metadata == {"a": "1"}
    bs.set_volume_bootable_status(volume, True)
    assert bs.get_volume(volume).is_bootable is True
    bs.extend_volume(volume, 2)
    wait_until(lambda: bs.get_volume(volume).size == 2, 60, "extended")
    bs.wait_for_status(volume, "available", wait=60)
    attachment = bs.create_attachment(volume.id, instance=str(uuid.uuid4()))
    assert bs.get_volume(volume).status == "reserved"
    bs.delete_attachment(attachment.id)
    assert bs.get_volume(volume).status == "available"
    with pytest.raises(openstack.exceptions.ResourceNotFound):
        running_cloud.sdk("pocketstack-admin").block_storage.get_volume(str(uuid.uuid4()))


def test_version_document_and_microversion_header(running_cloud):
    import requests

    versions = requests.get(running_cloud.url + "/volume/", timeout=10)
    assert versions.status_code == 300
    (v3,) = versions.json()["versions"]
    assert (v3["id"], v3["min_version"]) == ("v3.0", "3.0")
    conn = running_cloud.sdk("pocketstack-demo")
    answer = conn.block_storage.get("/volumes", microversion="3.9999")
    assert answer.status_code == 406


def test_a_volume_from_an_image_and_an_image_from_a_volume(running_cloud, cli, made):
    name = unique("boot")
    made["volumes"].append(cli("volume", "create", "--image", "cirros", "--size", "1", name)["id"])
    volume = wait_volume(cli, name)
    assert volume["bootable"] is True
    assert volume["volume_image_metadata"]["image_name"] == "cirros"
    image_name = unique("img")
    cli("image", "create", "--volume", name, "--disk-format", "qcow2", image_name)
    image = wait_until(
        lambda: (shown := cli("image", "show", image_name))["status"] == "active" and shown,
        120,
        "image uploaded from the volume",
        interval=0.5,
    )
    assert image["disk_format"] == "qcow2" and 0 < image["size"] < 1024**3
    assert wait_volume(cli, name)["status"] == "available"
    cli("image", "delete", image_name, json_output=False)


def test_a_private_type_is_seen_by_the_projects_it_is_shared_with(running_cloud, cli, made):
    name = unique("private-type")
    vtype = cli("volume", "type", "create", "--private", name, cloud="pocketstack-admin")
    made["types"].append(vtype["id"])
    assert name not in [t["Name"] for t in cli("volume", "type", "list")]
    cli(
        "volume",
        "type",
        "set",
        "--project",
        "demo",
        name,
        cloud="pocketstack-admin",
        json_output=False,
    )
    assert name in [t["Name"] for t in cli("volume", "type", "list")]
    shown = cli("volume", "type", "show", name, cloud="pocketstack-admin")
    assert len(shown["access_project_ids"]) == 1
