"""ServerGroupAffinityFilter and ServerGroupAntiAffinityFilter: the request's group policy,
its placed members' hosts and the 2.64 rule ``max_server_per_host``."""

import pytest

from pocketstack.compute.scheduler.filters.server_group_affinity_filter import (
    ServerGroupAffinityFilter,
)
from pocketstack.compute.scheduler.filters.server_group_anti_affinity_filter import (
    ServerGroupAntiAffinityFilter,
)
from pocketstack.compute.scheduler.host_state import HostState

A, B = HostState("a", "a"), HostState("b", "b")


@pytest.mark.parametrize("flt", [ServerGroupAffinityFilter(), ServerGroupAntiAffinityFilter()])
@pytest.mark.parametrize("group", [None, {}, {"policy": "soft-affinity", "hosts": ["a"]}])
def test_no_group_or_a_soft_policy_passes_every_host(flt, group):
    assert flt.filter_all([A, B], {"group": group}) == [A, B]


def test_affinity_keeps_the_members_hosts():
    flt = ServerGroupAffinityFilter()
    assert flt.filter_all([A, B], {"group": {"policy": "affinity", "hosts": []}}) == [A, B]
    assert flt.filter_all([A, B], {"group": {"policy": "affinity", "hosts": ["b"]}}) == [B]


def test_anti_affinity_avoids_the_members_hosts():
    flt = ServerGroupAntiAffinityFilter()
    spec = {"group": {"policy": "anti-affinity", "hosts": ["a"]}}
    assert flt.filter_all([A, B], spec) == [B]
    spec = {"group": {"policy": "anti-affinity", "hosts": ["a", "b"]}}
    assert flt.filter_all([A, B], spec) == []


def test_max_server_per_host_allows_that_many():
    flt = ServerGroupAntiAffinityFilter()
    group = {"policy": "anti-affinity", "hosts": ["a", "b", "b"], "max_server_per_host": 2}
    assert flt.filter_all([A, B], {"group": group}) == [A]
