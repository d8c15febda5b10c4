"""Neutron's ``segment`` extension through the real clients: ``openstack network segment
list --network``/``segment show`` and openstacksdk's ``network.segments()``/``get_segment``
(admins only; one segment per network, made with it)."""

from __future__ import annotations

import openstack.exceptions
import pytest

from tests.api.test_network import _fails, _name, made  # noqa: F401  (the fixture)

ADMIN = "pocketstack-admin"


def test_segment_list_and_show_with_the_cli(running_cloud, made):  # noqa: F811
    name = _name("seg")
    net = running_cloud.openstack("network", "create", name)
    made.append(net["id"])
    vni = running_cloud.openstack("network", "show", net["id"], cloud=ADMIN)[
        "provider:segmentation_id"
    ]
    listed = running_cloud.openstack("network", "segment", "list", "--network", name, cloud=ADMIN)
    assert len(listed) == 1
    row = listed[0]
    assert row["Network"] == net["id"] and row["Network Type"] == "vxlan"
    assert row["Segment"] == vni and row["ID"] != net["id"]
    shown = running_cloud.openstack("network", "segment", "show", row["ID"], cloud=ADMIN)
    assert shown["id"] == row["ID"] and shown["network_id"] == net["id"]
    assert (shown["network_type"], shown["physical_network"], shown["segmentation_id"]) == (
        "vxlan",
        None,
        vni,
    )
    # a member is refused, and a segment of a deleted network is gone
    assert "403" in _fails(running_cloud, "network", "segment", "list")
    running_cloud.openstack("network", "delete", net["id"], json_output=False)
    err = _fails(running_cloud, "network", "segment", "show", row["ID"], cloud_name=ADMIN)
    assert "No Segment found" in err or "could not be found" in err


def test_segments_with_openstacksdk(running_cloud, made):  # noqa: F811
    admin = running_cloud.sdk(ADMIN)
    nets = [running_cloud.sdk().network.create_network(name=_name("sdkseg")) for _ in range(3)]
    made.extend(n.id for n in nets)
    ids = {n.id for n in nets}
    mine = [s for s in admin.network.segments(limit=1) if s.network_id in ids]
    assert sorted(s.network_id for s in mine) == sorted(ids)
    assert {s.network_type for s in mine} == {"vxlan"} and all(s.segmentation_id for s in mine)
    one = admin.network.get_segment(mine[0].id)
    assert one.network_id == mine[0].network_id and one.segmentation_id == mine[0].segmentation_id
    by_network = list(admin.network.segments(network_id=nets[1].id))
    assert [s.network_id for s in by_network] == [nets[1].id]
    by_vni = list(admin.network.segments(segmentation_id=by_network[0].segmentation_id))
    assert [s.id for s in by_vni] == [by_network[0].id]
    flat = list(admin.network.segments(network_type="flat"))
    assert flat and {(s.network_type, s.physical_network) for s in flat} == {("flat", "public")}
    with pytest.raises(openstack.exceptions.BadRequestException):
        admin.network.create_segment(network_id=nets[0].id, network_type="vxlan")
    with pytest.raises(openstack.exceptions.ConflictException):
        admin.network.delete_segment(one.id)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(running_cloud.sdk().network.segments())
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_segment(nets[0].id)
