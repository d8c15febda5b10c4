"""AggregateInstanceExtraSpecsFilter: flavor extra specs against the host's aggregates'
metadata, with Nova's scope and operators."""

import pytest

from pocketstack.compute.scheduler.filters.aggregate_instance_extra_specs_filter import (
    AggregateInstanceExtraSpecsFilter,
)
from pocketstack.compute.scheduler.host_state import HostState

A, B = HostState("a", "a"), HostState("b", "b")
META = {"a": {"ssd": ["true"], "cpus": ["16"], "tier": ["gold silver"]}, "b": {"ssd": ["false"]}}


def passing(extra_specs):
    spec = {"flavor_extra_specs": extra_specs, "aggregate_metadata": META}
    return [h.host for h in AggregateInstanceExtraSpecsFilter().filter_all([A, B], spec)]


def test_no_extra_specs_passes_every_host():
    assert passing({}) == ["a", "b"]
    assert AggregateInstanceExtraSpecsFilter().filter_all([A, B], {}) == [A, B]


def test_scoped_key_matches_aggregate_metadata():
    assert passing({"aggregate_instance_extra_specs:ssd": "true"}) == ["a"]
    assert passing({"aggregate_instance_extra_specs:ssd": "false"}) == ["b"]


def test_unscoped_key_is_checked_and_other_scopes_ignored():
    assert passing({"ssd": "true"}) == ["a"]
    assert passing({"hw:cpu_policy": "dedicated", "quota:disk_read_bytes_sec": "1"}) == ["a", "b"]


def test_a_host_without_the_key_fails():
    assert passing({"aggregate_instance_extra_specs:cpus": "16"}) == ["a"]
    assert passing({"aggregate_instance_extra_specs:gpu": "true"}) == []


@pytest.mark.parametrize(
    ("requirement", "hosts"),
    [
        ("= 8", ["a"]),
        (">= 17", []),
        ("<= 16", ["a"]),
        ("s== 16", ["a"]),
        ("s!= 16", []),
        ("<in> 1", ["a"]),
        ("<or> 4 <or> 16", ["a"]),
        ("<or> 4 <or> 8", []),
    ],
)
def test_operators(requirement, hosts):
    assert passing({"aggregate_instance_extra_specs:cpus": requirement}) == hosts


def test_all_in():
    assert passing({"aggregate_instance_extra_specs:tier": "<all-in> gold silver"}) == ["a"]
    assert passing({"aggregate_instance_extra_specs:tier": "<all-in> gold bronze"}) == []
