"""Claims for any consumer and moving them (the resize/migration mechanism): a migration's
claim on a destination, moved to the instance at confirm, or released at revert; the
Placement allocations and the hypervisors' counters move together."""

from pocketstack.compute.scheduler import claims
from tests.unit.compute.scheduler.test_claims import usage

RES = {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 10}


def allocations(db, consumer):
    placement = claims.placement_for(db)
    view = placement.allocations.get(claims.SERVICE_CTX, consumer)
    names = {
        p.uuid: p.name
        for p in placement.resource_providers.list(claims.SERVICE_CTX, claims.ProviderFilters())
    }
    return {names[uuid]: res for uuid, (_gen, res) in view.allocations.items()}


def two_hosts(db, exact_conf, add_host):
    add_host(db, exact_conf, "src", vcpus=4, memory_mb=4096, local_gb=40)
    add_host(db, exact_conf, "dst", vcpus=4, memory_mb=4096, local_gb=40)
    assert claims.claim(db, "src", "inst", 2, 1024, 10)


def test_confirm_moves_the_migration_claim_to_the_instance(db, exact_conf, add_host):
    two_hosts(db, exact_conf, add_host)
    assert claims.claim_for_consumer(
        db, "migr", "dst", RES, consumer_type=claims.MIGRATION, project_id="p"
    )
    assert allocations(db, "migr") == {"dst": RES}
    assert usage(db, "dst") == (2, 1024, 10, 1)
    assert claims.move_claim(db, "migr", "inst")
    assert allocations(db, "inst") == {"dst": RES}
    assert allocations(db, "migr") == {}
    assert usage(db, "src") == (0, 0, 0, 0)
    assert usage(db, "dst") == (2, 1024, 10, 1)
    assert not claims.move_claim(db, "migr", "inst")  # nothing left to move


def test_revert_releases_the_migration_claim(db, exact_conf, add_host):
    two_hosts(db, exact_conf, add_host)
    assert claims.claim_for_consumer(db, "migr", "dst", RES, consumer_type=claims.MIGRATION)
    assert claims.release(db, "migr")
    assert allocations(db, "inst") == {"src": RES}
    assert usage(db, "dst") == (0, 0, 0, 0)
    assert usage(db, "src") == (2, 1024, 10, 1)


def test_a_destination_without_room_is_refused(db, exact_conf, add_host):
    two_hosts(db, exact_conf, add_host)
    assert claims.claim_for_consumer(db, "other", "dst", {"VCPU": 3})
    assert not claims.claim_for_consumer(db, "migr", "dst", RES)
    assert allocations(db, "migr") == {}


def test_move_to_a_new_consumer(db, exact_conf, add_host):
    two_hosts(db, exact_conf, add_host)
    assert claims.move_claim(db, "inst", "migr")  # Nova's "source held by the migration"
    assert allocations(db, "migr") == {"src": RES}
    assert allocations(db, "inst") == {}
    assert usage(db, "src") == (2, 1024, 10, 1)


def test_claims_made_before_placement_are_adopted_at_the_next_report(db, exact_conf, add_host):
    from pocketstack.compute.models import Allocation
    from pocketstack.compute.scheduler import host_manager

    add_host(db, exact_conf, "old", vcpus=4, memory_mb=4096, local_gb=40)
    with db.transaction() as s:  # a claim as the scheduler wrote them before Placement
        s.add(Allocation(instance_uuid="legacy", host="old", vcpus=1, memory_mb=512, disk_gb=0))
    assert claims.claim(db, "old", "recent", 1, 256, 1)
    host_manager._ADOPTED.clear()  # a controller restarted on the upgraded code
    add_host(db, exact_conf, "old", vcpus=4, memory_mb=4096, local_gb=40)
    assert allocations(db, "legacy") == {"old": {"VCPU": 1, "MEMORY_MB": 512}}
    assert allocations(db, "recent") == {"old": {"VCPU": 1, "MEMORY_MB": 256, "DISK_GB": 1}}
    assert not claims.claim_for_consumer(db, "big", "old", {"VCPU": 3})  # 2 of 4 are held
    add_host(db, exact_conf, "old", vcpus=4, memory_mb=4096, local_gb=40)  # idempotent
    assert allocations(db, "legacy") == {"old": {"VCPU": 1, "MEMORY_MB": 512}}
