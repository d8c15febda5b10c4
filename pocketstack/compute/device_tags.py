"""Device tags (Nova's "device role tagging", microversions 2.32, 2.42 and 2.49): a user names
a server's NIC or disk with a ``tag`` at create (``networks[].tag``, ``block_device_mapping_v2
[].tag``) or at volume or interface attach, and the guest finds the tags in its metadata: the
``devices`` list of the config drive's ``meta_data.json``.

Microversions, as Nova's schemas: a network's ``tag`` is taken at 2.32-2.36 and from 2.42
(2.37's ``networks`` schema lost it, 2.42 restored it); a block device's at 2.32 and from 2.42
(2.33 lost it); a volume or interface attachment's from 2.49. Elsewhere ``tag`` is 400 ("Additional
properties are not allowed"), as Nova's schema answers (``compute.api.device_tags``).

Where they live: a network's tag in the server's ``requested_networks`` (the request item),
put on its VIF in the ``InstanceSpec``'s ``network_info`` (``tag_vifs``) when the spec is
built; an attached interface's in the spec's ``device_tags`` (port id -> tag, applied to the
VIFs at each interface change, ``interfaces.Interfaces.tags``); a block device's in its
mapping's ``tag`` (``block_devices[].tag`` of the spec).

``devices`` entries (Nova's metadata shape; only tagged devices are listed)::

    {"type": "nic", "bus": "pci", "mac": "fa:16:3e:..", "tags": ["t"]}
    {"type": "disk", "bus": "virtio", "serial": "<volume id>", "path": "/dev/vdb",
     "tags": ["t"]}

Nova adds the PCI ``address`` from libvirt's XML; this cloud does not know the guest's PCI
addresses when it writes the drive, so entries have none. Devices attached after boot are
not on the config drive (Nova's metadata service would show them; there is none here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def keep_tags(requested: list[dict[str, Any]], checked: list[dict[str, Any]]) -> list[Any]:
    """The Network service's checked request items (``validate_networks``: same order, one
    per requested item) with the ``tag`` each requested item had."""
    if len(requested) != len(checked):
        return checked
    return [
        {**item, "tag": asked["tag"]} if asked.get("tag") else item
        for asked, item in zip(requested, checked, strict=True)
    ]


def tag_vifs(
    network_info: list[dict[str, Any]], requested: list[Any] | str | None
) -> list[dict[str, Any]]:
    """``network_info`` with each VIF's ``tag`` from the request item that made it: an item
    naming a port tags that port; the others tag the new ports in order. Untagged VIFs are
    left as they are."""
    items = [r for r in requested or [] if isinstance(r, dict)]
    if not any(r.get("tag") for r in items):
        return network_info
    by_port = {r["port"]: r["tag"] for r in items if r.get("port") and r.get("tag")}
    in_order = [r.get("tag") for r in items if not r.get("port")]
    claimed = {r["port"] for r in items if r.get("port")}
    out = []
    for vif in network_info:
        vif = dict(vif)
        port = vif.get("port_id")
        if port in by_port:
            vif["tag"] = by_port[port]
        elif port not in claimed and in_order:
            tag = in_order.pop(0)
            if tag:
                vif["tag"] = tag
        out.append(vif)
    return out


def devices(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``devices`` list of ``meta_data.json`` for the tagged NICs and disks of ``spec``
    (an ``InstanceSpec``), NICs first, in the guest's order."""
    found: list[dict[str, Any]] = []
    for vif in spec.get("network_info") or []:
        if vif.get("tag"):
            found.append(
                {"type": "nic", "bus": "pci", "mac": vif.get("mac_address"), "tags": [vif["tag"]]}
            )
    for disk in spec.get("block_devices") or []:
        if disk.get("tag"):
            entry = {"type": "disk", "bus": disk.get("disk_bus") or "virtio"}
            entry.update(serial=disk.get("volume_id"), path=disk.get("device_name"))
            entry["tags"] = [disk["tag"]]
            found.append(entry)
    return found
