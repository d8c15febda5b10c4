"""The views (``compute/api/views.py``): the server view's every field, admin-only fields,
faults."""

from __future__ import annotations

import datetime as dt
import hashlib
import types

from pocketstack.common.auth import RequestContext
from pocketstack.compute.api.views import addresses, host_id, server_view
from pocketstack.compute.models import Instance, InstanceFault
from tests.unit.compute import builders

NETWORK_INFO = [
    {
        "port_id": "p1",
        "network_id": "n1",
        "network_name": "private",
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [{"ip_address": "10.0.0.5"}, {"ip_address": "fd00::5"}],
    }
]


def request(admin: bool = False):
    roles = ("admin",) if admin else ("member",)
    ctx = RequestContext(user_id="u", project_id="p", roles=roles)
    return types.SimpleNamespace(ctx=ctx, base_url="http://h:1/compute")


def instance(**fields) -> Instance:
    """A fully filled server (every field a view shows) of project p."""
    return builders.instance(
        **{
            "uuid": "0a1b2c3d-0000-0000-0000-000000000000",
            "project_id": "p",
            "image_ref": "img",
            "task_state": None,
            "power_state": 1,
            "host": "node1",
            "node": "node1",
            "availability_zone": "nova",
            "key_name": "mykey",
            "metadata_": {"a": "b"},
            "security_groups": ["default"],
            "network_info": NETWORK_INFO,
            "config_drive": True,
            "created_at": dt.datetime(2026, 1, 2, 3, 4, 5),
            "updated_at": dt.datetime(2026, 1, 2, 3, 4, 6),
            "launched_at": dt.datetime(2026, 1, 2, 3, 4, 6, 123),
            "access_ip_v4": None,
            **fields,
        }
    )


def test_host_id_is_sha224_of_project_and_host():
    assert host_id("p", "node1") == hashlib.sha224(b"pnode1").hexdigest()
    assert host_id("p", None) == ""


def test_addresses_by_network_name():
    assert addresses(NETWORK_INFO) == {
        "private": [
            {
                "version": 4,
                "addr": "10.0.0.5",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
            },
            {
                "version": 6,
                "addr": "fd00::5",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
            },
        ]
    }


def test_member_view():
    view = server_view(request(), instance())
    assert view["status"] == "ACTIVE" and view["progress"] == 100
    assert view["image"]["id"] == "img" and view["flavor"]["id"] == "1"
    assert view["flavor"]["links"][0]["href"] == "http://h:1/compute/flavors/1"
    assert view["links"][0]["href"].endswith("/compute/v2.1/servers/" + view["id"])
    assert view["created"] == "2026-01-02T03:04:05Z"
    assert view["OS-SRV-USG:launched_at"] == "2026-01-02T03:04:06"
    assert view["config_drive"] == "True" and view["OS-DCF:diskConfig"] == "MANUAL"
    assert view["security_groups"] == [{"name": "default"}]
    assert view["metadata"] == {"a": "b"} and view["key_name"] == "mykey"
    assert view["OS-EXT-STS:vm_state"] == "active" and view["OS-EXT-STS:power_state"] == 1
    assert view["os-extended-volumes:volumes_attached"] == []
    assert view["accessIPv4"] == "" and "addresses" in view
    assert not any(k.startswith("OS-EXT-SRV-ATTR") for k in view)
    assert "fault" not in view


def test_admin_sees_host_fields_and_fault_details():
    fault = InstanceFault(
        instance_uuid="x",
        code=500,
        message="No valid host was found.",
        details="trace",
        created_at=dt.datetime(2026, 1, 1),
    )
    server = instance(vm_state="error", host=None, node=None)
    view = server_view(request(admin=True), server, fault)
    assert view["status"] == "ERROR" and view["hostId"] == ""
    assert view["OS-EXT-SRV-ATTR:instance_name"] == "instance-0a1b2c3d"
    assert view["fault"] == {
        "code": 500,
        "message": "No valid host was found.",
        "created": "2026-01-01T00:00:00Z",
        "details": "trace",
    }
    assert "details" not in server_view(request(), server, fault)["fault"]


def test_boot_without_image_renders_empty_string():
    assert server_view(request(), instance(image_ref=None))["image"] == ""


def test_addresses_list_a_fixed_ips_floating_ips_after_the_fixed_ones():
    info = [
        {
            "network_name": "private",
            "mac_address": "fa:16:3e:00:00:02",
            "fixed_ips": [
                {
                    "ip_address": "10.0.0.5",
                    "version": 4,
                    "floating_ips": [{"address": "172.24.4.7", "type": "floating", "version": 4}],
                },
                {"ip_address": "10.0.0.6", "version": 4, "floating_ips": []},
            ],
        }
    ]
    assert [
        (a["addr"], a["OS-EXT-IPS:type"], a["OS-EXT-IPS-MAC:mac_addr"], a["version"])
        for a in addresses(info)["private"]
    ] == [
        ("10.0.0.5", "fixed", "fa:16:3e:00:00:02", 4),
        ("10.0.0.6", "fixed", "fa:16:3e:00:00:02", 4),
        ("172.24.4.7", "floating", "fa:16:3e:00:00:02", 4),
    ]
