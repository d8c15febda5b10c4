"""What the scheduler asks Placement besides resources (issue 13): a flavor's
``trait:<NAME>=required`` lands only on hosts whose resource provider has the trait,
``=forbidden`` avoids them, and a server asked into an availability zone lands on the
hosts of that zone's aggregate, which Placement knows as the provider's aggregate
(``member_of``, Nova's ``map_az_to_placement_aggregate``): every host of this cloud
reports zone ``az-x``, and once an aggregate names the zone only its hosts take the
zone's servers. Through openstacksdk, on a cloud with fake hosts (``--fake-hosts``)."""

from __future__ import annotations

import uuid

from tests.helpers import wait_until

FAKE_HOSTS = 3
ZONE = "az-x"
TRAIT = "CUSTOM_FAST_NIC"
ADMIN = "pocketstack-admin"


def _active(admin, demo, flavor, image, name: str, **kw) -> str:
    server = demo.compute.create_server(
        name=name, flavor_id=flavor.id, image_id=image.id, networks="none", **kw
    )
    found = wait_until(
        lambda: (s := admin.compute.get_server(server.id)).status in ("ACTIVE", "ERROR") and s,
        120,
        f"{name} ACTIVE or ERROR",
        interval=0.5,
    )
    assert found.status == "ACTIVE", found.fault
    return found.hypervisor_hostname


def test_trait_extra_specs_and_zones_choose_hosts_through_placement(cloud_launcher, tmp_path):
    extra = ["--fake-hosts", str(FAKE_HOSTS), "--availability-zone", ZONE]
    with cloud_launcher(tmp_path / "state", driver="fake", extra=extra) as cloud:
        admin = cloud.sdk(ADMIN)
        providers = wait_until(
            lambda: (
                (p := {rp.name: rp for rp in admin.placement.resource_providers()})
                and len(p) == FAKE_HOSTS + 1
                and p
            ),
            60,
            f"{FAKE_HOSTS + 1} resource providers",
            interval=0.5,
        )
        fleet = sorted(name for name in providers if "-fake" in name)
        fast, zoned = fleet[0], fleet[1]

        # the trait on one host's provider (osc-placement's "resource provider trait set")
        admin.placement.create_trait(TRAIT)
        rp = providers[fast]
        url = f"/resource_providers/{rp.id}/traits"
        generation = admin.placement.get(url, microversion="1.6").json()[
            "resource_provider_generation"
        ]
        body = {"traits": [TRAIT], "resource_provider_generation": generation}
        assert admin.placement.put(url, json=body, microversion="1.6").status_code == 200

        cloud.openstack(
            "quota", "set", "--instances", "50", "--cores", "100", "demo",
            cloud=ADMIN, json_output=False,
        )  # fmt: skip
        demo = cloud.sdk()
        image = demo.image.find_image("cirros")
        tiny = admin.compute.find_flavor("m1.tiny")
        suffix = uuid.uuid4().hex[:6]
        flavors = {}
        for wanted in ("required", "forbidden"):
            flavor = admin.compute.create_flavor(
                name=f"trait-{wanted}-{suffix}", ram=tiny.ram, vcpus=1, disk=tiny.disk
            )
            admin.compute.create_flavor_extra_specs(flavor, {f"trait:{TRAIT}": wanted})
            flavors[wanted] = flavor

        # required: only the host with the trait, however many servers
        for i in range(3):
            assert _active(admin, demo, flavors["required"], image, f"req{i}") == fast
        # forbidden: never that host
        for i in range(4):
            assert _active(admin, demo, flavors["forbidden"], image, f"forb{i}") != fast

        # an availability zone: its aggregate's host, which Placement knows by aggregate
        agg = admin.compute.create_aggregate(name=f"agg-{suffix}", availability_zone=ZONE)
        admin.compute.add_host_to_aggregate(agg, zoned)
        aggs = admin.placement.get(
            f"/resource_providers/{providers[zoned].id}/aggregates", microversion="1.19"
        ).json()["aggregates"]
        assert agg.uuid in aggs
        for i in range(3):
            host = _active(admin, demo, tiny, image, f"az{i}", availability_zone=ZONE)
            assert host == zoned
        # out of the zone: the host leaves the provider's aggregate too
        for server in list(demo.compute.servers()):
            demo.compute.delete_server(server)
        admin.compute.remove_host_from_aggregate(agg, zoned)
        aggs = admin.placement.get(
            f"/resource_providers/{providers[zoned].id}/aggregates", microversion="1.19"
        ).json()["aggregates"]
        assert agg.uuid not in aggs
        admin.compute.delete_aggregate(agg)
        for flavor in flavors.values():
            admin.compute.delete_flavor(flavor)
