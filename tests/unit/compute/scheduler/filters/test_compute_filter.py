"""ComputeFilter: only enabled, up compute services pass."""

from pocketstack.compute.scheduler.filters.compute_filter import ComputeFilter
from pocketstack.compute.scheduler.host_state import HostState


def test_enabled_and_up_host_passes():
    assert ComputeFilter().host_passes(HostState("h", "h"), {})


def test_disabled_service_fails():
    assert not ComputeFilter().host_passes(HostState("h", "h", service_disabled=True), {})


def test_down_service_fails():
    assert not ComputeFilter().host_passes(HostState("h", "h", service_up=False), {})


def test_filter_all_keeps_order():
    hosts = [HostState("a", "a"), HostState("b", "b", service_up=False), HostState("c", "c")]
    assert [h.host for h in ComputeFilter().filter_all(hosts, {})] == ["a", "c"]
