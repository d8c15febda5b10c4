"""The volume service's managers over the test database and an in-process bus, with a
small volume agent served on that bus for ``volume.node1`` (``StubAgent``): a real bus
endpoint answering the agent messages of ``rpcapi.AGENT_MESSAGES`` with the result casts of
docs/block-storage.md, so the controller side is driven end to end without a driver."""

from __future__ import annotations

from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.volume import rpcapi
from pocketstack.volume.rpcapi import VolumeServerClient
from tests.helpers import wait_until

HOST = "node1"
DEMO = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member", "reader"))
OTHER = RequestContext(user_id="u-other", project_id="p-other", roles=("member", "reader"))
READER = RequestContext(user_id="u-reader", project_id="p-demo", roles=("reader",))
ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member"))

CAPABILITIES = {
    "total_capacity_gb": 100.0,
    "free_capacity_gb": 100.0,
    "provisioned_capacity_gb": 0.0,
    "thin_provisioning_support": True,
    "max_over_subscription_ratio": 1.0,
    "storage_protocol": "iSCSI",
    "volume_backend_name": "file",
}


class StubAgent:
    """A volume agent that does every operation at once and casts its result; what it was
    asked is in ``calls`` (name, args). ``fail`` names operations that fail."""

    def __init__(self, bus: Any):
        self.server = VolumeServerClient(bus)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: set[str] = set()

    def _result(self, ctx: RequestContext, op: str, message: str, ok: str, bad: str, **args: Any):
        failed = op in self.fail
        self.server.result(
            ctx, message, status=bad if failed else ok, fault="boom" if failed else None, **args
        )

    def create_volume(self, ctx, volume, source):
        self.calls.append(("create_volume", {"volume": volume, "source": source}))
        self._result(
            ctx,
            "create_volume",
            "volume_created",
            "available",
            "error",
            volume_id=volume["id"],
            size=volume["size"],
            bootable=source["type"] == "image",
            provider_location=f"volume-{volume['id']}",
        )

    def delete_volume(self, ctx, volume_id):
        self.calls.append(("delete_volume", {"volume_id": volume_id}))
        self._result(
            ctx, "delete_volume", "volume_deleted", "deleted", "error_deleting", volume_id=volume_id
        )

    def extend_volume(self, ctx, volume_id, new_size):
        """A failed extend reports no new size (the file kept its size)."""
        self.calls.append(("extend_volume", {"volume_id": volume_id, "new_size": new_size}))
        failed = "extend_volume" in self.fail
        self._result(
            ctx,
            "extend_volume",
            "volume_extended",
            "available",
            "error_extending",
            volume_id=volume_id,
            new_size=None if failed else new_size,
        )

    def create_snapshot(self, ctx, snapshot):
        self.calls.append(("create_snapshot", {"snapshot": snapshot}))
        self._result(
            ctx,
            "create_snapshot",
            "snapshot_created",
            "available",
            "error",
            snapshot_id=snapshot["id"],
            volume_id=snapshot["volume_id"],
        )

    def delete_snapshot(self, ctx, snapshot_id, volume_id):
        self.calls.append(("delete_snapshot", {"snapshot_id": snapshot_id}))
        self._result(
            ctx,
            "delete_snapshot",
            "snapshot_deleted",
            "deleted",
            "error_deleting",
            snapshot_id=snapshot_id,
            volume_id=volume_id,
        )

    def initialize_connection(self, ctx, volume_id, attachment_id, connector):
        self.calls.append(("initialize_connection", {"volume_id": volume_id}))
        if "initialize_connection" in self.fail:
            raise RuntimeError("export failed")
        return {
            "driver_volume_type": "iscsi",
            "data": {
                "target_portal": "127.0.0.1:3260",
                "target_iqn": f"iqn.2010-10.org.openstack:volume-{volume_id}",
                "target_lun": 1,
                "auth_method": "CHAP",
                "auth_username": f"att-{attachment_id[:8]}",
                "auth_password": "secret",
                "volume_id": volume_id,
                "encrypted": False,
            },
        }

    def terminate_connection(self, ctx, volume_id, attachment_id):
        self.calls.append(("terminate_connection", {"attachment_id": attachment_id}))

    def copy_volume_to_image(self, ctx, volume_id, image):
        self.calls.append(("copy_volume_to_image", {"volume_id": volume_id, "image": image}))
        self._result(
            ctx,
            "copy_volume_to_image",
            "volume_uploaded",
            "available",
            "error",
            volume_id=volume_id,
            image_id=image["id"],
        )

    def create_backup(self, ctx, **args):
        self.calls.append(("create_backup", args))

    def restore_backup(self, ctx, **args):
        self.calls.append(("restore_backup", args))

    def delete_backup(self, ctx, **args):
        self.calls.append(("delete_backup", args))

    def sync(self, ctx):
        self.calls.append(("sync", {}))


@pytest.fixture
def volume_cloud(cloud):
    """``cloud`` with the volume agents' endpoint served, the default type made and one
    storage host ``node1`` reporting 100 GiB (thin, ratio 1); yields ``(cloud, agent)``."""
    from pocketstack.volume.agent_reports import VolumeAgentReports

    cloud.bus.serve(rpcapi.SERVER_TOPIC, cloud.volume.agent_reports, rpcapi.SERVER_MESSAGES)
    agent = StubAgent(cloud.bus)
    cloud.bus.serve(rpcapi.agent_target(HOST), agent, rpcapi.AGENT_MESSAGES)
    cloud.volume.bootstrap()
    VolumeAgentReports(cloud).report_state(
        RequestContext.system(),
        {
            "host": HOST,
            "backend": f"{HOST}@file",
            "availability_zone": "nova",
            "capabilities": dict(CAPABILITIES),
        },
    )
    yield cloud, agent
    cloud.bus.unserve(rpcapi.agent_target(HOST))
    cloud.bus.unserve(rpcapi.SERVER_TOPIC)


def wait_status(cloud: Any, volume_id: str, status: str, ctx: RequestContext = DEMO) -> Any:
    """The volume once its status is ``status`` (10 s deadline)."""
    last: dict[str, str] = {}

    def reached() -> Any:
        rec = cloud.volume.volumes.get(ctx, volume_id)
        last["status"] = rec.volume.status
        return rec if rec.volume.status == status else None

    return wait_until(reached, 10, f"volume {volume_id} to be {status}", detail=lambda: str(last))


@pytest.fixture
def api(volume_cloud, conf):
    """``call(method, path, body=None, token="demo", version=None)``: the Block Storage API
    of ``volume_cloud`` in-process (tokens ``admin``, ``demo``, ``other``, ``reader``), paths below
    ``/volume/v3``; yields ``(call, cloud, agent)``."""
    import json as _json

    from starlette.testclient import TestClient

    from pocketstack.volume.api import API
    from tests.helpers import FixedTokens, service_app

    cloud, agent = volume_cloud
    users = {"admin": ADMIN, "demo": DEMO, "other": OTHER, "reader": READER}
    with TestClient(service_app(API, conf, cloud, FixedTokens(users))) as client:

        def call(method, path, body=None, token="demo", version=None):
            headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
            if version:
                headers["OpenStack-API-Version"] = f"volume {version}"
            content = None if body is None else _json.dumps(body)
            return client.request(method, "/volume/v3" + path, content=content, headers=headers)

        yield call, cloud, agent
