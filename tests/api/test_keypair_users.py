"""An admin's keypairs of another user (issue 11): Nova's ``user_id`` from microversion 2.10,
through ``openstack keypair create/list/show/delete --user`` and raw requests at 2.9 and 2.10:
before 2.10 the create body's ``user_id`` is refused (400) and ``?user_id=`` is ignored (the
caller's own keypairs); a member naming another user is refused (403)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ADMIN = "pocketstack-admin"
LATEST = ("--os-compute-api-version", "2.latest")


def _call(conn: Any, method: str, url: str, version: str, **kwargs: Any) -> Any:
    headers = {"OpenStack-API-Version": f"compute {version}"}
    return conn.compute.request(url, method, headers=headers, **kwargs)


def test_admin_manages_a_users_keypairs_from_2_10(running_cloud, tmp_path: Path):
    cloud = running_cloud
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    keyfile = tmp_path / "k.pub"
    keyfile.write_bytes(
        key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    name = f"kp-{uuid.uuid4().hex[:8]}"
    demo_id = cloud.openstack("user", "show", "demo", cloud=ADMIN)["id"]
    at210 = ("--os-compute-api-version", "2.10")
    made = cloud.openstack(
        *at210,
        "keypair",
        "create",
        "--user",
        "demo",
        "--public-key",
        str(keyfile),
        name,
        cloud=ADMIN,
    )
    assert made["user_id"] == demo_id
    try:
        listed = cloud.openstack(*LATEST, "keypair", "list", "--user", "demo", cloud=ADMIN)
        assert name in [k["Name"] for k in listed]
        assert name not in [k["Name"] for k in cloud.openstack("keypair", "list", cloud=ADMIN)]
        assert name in [k["Name"] for k in cloud.openstack("keypair", "list")]  # demo's own
        shown = cloud.openstack(*LATEST, "keypair", "show", "--user", "demo", name, cloud=ADMIN)
        assert shown["user_id"] == demo_id

        admin, demo = cloud.sdk(ADMIN), cloud.sdk()
        body = {"keypair": {"name": f"{name}-old", "user_id": demo_id}}
        refused = _call(admin, "POST", "/os-keypairs", "2.9", json=body)
        assert refused.status_code == 400 and "user_id" in refused.text
        old = _call(admin, "GET", f"/os-keypairs?user_id={demo_id}", "2.9").json()
        assert name not in [k["keypair"]["name"] for k in old["keypairs"]]  # query ignored
        assert (
            _call(admin, "GET", f"/os-keypairs/{name}?user_id={demo_id}", "2.9").status_code == 404
        )
        admin_id = admin.current_user_id
        assert _call(demo, "GET", f"/os-keypairs?user_id={admin_id}", "2.10").status_code == 403
        other = {"keypair": {"name": f"{name}-x", "user_id": admin_id}}
        assert _call(demo, "POST", "/os-keypairs", "2.10", json=other).status_code == 403
    finally:
        cloud.openstack(
            *LATEST, "keypair", "delete", "--user", "demo", name, cloud=ADMIN, json_output=False
        )
    assert name not in [k["Name"] for k in cloud.openstack("keypair", "list")]
