"""A fleet of fake compute hosts in one process (issue 13): ``--fake-hosts 20`` gives 20
more hypervisors, each a compute service up with its own resource provider, and servers
created at once spread over them. Real processes, real clients; the cloud's mode follows
``$POCKETSTACK_TEST_MODE`` (embedded: ``up``; distributed: ``compute`` on RabbitMQ and a
controller on PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.helpers import wait_until

FAKE_HOSTS = 20
SERVERS = 20


def test_fake_hosts_are_hypervisors_with_providers_and_take_servers(cloud_launcher, tmp_path):
    extra = ["--fake-hosts", str(FAKE_HOSTS)]
    with cloud_launcher(tmp_path / "state", driver="fake", extra=extra) as cloud:
        admin = cloud.sdk("pocketstack-admin")
        hypervisors = wait_until(
            lambda: (h := list(admin.compute.hypervisors())) and len(h) == FAKE_HOSTS + 1 and h,
            60,
            f"{FAKE_HOSTS + 1} hypervisors",
            interval=0.5,
        )
        fleet = sorted(h.name for h in hypervisors if "-fake" in h.name)
        assert len(fleet) == FAKE_HOSTS
        services = [s for s in admin.compute.services() if s.binary == "nova-compute"]
        assert len(services) == FAKE_HOSTS + 1
        assert all(s.state == "up" and s.status == "enabled" for s in services)
        providers = {p.name for p in admin.placement.resource_providers()}
        assert set(fleet) <= providers

        cloud.openstack(
            "quota",
            "set",
            "--instances",
            "50",
            "--cores",
            "100",
            "--ram",
            "100000",
            "demo",
            cloud="pocketstack-admin",
            json_output=False,
        )
        demo = cloud.sdk()
        flavor = demo.compute.find_flavor("m1.tiny")
        image = demo.image.find_image("cirros")
        net = demo.network.find_network("private")

        def create(i: int) -> str:
            conn = cloud.sdk()
            server = conn.compute.create_server(
                name=f"f{i}", flavor_id=flavor.id, image_id=image.id, networks=[{"uuid": net.id}]
            )
            return server.id

        with ThreadPoolExecutor(max_workers=10) as pool:
            ids = list(pool.map(create, range(SERVERS)))
        servers = wait_until(
            lambda: (
                (s := [admin.compute.get_server(i) for i in ids])
                and all(x.status == "ACTIVE" for x in s)
                and s
            ),
            120,
            "every server ACTIVE",
            interval=0.5,
        )
        hosts = {s.hypervisor_hostname for s in servers}
        assert len(hosts) >= SERVERS // 2, hosts  # spread, not piled on one host
        # each server's allocation is on the provider of its host
        by_name = {p.name: p for p in admin.placement.resource_providers()}
        for s in servers:
            rp = by_name[s.hypervisor_hostname]
            usages = admin.placement.get(f"/resource_providers/{rp.id}/usages").json()
            assert usages["usages"]["VCPU"] >= 1
        for s in servers:
            demo.compute.delete_server(s.id)
        for s in servers:
            demo.compute.wait_for_delete(s, wait=60)
