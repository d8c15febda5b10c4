"""Block device mappings of a boot request (``block_device``): what ``openstack server
create --boot-from-volume``/``--volume``/``--block-device`` and the legacy mapping send, as
Nova reads them, and Nova's device names."""

from __future__ import annotations

import pytest

from pocketstack.common import errors
from pocketstack.compute import block_device as bd

IMAGE = "5b4c7a36-1fcd-4f5c-a2b2-0c9fcb1b2fd1"
VOLUME = "0f1e3b8a-61c3-4d5e-9a9f-2f4b1d6c7e8a"


def test_boot_from_volume_as_openstackclient_sends_it():
    (bdm,) = bd.parse_v2(
        [
            {
                "uuid": IMAGE,
                "boot_index": "0",
                "source_type": "image",
                "destination_type": "volume",
                "volume_size": "1",
            }
        ]
    )
    assert bdm["boot_index"] == 0 and bdm["volume_size"] == 1 and bdm["uuid"] == IMAGE
    assert bdm["delete_on_termination"] is False
    assert bd.boot_volume([bdm]) is bdm and bd.image_root([bdm]) is None


def test_an_existing_volume_a_blank_one_and_the_image_as_local_root():
    bdms = bd.parse_v2(
        [
            {"source_type": "image", "uuid": IMAGE, "boot_index": 0},
            {"source_type": "volume", "uuid": VOLUME, "boot_index": -1, "device_name": "sdc"},
            {"source_type": "blank", "destination_type": "volume", "volume_size": 2},
        ]
    )
    assert bdms[0]["destination_type"] == "local" and bd.image_root(bdms) == IMAGE
    assert bd.boot_volume(bdms) is None
    assert bdms[1]["boot_index"] is None and bdms[1]["device_name"] == "/dev/vdc"
    assert bdms[2]["uuid"] is None and bdms[2]["volume_size"] == 2


def test_the_legacy_mapping_boots_from_vda():
    (bdm,) = bd.parse_legacy([{"volume_id": VOLUME, "device_name": "vda"}])
    assert bdm["source_type"] == "volume" and bdm["boot_index"] == 0
    assert bd.parse_legacy([{"device_name": "vdb", "no_device": True}]) == []


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([{"source_type": "volume"}], "needs its uuid"),
        ([{"uuid": VOLUME}], "source_type is required"),
        (
            [
                {"source_type": "volume", "uuid": VOLUME, "boot_index": 0},
                {"source_type": "volume", "uuid": IMAGE, "boot_index": 0},
            ],
            "Boot sequence",
        ),
        ([{"source_type": "volume", "uuid": VOLUME, "boot_index": 1}], "Boot sequence"),
        (
            [{"source_type": "blank", "destination_type": "local", "boot_index": 0}],
            "local block devices",
        ),
        ([{"source_type": "snapshot", "uuid": VOLUME, "destination_type": "local"}], "local"),
        ([{"source_type": "blank", "volume_size": 0}], "positive"),
        ([{"source_type": "volume", "uuid": VOLUME, "device_name": "/dev/xyz1"}], "invalid"),
    ],
)
def test_invalid_mappings_are_400_with_novas_reason(items, reason):
    with pytest.raises(errors.BadRequest, match=reason) as info:
        bd.parse_v2(items)
    assert info.value.status == 400


def test_device_names_are_novas_next_free_and_a_requested_free_one_is_kept():
    assert bd.next_device_name(set()) == "/dev/vdb"
    assert bd.next_device_name({"/dev/vdb", "/dev/vdd"}) == "/dev/vdc"
    assert bd.next_device_name({"/dev/vdb"}, "vde") == "/dev/vde"
    assert bd.next_device_name({f"/dev/vd{c}" for c in "bcdefghijklmnopqrstuvwxyz"}) == (
        "/dev/vdaa"
    )
    with pytest.raises(errors.BadRequest, match=r"\(/dev/vdb\) is in use"):
        bd.next_device_name({"/dev/vdb"}, "/dev/vdb")
    with pytest.raises(errors.BadRequest, match="in use"):
        bd.next_device_name(set(), "/dev/vda")  # the root disk's


def _local(guest_format=None, size=None):
    return {
        "source_type": "blank",
        "destination_type": "local",
        "guest_format": guest_format,
        "volume_size": size,
    }


def test_blank_local_mappings_of_the_flavors_ephemeral_and_swap_are_accepted():
    bdms = bd.parse_v2([_local(), _local("swap", 64)])
    bd.check_local_disks(bdms, 1, 64)
    bd.check_local_disks(bd.parse_v2([_local("ext4", 1), _local("swap")]), 1, 64)


@pytest.mark.parametrize(
    "items, reason",
    [
        ([_local("swap", 128)], "Swap drive requested is larger"),
        ([_local(None, 2)], "Ephemeral disks requested are larger"),
        ([_local("swap"), _local("swap")], "More than one swap"),
        ([_local("swap", 32)], "another size than the flavor's"),
        ([_local("vfat")], "guest_format 'vfat' is not supported"),
    ],
)
def test_local_mappings_not_matching_the_flavor_are_400(items, reason):
    with pytest.raises(errors.BadRequest, match=reason) as info:
        bd.check_local_disks(bd.parse_v2(items), 1, 64)
    assert info.value.status == 400
