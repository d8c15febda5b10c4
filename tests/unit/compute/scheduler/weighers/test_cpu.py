"""CPUWeigher: free vCPUs after the ratio; normalisation across hosts."""

from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import normalize, weigh_hosts
from pocketstack.compute.scheduler.weighers.cpu import CPUWeigher


def host(name, used):
    return HostState(name, name, vcpus=4, vcpus_used=used, cpu_allocation_ratio=4.0)


def test_weighs_free_vcpus():
    assert CPUWeigher().weigh(host("a", 6), {}) == 10.0


def test_spread_and_pack(conf):
    hosts = [host("busy", 12), host("idle", 0)]
    spread = weigh_hosts(hosts, {}, [CPUWeigher()], conf.replace(weigher_multiplier=1.0))
    pack = weigh_hosts(hosts, {}, [CPUWeigher()], conf.replace(weigher_multiplier=-1.0))
    assert spread[0][1].host == "idle"
    assert pack[0][1].host == "busy"


def test_normalize():
    assert normalize([]) == []
    assert normalize([5.0, 5.0]) == [0.0, 0.0]
    assert normalize([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
