"""``pocketstack object-status`` against a real node: the counts come from its /recon/object,
a quarantined object and a replication pass show, a node that does not answer is
``unreachable`` with exit status 1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pocketstack.cli import main
from pocketstack.objectstore import status_cli
from pocketstack.objectstore.auditor import Auditor
from pocketstack.objectstore.replicator import Replicator

from .conftest import Node, start_node


def test_counts_quarantine_and_replication(storage_node: Node, capsys):
    node = storage_node
    node.make_account()
    node.make_container()
    for i in range(4):
        assert node.put(f"o{i}", b"x" * 1000).status == 201
    name_hash = node.ring.hash_path("AUTH_a", "c", "o0")
    (data,) = node.device.glob(f"objects/*/*/{name_hash}/*.data")
    data.write_bytes(b"y" * 1000)
    Auditor(node.server.node, interval=0).run_once(limited=False)
    Replicator(node.server.node, "127.0.0.1", node.server.port, interval=0).run_once()

    (report,) = status_cli.collect(node.ring)
    assert report["objects"] == 3 and report["bytes"] == 3000
    assert report["quarantined"] == {"objects": 1, "containers": 0, "accounts": 0}
    assert report["handoffs_pending"] == 0 and report["containers"] == 1
    assert report["partitions"] == len(list(node.device.glob("objects/[0-9]*")))
    assert report["replication"]["finished"] >= report["replication"]["started"]
    assert report["auditor"]["quarantined"] == 1

    with pytest.raises(SystemExit) as done:
        main(["object-status", "--object-ring", str(node.root.parent / "object.ring.gz")])
    assert done.value.code == 0
    out = capsys.readouterr().out
    header, row = out.strip().splitlines()
    assert header.split()[:3] == ["NODE", "DEVICES", "PARTS"]
    assert row.split()[:2] == [f"127.0.0.1:{node.server.port}", "d1"]
    assert "s ago" in row


def test_handoffs_pending_counts_partitions_not_ours(storage_node: Node):
    node = storage_node
    (node.root / "d9" / "objects" / "5").mkdir(parents=True)  # d9 is in no ring
    (report,) = status_cli.collect(node.ring)
    assert report["devices"] == ["d1", "d9"]
    assert report["handoffs_pending"] == 1


def test_unreachable_node(tmp_path: Path, capsys):
    node = start_node(tmp_path)
    node.server.stop()
    with pytest.raises(SystemExit) as done:
        main(["object-status", "--object-ring", str(tmp_path / "object.ring.gz")])
    assert done.value.code == 1
    assert "unreachable" in capsys.readouterr().out


def test_recon_endpoints(storage_node: Node):
    assert storage_node.call("GET", "/recon/quarantined").json() == {
        "objects": 0,
        "containers": 0,
        "accounts": 0,
    }
    assert storage_node.call("GET", "/recon/async").json() == {"async_pending": 0}
    usage = storage_node.call("GET", "/recon/diskusage").json()
    assert usage[0]["device"] == "d1" and usage[0]["size"] > 0  # type: ignore[index]
    assert storage_node.call("GET", "/recon/nothing").status == 404
    assert json.loads(storage_node.call("GET", "/recon/auditor").body) is None
    assert os.path.isdir(storage_node.device)
