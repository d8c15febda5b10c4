"""Quotas: defaults, overrides, usage from live instances, Nova's messages."""

from __future__ import annotations

import types
from typing import Any

import pytest

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute.api.views import absolute_limits, quota_set_view
from pocketstack.compute.models import Instance

ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin",))
DEMO = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member",))
#: a request at microversion 2.1, all the views read of it
AT_2_1: Any = types.SimpleNamespace(api_version=(2, 1))


def add_instances(
    db, project_id: str, count: int, vcpus: int = 1, ram: int = 256, deleted: bool = False
) -> None:
    with db.transaction() as s:
        for i in range(count):
            s.add(
                Instance(
                    name=f"vm{i}",
                    hostname=f"vm{i}",
                    project_id=project_id,
                    user_id="u",
                    flavor={"id": "1"},
                    vcpus=vcpus,
                    memory_mb=ram,
                    root_gb=1,
                    vm_state="active",
                    deleted=deleted,
                )
            )


def test_defaults_are_novas(cloud):
    q = cloud.compute.quotas.get(DEMO, "p-demo").limits
    assert (q["instances"], q["cores"], q["ram"], q["key_pairs"]) == (10, 20, 51200, 100)
    assert q["metadata_items"] == 128 and q["server_groups"] == 10


def test_check_instances_counts_live_servers_only(cloud, db):
    add_instances(db, "p-demo", 10)
    add_instances(db, "p-demo", 5, deleted=True)
    add_instances(db, "p-other", 3)
    with pytest.raises(
        errors.QuotaExceeded,
        match="Quota exceeded for instances: Requested 1, but already used 10 of 10 instances",
    ):
        cloud.compute.quotas.check_instances(DEMO, "p-demo", 1, 1, 256)
    cloud.compute.quotas.check_instances(DEMO, "p-other", 7, 7, 7 * 256)


def test_cores_and_ram_are_totals(cloud, db):
    add_instances(db, "p-demo", 1, vcpus=16, ram=1024)
    with pytest.raises(
        errors.QuotaExceeded, match="cores: Requested 6, but already used 16 of 20 cores"
    ):
        cloud.compute.quotas.check_instances(DEMO, "p-demo", 2, 6, 512)
    cloud.compute.quotas.check_instances(DEMO, "p-demo", 2, 4, 512)


def test_update_show_detail_limits_and_delete(cloud, db):
    add_instances(db, "p-demo", 2, vcpus=2, ram=512)
    with pytest.raises(errors.BadRequest):
        cloud.compute.quotas.update(ADMIN, "p-demo", {"instances": 1})
    with pytest.raises(errors.BadRequest):
        cloud.compute.quotas.update(ADMIN, "p-demo", {"bogus": 1})
    assert cloud.compute.quotas.update(ADMIN, "p-demo", {"instances": 2})["instances"] == 2
    assert cloud.compute.quotas.get(DEMO, "p-demo").in_use == {}  # counted only for detail
    usage = cloud.compute.quotas.get(DEMO, "p-demo", detail=True)
    detail = quota_set_view(AT_2_1, "p-demo", usage.limits, usage.in_use)
    assert detail["instances"] == {"limit": 2, "in_use": 2, "reserved": 0}
    limits = absolute_limits(AT_2_1, cloud.compute.quotas.limits(DEMO, "p-demo"))
    assert limits["maxTotalInstances"] == 2 and limits["totalCoresUsed"] == 4
    assert limits["totalRAMUsed"] == 1024
    with pytest.raises(errors.PolicyNotAuthorized):
        cloud.compute.quotas.get(DEMO, "p-admin")
    cloud.compute.quotas.delete(ADMIN, "p-demo")
    assert cloud.compute.quotas.get(DEMO, "p-demo").limits["instances"] == 10


def test_unlimited(cloud, db):
    cloud.compute.quotas.update(ADMIN, "p-demo", {"instances": -1, "cores": -1, "ram": -1})
    cloud.compute.quotas.check_instances(DEMO, "p-demo", 1000, 1000, 10**6)
