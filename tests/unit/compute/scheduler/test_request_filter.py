"""scheduler/request_filter: the traits and zone aggregates a request asks Placement for
(Nova's ``trait:`` extra specs and image properties, ``map_az_to_placement_aggregate``)."""

from __future__ import annotations

from pocketstack.compute.models import Aggregate
from pocketstack.compute.scheduler import request_filter


def test_flavor_traits_are_required_or_forbidden_and_an_image_can_only_require():
    required, forbidden = request_filter.traits_of(
        {
            "trait:CUSTOM_FAST": "required",
            "trait:HW_CPU_X86_AVX2": "Required",
            "trait:CUSTOM_SLOW": "forbidden",
            "trait:CUSTOM_ODD": "preferred",  # not a value Nova knows: ignored
            "hw:cpu_policy": "dedicated",
            "aggregate_instance_extra_specs:ssd": "true",
        },
        {"trait:CUSTOM_GPU": "required", "trait:CUSTOM_NOPE": "forbidden", "os_distro": "x"},
    )
    assert required == ("CUSTOM_FAST", "CUSTOM_GPU", "HW_CPU_X86_AVX2")
    assert forbidden == ("CUSTOM_SLOW",)
    assert request_filter.traits_of(None, None) == ((), ())


def test_a_zone_becomes_member_of_its_aggregates_and_an_unmapped_zone_asks_nothing(db):
    with db.transaction() as s:
        s.add_all(
            [
                Aggregate(uuid="a" * 36, name="a", metadata_={"availability_zone": "az1"}),
                Aggregate(uuid="b" * 36, name="b", metadata_={"availability_zone": "az1"}),
                Aggregate(uuid="c" * 36, name="c", metadata_={"availability_zone": "az2"}),
                Aggregate(uuid="d" * 36, name="d", metadata_={"ssd": "true"}),
            ]
        )
    spec = {"availability_zone": "az1", "flavor_extra_specs": {"trait:CUSTOM_X": "forbidden"}}
    filters = request_filter.provider_filters(db, spec)
    assert filters.member_of == (("a" * 36, "b" * 36),)
    assert (filters.required, filters.forbidden) == ((), ("CUSTOM_X",))
    assert request_filter.provider_filters(db, {"availability_zone": "nova"}).member_of == ()
    assert request_filter.provider_filters(db, {}).member_of == ()
