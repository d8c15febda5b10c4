"""OpenStack config drive: an ISO9660 image labelled ``config-2`` with the instance's metadata.

Follows the OpenStack config drive layout (Nova's "config drive" user docs and the
``network_data.json`` schema shipped with Nova): the image holds the same files under
``openstack/latest/`` and under a dated version directory (``openstack/2018-08-27/``)::

    openstack/<version>/meta_data.json     uuid, name, hostname, keys, meta, ...
    openstack/<version>/user_data          the decoded user data (only when given)
    openstack/<version>/network_data.json  links, networks, services
    openstack/<version>/vendor_data.json   {}

The ISO has Rock Ridge and Joliet extensions so guests see the real (lower-case, dashed)
names; plain ISO9660 names are mangled to d-characters. Built with ``pycdlib`` (no external
``genisoimage``).
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Any

import pycdlib

from pocketstack.compute import device_tags
from pocketstack.compute.drivers.base import DriverError, InstanceSpec

VOLUME_LABEL = "config-2"
VERSIONS = ("latest", "2018-08-27")


def build_config_drive(spec: InstanceSpec, dest: Path) -> Path:
    """Write the config drive of ``spec`` to ``dest`` (an ISO9660 file) and return ``dest``.

    The file is written to a temporary name and renamed, so ``dest`` is either complete or
    absent.

    Raises:
        DriverError: ``user_data`` is not valid base64.
    """
    files = config_drive_files(spec)
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=VOLUME_LABEL, rock_ridge="1.09", joliet=3)
    made: set[str] = set()
    for path, data in files.items():
        _add_dirs(iso, os.path.dirname(path), made)
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            _iso_path(path, is_dir=False),
            rr_name=os.path.basename(path),
            joliet_path="/" + path,
        )
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        iso.write(str(tmp))
    finally:
        iso.close()
    os.replace(tmp, dest)
    return dest


def config_drive_files(spec: InstanceSpec) -> dict[str, bytes]:
    """The files of the drive: ``{"openstack/latest/meta_data.json": b"…", …}``.

    Raises:
        DriverError: ``user_data`` is not valid base64.
    """
    docs: dict[str, bytes] = {
        "meta_data.json": _json(meta_data(spec)),
        "network_data.json": _json(network_data(spec)),
        "vendor_data.json": _json({}),
    }
    user_data = decode_user_data(spec.get("user_data"))
    if user_data is not None:
        docs["user_data"] = user_data
    return {f"openstack/{v}/{name}": data for v in VERSIONS for name, data in docs.items()}


def decode_user_data(raw: str | None) -> bytes | None:
    """The user data bytes from the spec's base64 text; ``None`` when absent.

    Raises:
        DriverError: not valid base64.
    """
    if raw is None or raw == "":
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DriverError(f"user_data is not valid base64: {exc}") from None


def meta_data(spec: InstanceSpec) -> dict[str, Any]:
    """``meta_data.json``: identity of the instance, its keys and metadata (Nova's shape)."""
    keys = spec.get("public_keys") or {}
    return {
        "uuid": spec["uuid"],
        "name": spec.get("name") or spec.get("hostname") or spec["uuid"],
        "hostname": spec.get("hostname") or spec.get("name") or spec["uuid"],
        "public_keys": dict(keys),
        "keys": [{"name": n, "type": "ssh", "data": k} for n, k in keys.items()],
        "launch_index": spec.get("launch_index", 0),
        "availability_zone": spec.get("availability_zone"),
        "project_id": spec.get("project_id"),
        "meta": dict(spec.get("metadata") or {}),
        "files": [],
        "devices": device_tags.devices(spec),
    }


def network_data(spec: InstanceSpec) -> dict[str, Any]:
    """``network_data.json``: one link per port, one IPv4 network per fixed IP, DNS services.

    Networks are ``ipv4`` (static) or ``ipv4_dhcp`` when the subnet has DHCP enabled and the
    port's data plane serves DHCP; a ``noop`` VIF has no data plane, hence no DHCP server, so
    the guest is told to configure the address statically instead of waiting for an answer
    that cannot come. DHCP entries also carry ``ip_address``/``netmask``/``routes`` (extra
    keys, harmless to other readers) so our guest init can fall back to static addressing
    when no DHCP server answers.
    """
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    dns: list[str] = []
    for vif in spec.get("network_info") or []:
        link_id = vif.get("devname") or ("tap" + vif["port_id"][:11])
        links.append(
            {
                "id": link_id,
                "type": "phy",
                "ethernet_mac_address": vif.get("mac_address"),
                "mtu": vif.get("mtu"),
                "vif_id": vif["port_id"],
            }
        )
        for ip in vif.get("fixed_ips") or []:
            if ipaddress.ip_address(ip["ip_address"]).version != 4:
                continue
            networks.append(_ipv4_network(f"network{len(networks)}", link_id, vif, ip))
            dns.extend(d for d in ip.get("dns_nameservers") or [] if d not in dns)
    services = [{"type": "dns", "address": d} for d in dns]
    return {"links": links, "networks": networks, "services": services}


def _serves_dhcp(vif: dict[str, Any]) -> bool:
    """Whether the port's data plane can answer DHCP (``noop`` has none)."""
    return (vif.get("vif_type") or "noop") != "noop"


def _ipv4_network(
    net_id: str, link_id: str, vif: dict[str, Any], ip: dict[str, Any]
) -> dict[str, Any]:
    net: dict[str, Any] = {
        "id": net_id,
        "type": "ipv4_dhcp" if ip.get("enable_dhcp") and _serves_dhcp(vif) else "ipv4",
        "link": link_id,
        "ip_address": ip["ip_address"],
        "network_id": vif.get("network_id"),
    }
    if ip.get("cidr"):
        net["netmask"] = str(ipaddress.ip_network(ip["cidr"], strict=False).netmask)
    gateway = ip.get("gateway_ip")
    net["routes"] = (
        [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": gateway}] if gateway else []
    )
    net["services"] = [{"type": "dns", "address": d} for d in ip.get("dns_nameservers") or []]
    return net


def _json(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True).encode()


def _add_dirs(iso: pycdlib.PyCdlib, path: str, made: set[str]) -> None:
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        if sub in made:
            continue
        iso.add_directory(_iso_path(sub, is_dir=True), rr_name=parts[i - 1], joliet_path="/" + sub)
        made.add(sub)


def _iso_path(path: str, is_dir: bool) -> str:
    """Plain ISO9660 (level 3) path of ``path``: upper-case d-characters, ``;1`` on files."""
    parts = [_d_chars(p)[:31] for p in path.split("/")]
    if not is_dir:
        stem, _, ext = path.split("/")[-1].rpartition(".")
        if not stem:
            stem, ext = ext, ""
        parts[-1] = f"{_d_chars(stem)[:24]}.{_d_chars(ext)[:5]};1"
    return "/" + "/".join(parts)


def _d_chars(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())
