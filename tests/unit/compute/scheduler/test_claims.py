"""Atomic claims: never more than a host holds, idempotent claim and release."""

import threading
import uuid

import pytest
import sqlalchemy as sa

from pocketstack.compute.models import Allocation, ComputeNode
from pocketstack.compute.scheduler import claims

N = 13  # instances of 1 vCPU / 256 MB the test host holds
THREADS = 40


def usage(db, host="node1"):
    with db.reader() as s:
        n = s.execute(sa.select(ComputeNode).where(ComputeNode.host == host)).scalar_one()
        return n.vcpus_used, n.memory_mb_used, n.local_gb_used, n.running_vms


def allocation_sums(db, host="node1"):
    with db.reader() as s:
        row = s.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(Allocation.vcpus), 0),
                sa.func.coalesce(sa.func.sum(Allocation.memory_mb), 0),
                sa.func.coalesce(sa.func.sum(Allocation.disk_gb), 0),
                sa.func.count(Allocation.instance_uuid),
            ).where(Allocation.host == host)
        ).one()
        return tuple(int(v) for v in row)


def test_claim_counts_and_release_gives_back(db, exact_conf, add_host):
    add_host(db, exact_conf, "node1", vcpus=4, memory_mb=4096, local_gb=40)
    assert claims.claim(db, "node1", "i1", 2, 1024, 10)
    assert usage(db) == (2, 1024, 10, 1)
    assert claims.release(db, "i1")
    assert usage(db) == (0, 0, 0, 0)


def test_claim_is_idempotent_per_instance(db, exact_conf, add_host):
    add_host(db, exact_conf, "node1", vcpus=4, memory_mb=4096, local_gb=40)
    assert claims.claim(db, "node1", "i1", 2, 1024, 10)
    assert claims.claim(db, "node1", "i1", 2, 1024, 10)
    assert usage(db) == (2, 1024, 10, 1)


def test_release_is_idempotent(db, exact_conf, add_host):
    add_host(db, exact_conf, "node1", vcpus=4, memory_mb=4096, local_gb=40)
    claims.claim(db, "node1", "i1", 1, 512, 1)
    claims.claim(db, "node1", "i2", 1, 512, 1)
    assert claims.release(db, "i1")
    assert not claims.release(db, "i1")
    assert not claims.release(db, "never-claimed")
    assert usage(db) == (1, 512, 1, 1)


@pytest.mark.parametrize(
    "request_", [(5, 256, 1), (1, 4097, 1), (1, 256, 41)], ids=["vcpus", "ram", "disk"]
)
def test_claim_over_capacity_is_lost_and_changes_nothing(db, exact_conf, add_host, request_):
    add_host(db, exact_conf, "node1", vcpus=4, memory_mb=4096, local_gb=40)
    assert not claims.claim(db, "node1", "i1", *request_)
    assert usage(db) == (0, 0, 0, 0)
    assert allocation_sums(db) == (0, 0, 0, 0)


def test_claim_limits_count_ratio_and_reserved_memory(db, conf, add_host):
    add_host(
        db,
        conf,
        "node1",
        vcpus=2,
        memory_mb=2048,
        local_gb=10,
        cpu_allocation_ratio=4.0,
        ram_allocation_ratio=1.5,
        reserved_host_memory_mb=512,
    )
    # 2*4 vCPUs, (2048-512)*1.5 MiB: Placement's capacity, (total - reserved) * ratio;
    # one claim is at most the host's total (the inventory's max_unit)
    for i in range(4):
        assert claims.claim(db, "node1", f"i{i}", 2, 576, 0)
    assert not claims.claim(db, "node1", "big", 3, 1, 0)
    assert not claims.claim(db, "node1", "i5", 1, 1, 0)


def test_claim_on_unknown_host_is_lost(db):
    assert not claims.claim(db, "nowhere", "i1", 1, 256, 1)


def test_claim_elsewhere_moves_the_allocation(db, exact_conf, add_host):
    add_host(db, exact_conf, "node1", vcpus=4, memory_mb=4096, local_gb=40)
    add_host(db, exact_conf, "node2", vcpus=1, memory_mb=4096, local_gb=40)
    assert claims.claim(db, "node1", "i1", 2, 1024, 10)
    assert not claims.claim(db, "node2", "i1", 2, 1024, 10)  # does not fit: stays
    assert usage(db, "node1") == (2, 1024, 10, 1)
    assert claims.claim(db, "node2", "i1", 1, 1024, 10)
    assert usage(db, "node1") == (0, 0, 0, 0)
    assert usage(db, "node2") == (1, 1024, 10, 1)


def race(db, host, threads=THREADS):
    """``threads`` threads each claim 1 vCPU / 256 MB on ``host`` at the same moment."""
    barrier = threading.Barrier(threads)
    results: list[bool] = []
    errors: list[BaseException] = []

    def one():
        try:
            barrier.wait()
            results.append(claims.claim(db, host, str(uuid.uuid4()), 1, 256, 0))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    return results


def check_race(db, exact_conf, add_host):
    add_host(db, exact_conf, "node1", vcpus=N, memory_mb=N * 256, local_gb=10)
    results = race(db, "node1")
    assert results.count(True) == N
    assert results.count(False) == THREADS - N
    vcpus, memory_mb, disk_gb, count = allocation_sums(db)
    assert (vcpus, memory_mb, count) == (N, N * 256, N)
    assert usage(db) == (vcpus, memory_mb, disk_gb, count)


def test_concurrent_claims_never_overcommit_sqlite(db, exact_conf, add_host):
    check_race(db, exact_conf, add_host)


def test_concurrent_claims_never_overcommit_postgresql(pg_db, exact_conf, add_host):
    check_race(pg_db, exact_conf, add_host)


def test_concurrent_release_subtracts_once_postgresql(pg_db, exact_conf, add_host):
    add_host(pg_db, exact_conf, "node1", vcpus=4, memory_mb=4096, local_gb=40)
    claims.claim(pg_db, "node1", "i1", 2, 1024, 10)
    barrier = threading.Barrier(10)
    outcomes: list[bool] = []

    def one():
        barrier.wait()
        outcomes.append(claims.release(pg_db, "i1"))

    workers = [threading.Thread(target=one) for _ in range(10)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert outcomes.count(True) == 1
    assert usage(pg_db) == (0, 0, 0, 0)
