"""Servers.create validation: every check runs before anything is written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute.exceptions import (
    AvailabilityZoneNotFound,
    FlavorMemoryTooSmall,
    MetadataItemNotFound,
)
from pocketstack.compute.flavors import InvalidFlavorRef
from pocketstack.compute.keypairs import InvalidKeyName
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.compute.servers import sanitize_hostname

DEMO = RequestContext(user_id="demo-user", project_id="demo-project", roles=("member",))
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))


@pytest.mark.parametrize(
    ("name", "hostname"),
    [
        ("vm1", "vm1"),
        ("My VM_1", "my-vm-1"),
        ("web.example.com", "web.example.com"),
        ("--odd!!name--", "oddname"),
        ("ü", "server-x"),
        ("a" * 80, "a" * 63),
    ],
)
def test_hostname_is_derived_like_nova(name, hostname):
    assert sanitize_hostname(name, "server-x") == hostname


@pytest.fixture
def setup(cloud, tmp_path):
    cloud.compute.flavors.bootstrap()
    cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 1024)
    image = cloud.image.create_image_from_file(
        RequestContext.system(), "cirros", disk, disk_format="raw"
    )
    big = cloud.image.create_image_from_file(
        RequestContext.system(), "big", disk, disk_format="raw"
    )
    cloud.image.images.update(RequestContext.system(), big.id, [("replace", "min_ram", 100000)])
    return cloud, image.id, big.id


def _count(cloud, model):
    with cloud.db.reader() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def _create(cloud, image_id, **kw):
    args = {"name": "vm", "image_id": image_id, "flavor_id": "1", "networks": "auto"}
    args.update(kw)
    return cloud.compute.servers.create(DEMO, **args)


def test_invalid_requests_write_nothing(setup):
    cloud, image_id, _ = setup
    with pytest.raises(InvalidFlavorRef):  # 400 at create, as in Nova
        _create(cloud, image_id, flavor_id="nope")
    with pytest.raises(errors.NotFound):
        _create(cloud, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(AvailabilityZoneNotFound):
        _create(cloud, image_id, availability_zone="mars")
    with pytest.raises(InvalidKeyName):  # 400 at create, as in Nova
        _create(cloud, image_id, key_name="nokey")
    with pytest.raises(errors.Forbidden):
        _create(cloud, image_id, availability_zone="nova:node1")  # forcing a host: admins
    with pytest.raises(errors.QuotaExceeded):
        _create(cloud, image_id, min_count=11, max_count=11)
    assert _count(cloud, Instance) == 0 and _count(cloud, InstanceAction) == 0


def test_flavor_memory_too_small_for_image(setup):
    cloud, _, big = setup
    with pytest.raises(FlavorMemoryTooSmall):
        _create(cloud, big)


def test_create_records_build_state_and_action(setup):
    cloud, image_id, _ = setup
    rows = _create(
        cloud, image_id, name="db", min_count=1, max_count=3, metadata={"k": "v"}, description="d"
    )
    assert [r.name for r in rows] == ["db-1", "db-2", "db-3"]
    assert len({r.reservation_id for r in rows}) == 1
    for index, row in enumerate(rows):
        assert (row.vm_state, row.task_state, row.launch_index) == ("building", "scheduling", index)
        assert row.flavor["ram"] == 256 and row.flavor_id == "1"
        assert row.security_groups == ["default"] and row.metadata_ == {"k": "v"}
        assert row.requested_networks and row.host is None
        (action,) = cloud.compute.actions.list(DEMO, row.uuid)
        assert action.action == "create" and action.request_id == DEMO.request_id


def test_quota_falls_back_to_min_count(setup):
    cloud, image_id, _ = setup
    assert len(_create(cloud, image_id, min_count=2, max_count=50)) == 2


def test_update_and_metadata(setup):
    cloud, image_id, _ = setup
    (row,) = _create(cloud, image_id)
    servers = cloud.compute.servers
    assert servers.update(DEMO, row.uuid, name="renamed").name == "renamed"
    assert servers.update_metadata(DEMO, row.uuid, {"a": "1"}, replace=False) == {"a": "1"}
    assert servers.update_metadata(DEMO, row.uuid, {"b": "2"}, replace=False) == {
        "a": "1",
        "b": "2",
    }
    assert servers.update_metadata(DEMO, row.uuid, {"c": "3"}, replace=True) == {"c": "3"}
    servers.delete_metadata_item(DEMO, row.uuid, "c")
    with pytest.raises(MetadataItemNotFound):
        servers.delete_metadata_item(DEMO, row.uuid, "c")
    with pytest.raises(errors.BadRequest):
        servers.list(DEMO, filters={}, sort_keys=["password"])
    with pytest.raises(errors.BadRequest):
        servers.list(DEMO, filters={}, marker="not-a-server")
