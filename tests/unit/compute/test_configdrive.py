"""Unit tests of pocketstack.compute.configdrive (the ISO9660 config drive)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pycdlib
import pytest

from pocketstack.compute.configdrive import build_config_drive, config_drive_files
from pocketstack.compute.drivers.base import DriverError


def _spec(**changes):
    spec = {
        "uuid": "6f1b8c1e-0000-4000-8000-000000000001",
        "name": "vm1",
        "hostname": "vm1",
        "project_id": "p1",
        "vcpus": 1,
        "memory_mb": 128,
        "root_gb": 1,
        "public_keys": {"mykey": "ssh-ed25519 AAAAC3 me@host", "other": "ssh-rsa AAAAB3 x"},
        "metadata": {"role": "web"},
        "availability_zone": "nova",
        "launch_index": 2,
        "user_data": base64.b64encode(b"#!/bin/sh\necho USERDATA-OK\n").decode(),
        "network_info": [
            {
                "port_id": "0a1b2c3d-1111-2222-3333-444455556666",
                "network_id": "net1",
                "mac_address": "fa:16:3e:00:00:01",
                "mtu": 1450,
                "devname": "tap0a1b2c3d-11",
                "vif_type": "noop",
                "fixed_ips": [
                    {
                        "ip_address": "10.0.0.5",
                        "subnet_id": "sub1",
                        "cidr": "10.0.0.0/24",
                        "gateway_ip": "10.0.0.1",
                        "enable_dhcp": False,
                        "dns_nameservers": ["10.0.0.2"],
                    }
                ],
            }
        ],
    }
    spec.update(changes)
    return spec


def _read(iso_file: Path, path: str) -> bytes:
    iso = pycdlib.PyCdlib()
    iso.open(str(iso_file))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=path)
        return out.getvalue()
    finally:
        iso.close()


def test_iso_has_label_and_rock_ridge_names(tmp_path):
    dest = build_config_drive(_spec(), tmp_path / "disk.config")
    iso = pycdlib.PyCdlib()
    iso.open(str(dest))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
        assert iso.has_rock_ridge() and iso.has_joliet()
        walked = {p: sorted(fs) for p, _, fs in iso.walk(rr_path="/") if fs}
    finally:
        iso.close()
    expected = ["meta_data.json", "network_data.json", "user_data", "vendor_data.json"]
    assert walked == {"/openstack/latest": expected, "/openstack/2018-08-27": expected}
    assert not (tmp_path / "disk.config.tmp").exists()


def test_meta_data_shape(tmp_path):
    dest = build_config_drive(_spec(), tmp_path / "cd.iso")
    meta = json.loads(_read(dest, "/openstack/latest/meta_data.json"))
    assert meta["uuid"] == "6f1b8c1e-0000-4000-8000-000000000001"
    assert (meta["name"], meta["hostname"]) == ("vm1", "vm1")
    assert meta["public_keys"]["mykey"] == "ssh-ed25519 AAAAC3 me@host"
    assert {"name": "other", "type": "ssh", "data": "ssh-rsa AAAAB3 x"} in meta["keys"]
    assert meta["launch_index"] == 2 and meta["availability_zone"] == "nova"
    assert meta["project_id"] == "p1" and meta["meta"] == {"role": "web"}
    assert meta["files"] == []
    assert json.loads(_read(dest, "/openstack/2018-08-27/meta_data.json")) == meta
    assert json.loads(_read(dest, "/openstack/latest/vendor_data.json")) == {}


def test_user_data_decoded(tmp_path):
    dest = build_config_drive(_spec(), tmp_path / "cd.iso")
    assert _read(dest, "/openstack/latest/user_data") == b"#!/bin/sh\necho USERDATA-OK\n"


def test_no_user_data_no_file():
    files = config_drive_files(_spec(user_data=None))
    assert not any(p.endswith("user_data") for p in files)


def test_bad_user_data_raises():
    with pytest.raises(DriverError):
        config_drive_files(_spec(user_data="not base64!!"))


def test_network_data_static():
    net = json.loads(config_drive_files(_spec())["openstack/latest/network_data.json"])
    assert net["links"] == [
        {
            "id": "tap0a1b2c3d-11",
            "type": "phy",
            "ethernet_mac_address": "fa:16:3e:00:00:01",
            "mtu": 1450,
            "vif_id": "0a1b2c3d-1111-2222-3333-444455556666",
        }
    ]
    (n,) = net["networks"]
    assert n["id"] == "network0" and n["type"] == "ipv4" and n["link"] == "tap0a1b2c3d-11"
    assert (n["ip_address"], n["netmask"]) == ("10.0.0.5", "255.255.255.0")
    assert n["routes"] == [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]
    assert n["network_id"] == "net1"
    assert net["services"] == [{"type": "dns", "address": "10.0.0.2"}]


def test_network_data_dhcp_keeps_static_fallback():
    spec = _spec()
    spec["network_info"][0]["fixed_ips"][0]["enable_dhcp"] = True
    spec["network_info"][0]["vif_type"] = "tap"  # a data plane that can serve DHCP
    net = json.loads(config_drive_files(spec)["openstack/latest/network_data.json"])
    (n,) = net["networks"]
    assert n["type"] == "ipv4_dhcp"
    assert n["ip_address"] == "10.0.0.5" and n["netmask"] == "255.255.255.0"
    assert n["routes"][0]["gateway"] == "10.0.0.1"


@pytest.mark.parametrize(("enable_dhcp", "kind"), [(True, "ipv4_dhcp"), (False, "ipv4")])
def test_a_linuxbridge_port_uses_dhcp_only_where_its_subnet_enables_it(enable_dhcp, kind):
    spec = _spec()
    spec["network_info"][0]["fixed_ips"][0]["enable_dhcp"] = enable_dhcp
    spec["network_info"][0]["vif_type"] = "bridge"
    net = json.loads(config_drive_files(spec)["openstack/latest/network_data.json"])
    (n,) = net["networks"]
    assert n["type"] == kind and n["ip_address"] == "10.0.0.5"


def test_noop_data_plane_has_no_dhcp_so_the_guest_configures_statically():
    spec = _spec()
    spec["network_info"][0]["fixed_ips"][0]["enable_dhcp"] = True
    net = json.loads(config_drive_files(spec)["openstack/latest/network_data.json"])
    (n,) = net["networks"]
    assert n["type"] == "ipv4" and n["ip_address"] == "10.0.0.5"


def test_no_networks():
    net = json.loads(
        config_drive_files(_spec(network_info=[]))["openstack/latest/network_data.json"]
    )
    assert net == {"links": [], "networks": [], "services": []}
