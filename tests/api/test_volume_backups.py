"""Volume backups through the real clients: ``openstack volume backup create [--incremental]
/list/show/delete/restore`` and openstacksdk's block_storage proxy against ``pocketstack
up`` (the file driver's volumes in ``<state>/volumes``, backups in ``<state>/backups``)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import openstack.exceptions
import pytest

from tests.helpers import wait_until

MIB = 1024 * 1024


@pytest.fixture
def cli(running_cloud):
    return running_cloud.openstack


@pytest.fixture
def made(running_cloud):
    """Backups and volumes a test makes, deleted afterwards as the admin (backups newest
    first, so incrementals go before their parents; then volumes)."""
    made: dict[str, list[str]] = {"backups": [], "volumes": []}
    yield made
    admin = running_cloud.sdk("pocketstack-admin").block_storage
    for backup_id in reversed(made["backups"]):
        try:
            admin.reset_backup_status(backup_id, "available")
            admin.delete_backup(backup_id, ignore_missing=True)
            wait_until(
                lambda b=backup_id: admin.find_backup(b, ignore_missing=True) is None,
                60,
                f"backup {backup_id} gone",
            )
        except openstack.exceptions.NotFoundException:
            pass
    for volume_id in made["volumes"]:
        admin.delete_volume(volume_id, ignore_missing=True, force=True)


def volume_status(cli, name: str) -> str:
    return cli("volume", "show", name)["status"]


def backup_status(cli, name: str) -> dict[str, Any]:
    return cli("volume", "backup", "show", name)


def wait_backup(cli, name: str, status: str = "available") -> dict[str, Any]:
    return wait_until(
        lambda: (shown := backup_status(cli, name))["status"] == status and shown,
        90,
        f"backup {name} {status}",
        interval=0.5,
    )


def make_volume(running_cloud, made, name: str, size: int = 1) -> Any:
    """A volume of the demo project, made with openstacksdk, once available."""
    demo = running_cloud.sdk("pocketstack-demo").block_storage
    volume = demo.create_volume(size=size, name=name)
    made["volumes"].append(volume.id)
    return demo.wait_for_status(volume, "available", wait=60)


def volume_file(running_cloud, volume_id: str) -> str:
    return str(running_cloud.state_dir / "volumes" / f"volume-{volume_id}")


def test_cli_full_incremental_list_show_restore_delete(running_cloud, cli, made):
    name = f"bk-{uuid.uuid4().hex[:8]}"
    volume = make_volume(running_cloud, made, name)
    data = os.urandom(MIB)
    with open(volume_file(running_cloud, volume.id), "r+b") as f:
        f.write(data)

    full = cli("volume", "backup", "create", "--name", f"{name}-full", name)
    made["backups"].append(full["id"])
    shown = wait_backup(cli, f"{name}-full")
    assert shown["is_incremental"] is False
    assert shown["volume_id"] == volume.id
    assert shown["size"] == 1
    assert volume_status(cli, name) == "available"

    with open(volume_file(running_cloud, volume.id), "r+b") as f:
        f.seek(100 * MIB)
        f.write(b"later")
    incr = cli("volume", "backup", "create", "--incremental", "--name", f"{name}-incr", name)
    made["backups"].append(incr["id"])
    shown = wait_backup(cli, f"{name}-incr")
    assert shown["is_incremental"] is True
    assert backup_status(cli, f"{name}-full")["has_dependent_backups"] is True

    listed = {b["Name"]: b for b in cli("volume", "backup", "list", "--long")}
    assert listed[f"{name}-incr"]["Status"] == "available"
    assert listed[f"{name}-full"]["Volume"] in (volume.id, name)

    # the parent cannot go while the incremental depends on it
    refused = cli("volume", "backup", "delete", f"{name}-full", check=False, json_output=False)
    assert refused.returncode != 0

    # restore into a new volume made for it
    restored = cli("volume", "backup", "restore", f"{name}-incr", f"{name}-restored")
    made["volumes"].append(restored["volume_id"])
    wait_until(lambda: volume_status(cli, f"{name}-restored") == "available", 90, "restored volume")
    wait_backup(cli, f"{name}-incr")
    with open(volume_file(running_cloud, restored["volume_id"]), "rb") as f:
        assert f.read(MIB) == data
        f.seek(100 * MIB)
        assert f.read(5) == b"later"

    # and into the existing volume, with --force
    with open(volume_file(running_cloud, volume.id), "r+b") as f:
        f.write(b"\xff" * MIB)
    cli("volume", "backup", "restore", "--force", f"{name}-full", name)
    wait_until(lambda: volume_status(cli, name) == "available", 90, "volume restored")
    with open(volume_file(running_cloud, volume.id), "rb") as f:
        assert f.read(MIB) == data

    cli("volume", "backup", "delete", f"{name}-incr", json_output=False)
    wait_until(
        lambda: all(b["Name"] != f"{name}-incr" for b in cli("volume", "backup", "list")),
        60,
        "incremental deleted",
    )
    cli("volume", "backup", "delete", f"{name}-full", json_output=False)


def test_sdk_errors_quota_and_admin_reset(running_cloud, made):
    demo = running_cloud.sdk("pocketstack-demo").block_storage
    admin = running_cloud.sdk("pocketstack-admin").block_storage
    volume = make_volume(running_cloud, made, f"bk-{uuid.uuid4().hex[:8]}")

    with pytest.raises(openstack.exceptions.BadRequestException, match="incremental"):
        demo.create_backup(volume_id=volume.id, is_incremental=True)
    with pytest.raises(openstack.exceptions.NotFoundException):
        demo.get_backup(str(uuid.uuid4()))

    backup = demo.create_backup(volume_id=volume.id, name="sdk-backup")
    made["backups"].append(backup.id)
    backup = demo.wait_for_status(backup, "available", wait=90)
    assert backup.object_count == 0  # a fresh thin volume: all holes, no objects
    assert [b.id for b in demo.backups(volume_id=volume.id)] == [backup.id]
    # one per page: the next page's link (backups_links) ends the walk
    assert [b.id for b in demo.backups(volume_id=volume.id, limit=1)] == [backup.id]
    renamed = demo.update_backup(backup, name="sdk-renamed", description="d")
    assert (renamed.name, renamed.description) == ("sdk-renamed", "d")
    assert demo.get_backup(backup.id).project_id is None  # the attribute is admins' (3.18)
    assert admin.get_backup(backup.id).project_id == volume.project_id

    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.reset_backup_status(backup, "error")
    admin.reset_backup_status(backup, "error")
    assert demo.get_backup(backup.id).status == "error"
    admin.reset_backup_status(backup, "available")

    project = running_cloud.sdk("pocketstack-demo").current_project_id
    admin.update_quota_set(project, backups=1)
    try:
        with pytest.raises(openstack.exceptions.HttpException) as raised:
            demo.create_backup(volume_id=volume.id)
        assert raised.value.status_code == 413
        assert "backups" in str(raised.value)
    finally:
        admin.revert_quota_set(project)
