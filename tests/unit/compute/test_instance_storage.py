"""Shared vs local instance storage (``compute.instance_storage``): what the agent reports,
what the conductor writes on the compute node, ``instance_storage_shared`` and the
hypervisor view's extra fields."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from pocketstack.compute import instance_storage, liveness
from pocketstack.compute.api.views import hypervisor_view
from pocketstack.compute.models import ComputeNode
from pocketstack.compute.scheduler import host_manager

RESOURCES = {"vcpus": 4, "memory_mb": 8192, "local_gb": 50, "hypervisor_type": "fake"}


def _report(db, conf, host, **storage):
    liveness.report_service(db, host)
    node_conf = conf.replace(**storage) if storage else conf
    resources = {**RESOURCES, **instance_storage.report(node_conf)}
    host_manager.report_compute_node(db, conf, host, resources)


def test_report_defaults_to_local_storage_under_the_state_dir(conf):
    assert instance_storage.report(conf) == {
        "instances_path": str(Path(conf.state_dir, "instances").absolute()),
        "instances_shared_storage": False,
    }


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ({"instances_shared_storage": True}, {"instances_shared_storage": True}, True),
        ({"instances_shared_storage": True}, {}, False),
        ({}, {}, False),
    ],
)
def test_shared_only_when_both_hosts_share_one_directory(cloud, db, conf, tmp_path, a, b, shared):
    path = str(tmp_path / "shared")
    _report(db, conf, "node1", instances_path=path, **a)
    _report(db, conf, "node2", instances_path=path, **b)
    assert instance_storage.instance_storage_shared(cloud, "node1", "node2") is shared
    assert instance_storage.instance_storage_shared(cloud, "node2", "node1") is shared


def test_different_directories_unknown_hosts_and_one_host_are_not_shared(cloud, db, conf, tmp_path):
    _report(db, conf, "node1", instances_path=str(tmp_path / "a"), instances_shared_storage=True)
    _report(db, conf, "node2", instances_path=str(tmp_path / "b"), instances_shared_storage=True)
    assert not instance_storage.instance_storage_shared(cloud, "node1", "node2")
    assert not instance_storage.instance_storage_shared(cloud, "node1", "nowhere")
    assert not instance_storage.instance_storage_shared(cloud, "node1", "node1")


def test_hypervisor_show_has_the_storage_fields(cloud, db, conf, tmp_path):
    path = str(tmp_path / "shared")
    _report(db, conf, "node1", instances_path=path, instances_shared_storage=True)
    with db.reader() as s:
        node = s.query(ComputeNode).filter_by(host="node1").one()
    req = types.SimpleNamespace(headers={}, ctx=None, api_version=(2, 88))
    view = hypervisor_view(req, node, None, True, detail=True)
    assert view["instances_path"] == path and view["instances_shared_storage"] is True
    # before 2.88 the view is exactly Nova's (tempest's schemas refuse extra fields)
    old = hypervisor_view(
        types.SimpleNamespace(headers={}, ctx=None, api_version=(2, 53)),
        node,
        None,
        True,
        detail=True,
    )
    assert "instances_path" not in old and "instances_shared_storage" not in old
