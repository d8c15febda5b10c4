"""The ``InstanceSpec`` (``drivers.base``) a compute agent spawns from: everything the agent
needs of a server, since it has no database (ARCHITECTURE.md). Built by the conductor for a
build, an unshelve, a resize or a move (``build_spec``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.compute import device_tags

if TYPE_CHECKING:
    from pocketstack.compute.models import Instance
    from pocketstack.compute.request_spec import ImageMeta
    from pocketstack.service import Cloud


def build_spec(
    cloud: Cloud,
    inst: Instance,
    image: ImageMeta,
    network_info: list[dict[str, Any]],
    zone: str | None,
    host: str,
    volume_backed: bool = False,
) -> dict[str, Any]:
    """The ``InstanceSpec`` (``drivers.base``) of a server; ``image`` as the request spec
    has it (``request_spec.ImageMeta``); ``volume_backed``: it boots from a volume (no
    local root disk, no image file)."""
    # The image's file in the controller's store; an agent on a host where that file is not
    # (another machine, or a store without files: swift) downloads it from the URL instead
    # (``image_cache.ensure_image``).
    local = None if volume_backed else cloud.image.image_path(image["id"])
    path = str(local) if local is not None else ""
    public_keys = {inst.key_name: inst.key_data} if inst.key_name and inst.key_data else {}
    return {
        "uuid": inst.uuid,
        "name": inst.name,
        "hostname": inst.hostname,
        "project_id": inst.project_id,
        "user_id": inst.user_id,
        "host": host,
        "vcpus": inst.vcpus,
        "memory_mb": inst.memory_mb,
        "root_gb": inst.root_gb,
        "ephemeral_gb": inst.ephemeral_gb,
        "swap_mb": int((inst.flavor or {}).get("swap") or 0),
        "image": {
            "id": image["id"],
            "disk_format": image.get("disk_format"),
            "size": image.get("size"),
            "properties": dict(image.get("properties") or {}),
            "path": path,
            "url": f"{cloud.conf.public_url}/image/v2/images/{image['id']}/file",
        },
        "network_info": device_tags.tag_vifs(network_info, inst.requested_networks),
        "metadata": dict(inst.metadata_ or {}),
        "user_data": inst.user_data,
        "public_keys": public_keys,
        "availability_zone": zone,
        "launch_index": inst.launch_index,
        "config_drive": inst.config_drive,
        "boot_from_volume": volume_backed,
        "block_devices": [],
    }
