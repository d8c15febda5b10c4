"""Provider segments: tenant networks are VXLAN with a VNI from ``[network] vni_ranges`` and
MTU 1450; an admin makes flat networks on a physical network (MTU 1500, no segmentation
id); bootstrap's external ``public`` network is flat on ``public``."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network import segments

DEMO = RequestContext(user_id="u1", project_id="demo", roles=("member",))
ADMIN = RequestContext(user_id="u0", project_id="admin", roles=("admin",))
FLAT = {"provider:network_type": "flat", "provider:physical_network": "public"}


@pytest.fixture
def small_ranges(conf, db, bus, in_process):
    """The Network service of a cloud whose tenant VNIs are 5 and 6 only."""
    from pocketstack.service import Cloud

    return in_process(Cloud(conf.replace(vni_ranges="5:6"), db, bus).network)


def test_tenant_networks_are_vxlan_from_the_vni_ranges(small_ranges):
    nets = [small_ranges.networks.create(DEMO, {"name": f"n{i}"}) for i in range(2)]
    assert sorted(n["provider:segmentation_id"] for n in nets) == [5, 6]
    assert {(n["provider:network_type"], n["mtu"]) for n in nets} == {("vxlan", 1450)}
    assert {n["provider:physical_network"] for n in nets} == {None}
    with pytest.raises(exc.NoNetworkAvailable) as err:
        small_ranges.networks.create(DEMO, {"name": "full"})
    assert err.value.status == 503
    # an admin may still name a VNI outside the ranges, as Neutron lets it
    named = small_ranges.networks.create(ADMIN, {"provider:segmentation_id": 4000})
    assert named["provider:segmentation_id"] == 4000
    small_ranges.networks.delete(DEMO, nets[0]["id"])
    again = small_ranges.networks.create(DEMO, {"name": "again"})
    assert again["provider:segmentation_id"] == nets[0]["provider:segmentation_id"]


def test_flat_network_on_the_public_physical_network(network):
    flat = network.networks.create(ADMIN, {"name": "ext", "router:external": True, **FLAT})
    assert (flat["provider:network_type"], flat["provider:physical_network"]) == ("flat", "public")
    assert flat["provider:segmentation_id"] is None and flat["mtu"] == 1500
    with pytest.raises(exc.FlatNetworkInUse):
        network.networks.create(ADMIN, FLAT)
    listed = network.networks.list(ADMIN, filters={"provider:physical_network": ("public",)})
    assert [n["id"] for n in listed] == [flat["id"]]
    with pytest.raises(exc.InvalidInput):
        network.networks.update(ADMIN, flat["id"], {"mtu": 1501})
    assert network.networks.update(ADMIN, flat["id"], {"mtu": 1400})["mtu"] == 1400


@pytest.mark.parametrize(
    ("ctx", "attrs", "error"),
    [
        (DEMO, FLAT, exc.NotAuthorized),
        (ADMIN, {**FLAT, "provider:segmentation_id": 7}, exc.InvalidInput),
        (ADMIN, {**FLAT, "provider:physical_network": "elsewhere"}, exc.InvalidInput),
        (ADMIN, {"provider:network_type": "flat"}, exc.InvalidInput),
        (ADMIN, {"provider:network_type": "vlan"}, exc.InvalidInput),
        (
            ADMIN,
            {"provider:physical_network": "public", "provider:network_type": "vxlan"},
            exc.InvalidInput,
        ),
        (ADMIN, {"provider:segmentation_id": 2**24}, exc.InvalidInput),
        (DEMO, {"mtu": 1451}, exc.InvalidInput),
    ],
)
def test_bad_segments_are_refused(network, ctx, attrs, error):
    with pytest.raises(error):
        network.networks.create(ctx, {"name": "bad", **attrs})
    assert network.networks.list(ADMIN, filters={"name": ("bad",)}) == []


def test_bootstrap_makes_public_flat_and_converts_an_old_vxlan_one(network):
    old = network.networks.create(ADMIN, {"name": "public", "router:external": True})
    assert old["provider:network_type"] == "vxlan"
    ids = network.bootstrap("admin", "demo")
    assert ids["public_network_id"] == old["id"]
    public = network.networks.get(ADMIN, old["id"])
    assert (public["provider:network_type"], public["provider:physical_network"]) == (
        "flat",
        "public",
    )
    assert public["provider:segmentation_id"] is None and public["mtu"] == 1500
    private = network.networks.get(ADMIN, ids["private_network_id"])
    assert private["provider:network_type"] == "vxlan" and private["mtu"] == 1450
    assert network.bootstrap("admin", "demo") == ids


def test_vni_ranges_parse():
    class Conf:
        vni_ranges = "1:10, 100:100"

    assert segments.vni_ranges(Conf()) == [(1, 10), (100, 100)]
    for bad in ("x", "10:1", "0:5", f"1:{2**24}"):
        Conf.vni_ranges = bad
        with pytest.raises(ValueError, match="vni_ranges"):
            segments.vni_ranges(Conf())


def test_a_malformed_vni_ranges_is_a_503_naming_the_option(conf, db, bus, in_process):
    from pocketstack.common.errors import ServiceUnavailable
    from pocketstack.service import Cloud

    network = in_process(Cloud(conf.replace(vni_ranges="10-20"), db, bus).network)
    with pytest.raises(ServiceUnavailable, match=r"\[network\] vni_ranges"):
        network.networks.create(DEMO, {"name": "n"})
    flat = network.networks.create(ADMIN, FLAT)  # a flat network needs no VNI
    assert flat["provider:network_type"] == "flat"
