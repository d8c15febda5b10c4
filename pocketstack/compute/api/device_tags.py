"""Device tags in request bodies, by microversion (see ``pocketstack.compute.device_tags``):
a network's ``tag`` at 2.32-2.36 and from 2.42, a block device's at 2.32 and from 2.42, a
volume or interface attachment's from 2.49; elsewhere 400 as Nova's schemas answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ApiRequest
from pocketstack.compute.api.microversion import api_version


def _refuse(field: str, value: Any) -> errors.BadRequest:
    return errors.BadRequest(
        f"Invalid input for field/attribute {field}. Value: {value!r}. "
        "Additional properties are not allowed ('tag' was unexpected)"
    )


def check_create(req: ApiRequest, server: Mapping[str, Any]) -> None:
    """Refuse ``tag`` on a network or block device at a microversion without it.

    Raises:
        errors.BadRequest: a network ``tag`` outside 2.32-2.36 and 2.42+, a block device
            ``tag`` outside 2.32 and 2.42+.
    """
    version = api_version(req)
    networks = server.get("networks")
    if isinstance(networks, list):
        net_ok = (2, 32) <= version <= (2, 36) or version >= (2, 42)
        for item in networks:
            if isinstance(item, dict) and "tag" in item and not net_ok:
                raise _refuse("networks", item)
    bdm_ok = version == (2, 32) or version >= (2, 42)
    for item in server.get("block_device_mapping_v2") or []:
        if isinstance(item, dict) and "tag" in item and not bdm_ok:
            raise _refuse("block_device_mapping_v2", item)


def check_interface_attach(req: ApiRequest, body: Mapping[str, Any]) -> None:
    """Refuse an interface attachment's ``tag`` before 2.49.

    Raises:
        errors.BadRequest: ``tag`` before 2.49.
    """
    if "tag" in body and api_version(req) < (2, 49):
        raise _refuse("interfaceAttachment", dict(body))


def check_volume_attach(req: ApiRequest, body: Mapping[str, Any]) -> None:
    """Refuse a volume attachment's ``tag`` before 2.49.

    Raises:
        errors.BadRequest: ``tag`` before 2.49.
    """
    if "tag" in body and api_version(req) < (2, 49):
        raise _refuse("volumeAttachment", dict(body))
