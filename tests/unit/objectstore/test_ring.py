"""The ring: balance, dispersion, minimal movement, min_part_hours, Swift's read API, files,
and ``pocketstack ring``."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter

import pytest

from pocketstack import cli
from pocketstack.objectstore.builder import NONE_DEV, RingBuilder, RingBuilderError
from pocketstack.objectstore.ring import Ring, RingError

HOUR = 3600.0


def builder_with(
    zones: list[int],
    weights: list[float] | None = None,
    part_power: int = 8,
    replicas: int = 3,
    min_part_hours: int = 0,
) -> RingBuilder:
    b = RingBuilder(part_power, replicas, min_part_hours)
    for i, zone in enumerate(zones):
        b.add_dev(
            {
                "region": 1,
                "zone": zone,
                "ip": f"10.0.0.{i + 1}",
                "port": 6200,
                "device": f"sd{i}",
                "weight": (weights or [100.0] * len(zones))[i],
            }
        )
    return b


def placement(b: RingBuilder) -> list[list[int]]:
    return [list(row) for row in b.replica2part2dev or []]


def moved_fraction(before: list[list[int]], b: RingBuilder) -> float:
    """Fraction of (partition, replica) slots whose set membership changed: a replica that
    only swapped replica index with another of the same partition did not move data."""
    after = placement(b)
    moved = 0
    for part in range(b.parts):
        old = Counter(row[part] for row in before)
        new = Counter(row[part] for row in after)
        moved += sum((new - old).values())
    return moved / (b.parts * b.replicas)


def zones_of(b: RingBuilder, part: int) -> list[int]:
    return [b.devs[row[part]]["zone"] for row in placement(b)]  # type: ignore[index]


def test_replicas_of_a_partition_sit_in_distinct_zones_and_devices_are_balanced():
    b = builder_with([1, 1, 2, 2, 3, 3])
    b.rebalance(seed=1)
    for part in range(b.parts):
        assert len(set(zones_of(b, part))) == 3
    assert b.dispersion() == 0.0
    counts = b.assigned_counts()
    assert set(counts.values()) == {128}  # 256 parts * 3 replicas / 6 devices
    assert b.balance() == 0.0


def test_fewer_zones_than_replicas_still_spread_over_devices():
    b = builder_with([1, 1, 2, 2])
    b.rebalance(seed=1)
    for part in range(b.parts):
        devs = [row[part] for row in placement(b)]
        assert len(set(devs)) == 3  # distinct devices
        assert sorted(Counter(zones_of(b, part)).values()) == [1, 2]  # both zones used
    assert b.dispersion() == 0.0


def test_partitions_follow_the_weights():
    b = builder_with([1, 2, 3, 1, 2, 3], weights=[100, 100, 100, 200, 200, 200])
    b.rebalance(seed=3)
    counts = b.assigned_counts()
    assert counts[3] == pytest.approx(2 * counts[0], rel=0.02)
    assert b.balance() < 1.0
    assert b.dispersion() == 0.0


def test_adding_a_device_moves_only_its_share():
    b = builder_with([1, 2, 3, 4])
    b.rebalance(seed=1, now=0)
    before = placement(b)
    b.add_dev(
        {"region": 1, "zone": 5, "ip": "10.0.0.9", "port": 6200, "device": "sd9", "weight": 100}
    )
    b.rebalance(seed=1, now=10 * HOUR)
    # the new device's fair share is 1/5 of all replicas; that is the least that can move
    assert moved_fraction(before, b) == pytest.approx(0.2, abs=0.01)
    counts, wanted = b.assigned_counts(), b.wanted()
    assert all(abs(counts[d] - wanted[d]) < 2 for d in wanted)  # whole partitions: +-1.6
    assert b.dispersion() == 0.0


def test_removing_a_device_moves_only_its_replicas():
    b = builder_with([1, 2, 3, 4, 5])
    b.rebalance(seed=1, now=0)
    before = placement(b)
    held = b.assigned_counts()[2]
    b.remove_dev(2)
    b.rebalance(seed=1, now=0)  # removed devices' replicas move even within min_part_hours
    assert moved_fraction(before, b) == pytest.approx(held / (b.parts * 3), abs=0.005)
    assert 2 not in b.assigned_counts()
    assert b.devs[2] is None
    assert b.balance() < 1.0 and b.dispersion() == 0.0


def test_min_part_hours_moves_at_most_one_replica_of_a_partition_per_rebalance():
    b = builder_with([1, 2, 3], min_part_hours=1)
    b.rebalance(seed=1, now=0)
    for i in range(3):  # a second server in every zone: up to 3 replicas per part could move
        b.add_dev(
            {
                "region": 1,
                "zone": i + 1,
                "ip": f"10.0.1.{i}",
                "port": 6200,
                "device": "sdx",
                "weight": 300,
            }
        )
    assert b.rebalance(seed=1, now=0.5 * HOUR) == 0  # too soon: nothing may move
    before = placement(b)
    b.rebalance(seed=1, now=2 * HOUR)
    after = placement(b)
    for part in range(b.parts):
        changed = sum(1 for r in range(3) if before[r][part] != after[r][part])
        assert changed <= 1
    assert b.balance() > 10  # still converging: more rebalances to go
    for hour in (4, 6, 8, 10):
        b.rebalance(seed=1, now=hour * HOUR)
    assert b.balance() < 2.0


def test_too_few_devices_and_bad_devices_are_refused():
    b = builder_with([1, 2])
    with pytest.raises(RingBuilderError, match="at least 3"):
        b.rebalance()
    with pytest.raises(RingBuilderError, match="exists"):
        b.add_dev({"zone": 1, "ip": "10.0.0.1", "port": 6200, "device": "sd0", "weight": 1})
    for bad in ("..", "a/b", ""):
        with pytest.raises(RingBuilderError):
            b.add_dev({"zone": 1, "ip": "10.0.0.7", "port": 1, "device": bad, "weight": 1})
    with pytest.raises(RingBuilderError):
        b.remove_dev(42)


def test_get_nodes_gives_the_partitions_primaries_and_handoffs_avoid_their_zones(tmp_path):
    b = builder_with([1, 1, 2, 2, 3, 3, 4, 4])
    b.rebalance(seed=5)
    b.write_ring(tmp_path / "object.ring.gz")
    ring = Ring(tmp_path / "object.ring.gz")
    part, nodes = ring.get_nodes("AUTH_a", "photos", "cat.jpg")
    assert part == ring.get_part("AUTH_a", "photos", "cat.jpg")
    assert 0 <= part < ring.partition_count == 256
    assert [n["index"] for n in nodes] == [0, 1, 2]
    assert len({n["zone"] for n in nodes}) == 3
    assert {"id", "region", "zone", "ip", "port", "device", "weight"} <= set(nodes[0])
    handoffs = list(ring.get_more_nodes(part))
    assert len(handoffs) == 5  # every other device, once
    assert not {n["id"] for n in handoffs} & {n["id"] for n in nodes}
    assert handoffs[0]["zone"] not in {n["zone"] for n in nodes}  # the unused zone first
    assert [n["handoff_index"] for n in handoffs] == list(range(5))
    assert [n["id"] for n in ring.get_more_nodes(part)] == [n["id"] for n in handoffs]
    # account, container and object names land on different partitions in general
    parts = {ring.get_part("AUTH_a", "c", f"o{i}") for i in range(200)}
    assert len(parts) > 100


def test_the_ring_file_carries_the_hash_suffix_and_reloads_when_replaced(tmp_path):
    b = builder_with([1, 2, 3])
    b.rebalance(seed=1)
    path = tmp_path / "object.ring.gz"
    b.write_ring(path)
    data = json.loads(gzip.decompress(path.read_bytes()))
    assert data["hash_path_suffix"] == b.hash_path_suffix and len(b.hash_path_suffix) == 32
    ring = Ring(path, reload_time=0)
    version = ring.version
    b.add_dev({"zone": 4, "ip": "10.0.0.4", "port": 6200, "device": "sd3", "weight": 100})
    b.rebalance(seed=1)
    b.write_ring(path)
    assert ring.version > version
    assert len([d for d in ring.devs if d]) == 4
    path.write_bytes(b"garbage")  # a broken file keeps the last good ring
    os.utime(path, (1, 1))
    assert len([d for d in ring.devs if d]) == 4
    with pytest.raises(RingError):
        Ring(path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_builder_file_round_trip_keeps_the_assignment(tmp_path):
    b = builder_with([1, 2, 3], min_part_hours=2)
    b.rebalance(seed=1, now=123.0)
    b.save(tmp_path / "o.builder")
    again = RingBuilder.load(tmp_path / "o.builder")
    assert placement(again) == placement(b)
    assert again.hash_path_suffix == b.hash_path_suffix
    assert again.last_part_moves[0] == 123.0
    assert NONE_DEV not in again.assigned_counts()


def test_ring_command_builds_and_rebalances(tmp_path, capsys):
    builder = str(tmp_path / "object.builder")
    cli.main(
        ["ring", "create", builder, "--part-power", "6", "--replicas", "3", "--min-part-hours", "0"]
    )
    for i in range(4):
        cli.main(
            [
                "ring",
                "add",
                builder,
                "--zone",
                str(i + 1),
                "--ip",
                "127.0.0.1",
                "--port",
                str(6200 + i),
                "--device",
                f"d{i}",
                "--weight",
                "100",
            ]
        )
    cli.main(["ring", "rebalance", builder])
    ring = Ring(tmp_path / "object.ring.gz")
    assert len({n["port"] for n in ring.get_nodes("AUTH_x")[1]}) == 3
    cli.main(["ring", "remove", builder, "--port", "6203"])
    cli.main(["ring", "rebalance", builder])
    out = capsys.readouterr().out
    assert "reassigned 48 of 192 replicas (25.00%)" in out  # exactly the removed share
    cli.main(["ring", "show", builder])
    shown = capsys.readouterr().out
    assert "6203" not in shown and "balance 0.00, dispersion 0.00" in shown
    with pytest.raises(SystemExit, match="no device matches"):
        cli.main(["ring", "set-weight", builder, "--device", "nosuch", "--weight", "1"])
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["ring", "create", builder, "--part-power", "6"])
