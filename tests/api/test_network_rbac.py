"""RBAC policies on networks (``/v2.0/rbac-policies``) through the real clients.

demo shares a network with project ``rbac-a`` only: ``rbac-a`` sees it (with its subnet),
plugs a port into it and may not stop sharing while that port is there (409
RbacPolicyInUse); ``rbac-b`` neither sees it nor uses it. ``shared`` set by an admin is a
``*`` policy. The negative cases keep Neutron's status codes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openstack.exceptions
import pytest

from tests.api.test_isolation import clouds_with
from tests.conftest import RunningCloud

ADMIN = "pocketstack-admin"
DEMO = "pocketstack-demo"
A = "rbac-a"
B = "rbac-b"


def _name(prefix: str) -> str:
    return f"rbac-{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def clouds(running_cloud: RunningCloud, tmp_path_factory: Any) -> Iterator[Any]:
    """``running_cloud`` with clouds ``rbac-a`` and ``rbac-b`` (a member of a new project
    each); yields ``(cloud, {cloud_name: project_id})``; users and projects deleted after."""
    cli = running_cloud.openstack
    password = uuid.uuid4().hex
    made: dict[str, tuple[str, str, str]] = {}
    ids: dict[str, str] = {}
    try:
        for cloud_name in (A, B):
            project, user = _name("proj"), _name("user")
            ids[cloud_name] = cli("project", "create", project, cloud=ADMIN)["id"]
            made[cloud_name] = (user, password, project)
            cli("user", "create", "--project", project, "--password", password, user, cloud=ADMIN)
            cli(
                "role", "add", "--project", project, "--user", user, "member",
                cloud=ADMIN, json_output=False,
            )  # fmt: skip
        yield clouds_with(running_cloud, tmp_path_factory.mktemp("rbac"), made), ids
    finally:
        for user, _, project in made.values():
            cli("user", "delete", user, cloud=ADMIN, check=False, json_output=False)
            cli("project", "delete", project, cloud=ADMIN, check=False, json_output=False)


@pytest.fixture
def demo_net(clouds: Any) -> Iterator[dict[str, Any]]:
    """A network of demo's with a subnet; deleted (ports and policies too) after."""
    cloud, _ = clouds
    net = cloud.openstack("network", "create", _name("net"))
    subnet = cloud.openstack(
        "subnet", "create", "--network", net["id"], "--subnet-range", "10.88.0.0/24",
        _name("sub"),
    )  # fmt: skip
    yield {"network": net, "subnet": subnet}
    admin = cloud.sdk(ADMIN)
    for port in admin.network.ports(network_id=net["id"]):
        admin.network.delete_port(port.id, ignore_missing=True)
    for rbac in admin.network.rbac_policies(object_id=net["id"]):
        admin.network.delete_rbac_policy(rbac.id, ignore_missing=True)
    admin.network.delete_network(net["id"], ignore_missing=True)


def _fails(cloud: RunningCloud, *args: str, cloud_name: str = DEMO) -> str:
    proc = cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return str(proc.stderr)


def test_extension_listed(clouds):
    cloud, _ = clouds
    aliases = [e["alias"] for e in cloud.sdk().network.extensions()]
    assert "rbac-policies" in aliases


def test_share_with_one_project(clouds, demo_net):
    cloud, ids = clouds
    net_id = demo_net["network"]["id"]
    rbac = cloud.openstack(
        "network", "rbac", "create", "--target-project", ids[A],
        "--action", "access_as_shared", "--type", "network", net_id,
    )  # fmt: skip
    assert rbac["object_id"] == net_id and rbac["object_type"] == "network"
    assert rbac["action"] == "access_as_shared" and rbac["target_project_id"] == ids[A]
    assert rbac["id"] in [r["ID"] for r in cloud.openstack("network", "rbac", "list")]
    assert cloud.openstack("network", "rbac", "show", rbac["id"])["object_id"] == net_id

    a, b = cloud.sdk(A), cloud.sdk(B)
    seen = a.network.get_network(net_id)
    assert seen.is_shared and demo_net["subnet"]["id"] in seen.subnet_ids
    assert net_id in [n.id for n in a.network.networks()]
    assert a.network.get_subnet(demo_net["subnet"]["id"]).cidr == "10.88.0.0/24"
    port = a.network.create_port(network_id=net_id)
    assert port.fixed_ips[0]["subnet_id"] == demo_net["subnet"]["id"]
    # the target project sees no policy of demo's, nor changes the network
    assert rbac["id"] not in [r.id for r in a.network.rbac_policies()]
    with pytest.raises(openstack.exceptions.ForbiddenException):
        a.network.update_network(net_id, name="mine")

    # another project neither sees nor uses it
    assert net_id not in [n.id for n in b.network.networks()]
    with pytest.raises(openstack.exceptions.NotFoundException):
        b.network.get_network(net_id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        b.network.create_port(network_id=net_id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        b.network.get_subnet(demo_net["subnet"]["id"])
    with pytest.raises(openstack.exceptions.NotFoundException):
        b.network.get_rbac_policy(rbac["id"])

    # in use: rbac-a has a port on it
    err = _fails(cloud, "network", "rbac", "delete", rbac["id"])
    assert "cannot be removed because other objects depend on it" in err
    with pytest.raises(openstack.exceptions.ConflictException):
        cloud.sdk().network.update_rbac_policy(rbac["id"], target_project_id=ids[B])
    a.network.delete_port(port.id)
    cloud.openstack("network", "rbac", "delete", rbac["id"], json_output=False)
    assert "No RBACPolicy found" in _fails(cloud, "network", "rbac", "show", rbac["id"])
    with pytest.raises(openstack.exceptions.NotFoundException):
        a.network.get_network(net_id)


def test_retarget_policy(clouds, demo_net):
    cloud, ids = clouds
    sdk = cloud.sdk()
    net_id = demo_net["network"]["id"]
    rbac = sdk.network.create_rbac_policy(
        object_type="network", object_id=net_id, action="access_as_shared",
        target_project_id=ids[A],
    )  # fmt: skip
    moved = sdk.network.update_rbac_policy(rbac.id, target_project_id=ids[B])
    assert moved.target_project_id == ids[B]
    assert net_id in [n.id for n in cloud.sdk(B).network.networks()]
    assert net_id not in [n.id for n in cloud.sdk(A).network.networks()]


def test_negative_cases(clouds, demo_net):
    cloud, ids = clouds
    sdk = cloud.sdk()
    net_id = demo_net["network"]["id"]
    base = {"object_type": "network", "object_id": net_id, "action": "access_as_shared"}
    with pytest.raises(openstack.exceptions.ForbiddenException):  # '*' is an admin's
        sdk.network.create_rbac_policy(**base, target_project_id="*")
    sdk.network.create_rbac_policy(**base, target_project_id=ids[A])
    with pytest.raises(openstack.exceptions.ConflictException) as dup:
        sdk.network.create_rbac_policy(**base, target_project_id=ids[A])
    assert "already exists" in str(dup.value)
    for bad in (
        {**base, "action": "access_as_owner"},
        {**base, "object_type": "router"},
        {"object_type": "network", "object_id": net_id, "action": 7},
        {**base, "object_id": "not-a-uuid"},
        {"object_id": net_id, "action": "access_as_shared"},
    ):
        resp = sdk.network.post(
            "/rbac-policies", json={"rbac_policy": {**bad, "target_tenant": "x"}}
        )
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["NeutronError"]["type"]
    missing = {**base, "object_id": str(uuid.uuid4())}
    with pytest.raises(openstack.exceptions.NotFoundException):
        sdk.network.create_rbac_policy(**missing, target_project_id=ids[A])
    # another project may not share demo's network
    with pytest.raises(openstack.exceptions.NotFoundException):
        cloud.sdk(B).network.create_rbac_policy(**base, target_project_id=ids[B])
    with pytest.raises(openstack.exceptions.NotFoundException):
        sdk.network.get_rbac_policy(str(uuid.uuid4()))
    with pytest.raises(openstack.exceptions.NotFoundException):
        sdk.network.delete_rbac_policy(str(uuid.uuid4()), ignore_missing=False)


def test_shared_flag_is_a_wildcard_policy(clouds, demo_net):
    cloud, ids = clouds
    admin = cloud.sdk(ADMIN)
    net_id = demo_net["network"]["id"]
    admin.network.update_network(net_id, shared=True)
    wildcard = [r for r in admin.network.rbac_policies(object_id=net_id)]
    assert [(r.target_project_id, r.action) for r in wildcard] == [("*", "access_as_shared")]
    # the '*' policy is demo's (the network's owner) and demo sees it
    assert wildcard[0].id in [r.id for r in cloud.sdk().network.rbac_policies()]
    b = cloud.sdk(B)
    port = b.network.create_port(network_id=net_id)
    err = _fails(cloud, "network", "set", "--no-share", net_id, cloud_name=ADMIN)
    assert "Multiple tenants are using it" in err
    with pytest.raises(openstack.exceptions.ConflictException):
        admin.network.delete_rbac_policy(wildcard[0].id, ignore_missing=False)
    b.network.delete_port(port.id)
    admin.network.delete_rbac_policy(wildcard[0].id)
    assert admin.network.get_network(net_id).is_shared is False
    # an admin's '*' policy makes the network shared again
    admin.network.create_rbac_policy(
        object_type="network", object_id=net_id, action="access_as_shared",
        target_project_id="*",
    )  # fmt: skip
    assert b.network.get_network(net_id).is_shared
    cloud.openstack("network", "set", "--no-share", net_id, cloud=ADMIN, json_output=False)
    assert list(admin.network.rbac_policies(object_id=net_id)) == []
    with pytest.raises(openstack.exceptions.NotFoundException):
        b.network.get_network(net_id)


def test_access_as_external(clouds, demo_net):
    cloud, ids = clouds
    admin = cloud.sdk(ADMIN)
    net_id = demo_net["network"]["id"]
    rbac = admin.network.create_rbac_policy(
        object_type="network", object_id=net_id, action="access_as_external",
        target_project_id=ids[A],
    )  # fmt: skip
    assert rbac.project_id == demo_net["network"]["project_id"]
    seen = cloud.sdk(A).network.get_network(net_id)
    assert seen.is_router_external and not seen.is_shared
    with pytest.raises(openstack.exceptions.NotFoundException):
        cloud.sdk(B).network.get_network(net_id)
    admin.network.delete_rbac_policy(rbac.id)
