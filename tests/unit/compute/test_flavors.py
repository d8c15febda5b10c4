"""Flavors: defaults, visibility of private flavors, extra specs and access lists."""

from __future__ import annotations

import pytest

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute.flavors import FlavorAccessExists, FlavorExists, FlavorNotFound

ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin",))
DEMO = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member",))
OTHER = RequestContext(user_id="u-other", project_id="p-other", roles=("member",))


@pytest.fixture
def flavors(cloud):
    cloud.compute.flavors.bootstrap()
    return cloud.compute.flavors


def test_bootstrap_creates_the_default_flavors_once(flavors):
    flavors.bootstrap()
    listed = flavors.list(DEMO)
    assert [f.name for f in listed] == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"]
    tiny = flavors.get(DEMO, "1")
    assert (tiny.vcpus, tiny.memory_mb, tiny.root_gb) == (1, 256, 1)


def test_unknown_flavor_is_404_with_novas_message(flavors):
    with pytest.raises(FlavorNotFound, match="Flavor nope could not be found."):
        flavors.get(DEMO, "nope")
    with pytest.raises(errors.BadRequest, match="Flavor nope could not be found."):
        flavors.get(DEMO, "nope", for_boot=True)


def test_duplicate_name_or_id_is_409(flavors):
    with pytest.raises(FlavorExists):
        flavors.create(ADMIN, name="m1.tiny", ram=1, vcpus=1, disk=1)
    with pytest.raises(FlavorExists):
        flavors.create(ADMIN, name="other", ram=1, vcpus=1, disk=1, flavorid="1")


def test_private_flavor_visible_only_to_allowed_projects(flavors):
    flavor = flavors.create(ADMIN, name="secret", ram=64, vcpus=1, disk=0, is_public=False)
    with pytest.raises(FlavorNotFound):
        flavors.get(DEMO, flavor.flavorid)
    assert "secret" not in [f.name for f in flavors.list(DEMO, is_public=None)]
    flavors.add_access(ADMIN, flavor.flavorid, "p-demo")
    assert flavors.get(DEMO, flavor.flavorid).name == "secret"
    assert "secret" in [f.name for f in flavors.list(DEMO)]
    with pytest.raises(FlavorNotFound):
        flavors.get(OTHER, flavor.flavorid)
    with pytest.raises(FlavorAccessExists):
        flavors.add_access(ADMIN, flavor.flavorid, "p-demo")
    assert flavors.remove_access(ADMIN, flavor.flavorid, "p-demo") == []


def test_admin_lists_public_by_default_and_all_with_none(flavors):
    flavors.create(ADMIN, name="secret", ram=64, vcpus=1, disk=0, is_public=False)
    assert "secret" not in [f.name for f in flavors.list(ADMIN)]
    assert "secret" in [f.name for f in flavors.list(ADMIN, is_public=None)]
    assert [f.name for f in flavors.list(ADMIN, is_public=False)] == ["secret"]


def test_extra_specs_roundtrip(flavors):
    flavors.update_extra_specs(ADMIN, "1", {"hw:cpu_policy": "shared"})
    assert flavors.get_extra_specs(DEMO, "1") == {"hw:cpu_policy": "shared"}
    flavors.delete_extra_spec(ADMIN, "1", "hw:cpu_policy")
    with pytest.raises(errors.NotFound):
        flavors.get_extra_spec(DEMO, "1", "hw:cpu_policy")


def test_list_paging_and_min_ram(flavors):
    page = flavors.list(DEMO, limit=2)
    assert [f.flavorid for f in page] == ["1", "2"]
    assert [f.flavorid for f in flavors.list(DEMO, marker="2", limit=2)] == ["3", "4"]
    assert [f.name for f in flavors.list(DEMO, min_ram=2048)] == ["m1.large", "m1.xlarge"]
    with pytest.raises(errors.BadRequest):
        flavors.list(DEMO, marker="nope")
