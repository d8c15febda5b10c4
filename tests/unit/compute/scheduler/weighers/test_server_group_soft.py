"""ServerGroupSoftAffinityWeigher and ServerGroupSoftAntiAffinityWeigher: the group's placed
members per host, preferred (soft-affinity) or avoided (soft-anti-affinity), never dropped."""

from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import weigh_hosts
from pocketstack.compute.scheduler.weighers.server_group_soft_affinity import (
    ServerGroupSoftAffinityWeigher,
)
from pocketstack.compute.scheduler.weighers.server_group_soft_anti_affinity import (
    ServerGroupSoftAntiAffinityWeigher,
)

HOSTS = [HostState("a", "a"), HostState("b", "b"), HostState("c", "c")]
WEIGHERS = [ServerGroupSoftAffinityWeigher(), ServerGroupSoftAntiAffinityWeigher()]


def ranked(policy, members, conf):
    spec = {"group": {"policy": policy, "hosts": members}}
    return [h.host for _, h in weigh_hosts(HOSTS, spec, WEIGHERS, conf)]


def test_soft_affinity_prefers_the_host_with_most_members(conf):
    assert ranked("soft-affinity", ["b", "c", "b"], conf) == ["b", "c", "a"]


def test_soft_anti_affinity_prefers_the_host_with_fewest_members(conf):
    assert ranked("soft-anti-affinity", ["a", "b", "a"], conf)[0] == "c"
    assert ranked("soft-anti-affinity", ["a", "b", "c", "a", "c"], conf)[0] == "b"


def test_other_policies_and_no_group_weigh_nothing():
    for spec in ({}, {"group": {"policy": "anti-affinity", "hosts": ["a"]}}):
        assert [w.weigh(HOSTS[0], spec) for w in WEIGHERS] == [0.0, 0.0]
