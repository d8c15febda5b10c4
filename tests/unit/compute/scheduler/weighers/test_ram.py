"""RAMWeigher: free RAM after ratio and reserved memory; spread or pack by the multiplier."""

from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import weigh_hosts
from pocketstack.compute.scheduler.weighers.ram import RAMWeigher


def host(name, used):
    return HostState(
        name,
        name,
        memory_mb=4096,
        memory_mb_used=used,
        ram_allocation_ratio=1.5,
        reserved_host_memory_mb=512,
    )


def test_weighs_free_ram():
    assert RAMWeigher().weigh(host("a", 1000), {}) == 4096 * 1.5 - 512 - 1000


def test_positive_multiplier_prefers_most_free_ram(conf):
    hosts = [host("full", 3000), host("empty", 0), host("half", 1500)]
    ranked = weigh_hosts(hosts, {}, [RAMWeigher()], conf.replace(weigher_multiplier=1.0))
    assert [h.host for _, h in ranked] == ["empty", "half", "full"]
    assert [w for w, _ in ranked] == [1.0, 0.5, 0.0]


def test_negative_multiplier_prefers_least_free_ram(conf):
    hosts = [host("full", 3000), host("empty", 0), host("half", 1500)]
    ranked = weigh_hosts(hosts, {}, [RAMWeigher()], conf.replace(weigher_multiplier=-2.0))
    assert [h.host for _, h in ranked] == ["full", "half", "empty"]
    assert [w for w, _ in ranked] == [0.0, -1.0, -2.0]
