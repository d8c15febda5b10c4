"""A server's volumes through the real clients against ``pocketstack up`` (fake hypervisor,
its volume agent exporting over tgt): ``openstack server add volume`` / ``server volume
list`` / ``server remove volume``, the server's ``volumes_attached``, Nova's errors through
openstacksdk, and ``openstack server create --boot-from-volume``."""

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
    """Servers and volumes a test makes, deleted afterwards (servers first) as the admin."""
    made: dict[str, list[str]] = {"servers": [], "volumes": []}
    yield made
    admin = running_cloud.sdk("pocketstack-admin")
    for server_id in made["servers"]:
        admin.compute.delete_server(server_id, ignore_missing=True)
        try:
            admin.compute.wait_for_delete(admin.compute.get_server(server_id), wait=60)
        except openstack.exceptions.NotFoundException:
            pass
    for volume_id in made["volumes"]:
        try:
            volume = admin.block_storage.get_volume(volume_id)
        except openstack.exceptions.NotFoundException:
            continue
        wait_until(
            lambda v=volume: admin.block_storage.get_volume(v.id).status != "in-use",
            60,
            f"volume {volume_id} detached",
        )
        admin.block_storage.delete_volume(volume_id, ignore_missing=True, force=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_volume(cli, made, cloud: str = "pocketstack-demo") -> str:
    volume = cli("volume", "create", "--size", "1", unique("vol"), cloud=cloud)
    made["volumes"].append(volume["id"])
    wait_until(
        lambda: cli("volume", "show", volume["id"], cloud=cloud)["status"] == "available",
        60,
        "volume available",
        interval=0.3,
    )
    return volume["id"]


def test_add_list_show_and_remove_a_volume_through_the_cli(running_cloud, cli, made):
    server = running_cloud.create_server(unique("vm"), wait=True)
    made["servers"].append(server["id"])
    volume_id = new_volume(cli, made)

    cli("server", "add", "volume", server["id"], volume_id, json_output=False)
    (listed,) = cli("server", "volume", "list", server["id"])
    assert listed["Volume ID"] == volume_id and listed["Device"] == "/dev/vdb"
    assert listed["Server ID"] == server["id"]
    volume = cli("volume", "show", volume_id)
    assert volume["status"] == "in-use"
    assert volume["attachments"][0]["server_id"] == server["id"]
    # the guest's device, as Cinder shows it (Nova passes it as the connector's mountpoint):
    # openstacksdk's get_volume_attach_device and Ansible's server_volume read it
    assert volume["attachments"][0]["device"] == "/dev/vdb"
    shown = cli("server", "show", server["id"])
    assert [v["id"] for v in shown["volumes_attached"]] == [volume_id]
    events = {e["Action"] for e in cli("server", "event", "list", server["id"])}
    assert "attach_volume" in events

    cli("server", "remove", "volume", server["id"], volume_id, json_output=False)
    assert cli("server", "volume", "list", server["id"]) == []
    assert cli("volume", "show", volume_id)["status"] == "available"
    assert cli("server", "show", server["id"])["volumes_attached"] == []


def test_novas_errors_through_openstacksdk(running_cloud, cli, made):
    server = running_cloud.create_server(unique("vm"), wait=True)
    made["servers"].append(server["id"])
    compute = running_cloud.sdk().compute
    mine, others = new_volume(cli, made), new_volume(cli, made, cloud="pocketstack-admin")

    attachment = compute.create_volume_attachment(server["id"], volume_id=mine, device="/dev/vdd")
    assert attachment.device == "/dev/vdd" and attachment.volume_id == mine
    with pytest.raises(openstack.exceptions.BadRequestException, match="status must be"):
        compute.create_volume_attachment(server["id"], volume_id=mine)
    with pytest.raises(openstack.exceptions.NotFoundException):
        compute.create_volume_attachment(server["id"], volume_id=others)
    with pytest.raises(openstack.exceptions.NotFoundException):
        compute.delete_volume_attachment(server["id"], str(uuid.uuid4()), ignore_missing=False)
    got = compute.get_volume_attachment(server["id"], mine)
    assert got.device == "/dev/vdd" and got.server_id == server["id"]
    compute.delete_volume_attachment(server["id"], mine)
    wait_until(lambda: cli("volume", "show", mine)["status"] == "available", 30, "volume detached")


def test_boot_from_volume_through_the_cli(running_cloud, cli, made):
    name = unique("bfv")
    server = running_cloud.create_server(name, "--boot-from-volume", "1")
    made["servers"].append(server["id"])
    shown = running_cloud.wait_for_server(server["id"], "ACTIVE")
    assert shown["image"] == "N/A (booted from volume)"
    (attached,) = shown["volumes_attached"]
    made["volumes"].append(attached["id"])
    volume = cli("volume", "show", attached["id"])
    assert volume["status"] == "in-use" and volume["bootable"] in (True, "true")
    (listed,) = cli("server", "volume", "list", server["id"])
    assert listed["Device"] == "/dev/vda"
    assert volume["attachments"][0]["device"] == "/dev/vda"
    cli("server", "delete", "--wait", server["id"], json_output=False)
    # OSC's --boot-from-volume keeps the volume (delete_on_termination false)
    wait_until(lambda: cli("volume", "show", attached["id"])["status"] == "available", 60, "freed")
