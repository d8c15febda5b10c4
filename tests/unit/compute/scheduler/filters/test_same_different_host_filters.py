"""SameHostFilter and DifferentHostFilter: the hosts the ``same_host`` / ``different_host``
hints' servers run on (resolved by ``compute.scheduler_hints``)."""

from pocketstack.compute.scheduler.filters.different_host_filter import DifferentHostFilter
from pocketstack.compute.scheduler.filters.same_host_filter import SameHostFilter
from pocketstack.compute.scheduler.host_state import HostState

A, B = HostState("a", "a"), HostState("b", "b")


def test_without_hints_every_host_passes():
    assert SameHostFilter().filter_all([A, B], {}) == [A, B]
    assert DifferentHostFilter().filter_all([A, B], {}) == [A, B]
    assert SameHostFilter().filter_all([A, B], {"same_host": None}) == [A, B]


def test_same_host_keeps_the_hinted_servers_hosts():
    assert SameHostFilter().filter_all([A, B], {"same_host": ["b"]}) == [B]


def test_same_host_with_servers_nowhere_passes_no_host():
    assert SameHostFilter().filter_all([A, B], {"same_host": []}) == []


def test_different_host_drops_the_hinted_servers_hosts():
    assert DifferentHostFilter().filter_all([A, B], {"different_host": ["a"]}) == [B]
    assert DifferentHostFilter().filter_all([A, B], {"different_host": ["a", "b"]}) == []
