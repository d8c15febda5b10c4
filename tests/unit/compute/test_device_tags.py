"""Device tags (``compute.device_tags``): a request item's tag goes to the VIF it made, and the
config drive's ``meta_data.json`` lists the tagged NICs and disks in Nova's ``devices`` shape."""

from __future__ import annotations

import json

from pocketstack.compute.configdrive import config_drive_files
from pocketstack.compute.device_tags import devices, keep_tags, tag_vifs

VIFS = [
    {"port_id": "p-new-1", "mac_address": "fa:16:3e:00:00:01"},
    {"port_id": "p-user", "mac_address": "fa:16:3e:00:00:02"},
    {"port_id": "p-new-2", "mac_address": "fa:16:3e:00:00:03"},
]


def test_tags_follow_their_request_items():
    requested = [
        {"uuid": "net-a", "tag": "first"},
        {"port": "p-user", "tag": "mine"},
        {"uuid": "net-b"},
    ]
    tagged = tag_vifs(VIFS, requested)
    assert [v.get("tag") for v in tagged] == ["first", "mine", None]
    assert "tag" not in VIFS[0]  # not changed in place
    assert tag_vifs(VIFS, "auto") is VIFS
    assert tag_vifs(VIFS, [{"uuid": "n"}]) is VIFS


def test_the_checked_request_keeps_its_tags():
    asked = [{"uuid": "n1", "tag": "a"}, {"port": "p1"}]
    checked = [{"uuid": "n1"}, {"port": "p1"}]
    assert keep_tags(asked, checked) == [{"uuid": "n1", "tag": "a"}, {"port": "p1"}]
    assert keep_tags([], [{"uuid": "only"}]) == [{"uuid": "only"}]


def test_meta_data_lists_tagged_devices_only():
    spec = {
        "uuid": "u-1",
        "name": "vm",
        "network_info": tag_vifs(VIFS, [{"uuid": "a"}, {"port": "p-user", "tag": "db-nic"}]),
        "block_devices": [
            {"volume_id": "v-1", "device_name": "/dev/vda", "disk_bus": "virtio", "tag": None},
            {"volume_id": "v-2", "device_name": "/dev/vdb", "disk_bus": "virtio", "tag": "data"},
        ],
    }
    assert devices(spec) == [
        {"type": "nic", "bus": "pci", "mac": "fa:16:3e:00:00:02", "tags": ["db-nic"]},
        {"type": "disk", "bus": "virtio", "serial": "v-2", "path": "/dev/vdb", "tags": ["data"]},
    ]
    files = config_drive_files(spec)
    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta["devices"] == devices(spec)
    assert json.loads(files["openstack/2018-08-27/meta_data.json"])["devices"] == devices(spec)
