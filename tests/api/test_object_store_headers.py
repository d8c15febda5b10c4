"""Object storage answers carry the headers Swift's do, read through python-swiftclient
against a running cloud (what the OpenStack Interop guideline's tempest tests check with
``ExistsAllResponseHeaders``): ``Content-Type`` on every answer, ``X-Timestamp`` on an
account not created yet, ``X-Storage-Policy`` on containers, the per-policy usage headers
on accounts; and the ``ResellerAdmin`` role (Swift keystoneauth's ``reseller_admin_role``)
sets another project's account quota, which its members may not."""

from __future__ import annotations

import uuid

import pytest
from swiftclient import client as swiftclient
from swiftclient.exceptions import ClientException

from tests.api.test_isolation import clouds_with
from tests.helpers import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _connection(cloud, name: str) -> swiftclient.Connection:
    """A swiftclient ``Connection`` with the token and account URL of ``name``'s session."""
    conn = cloud.sdk(name)
    return swiftclient.Connection(
        preauthurl=conn.object_store.get_endpoint(),
        preauthtoken=conn.auth_token,
        retries=0,
    )


@pytest.fixture(scope="module")
def accounts(running_cloud, tmp_path_factory):
    """``(owner, reseller)`` connections: a member of a new project (whose account holds
    nothing yet) and a user of another new project with only the ``ResellerAdmin`` role."""
    cli = running_cloud.openstack
    suffix = uuid.uuid4().hex[:8]
    names = {"owner": f"hdr-o-{suffix}", "reseller": f"hdr-r-{suffix}"}
    password = uuid.uuid4().hex
    admin = "pocketstack-admin"
    try:
        for kind, name in names.items():
            cli("project", "create", name, cloud=admin)
            cli("user", "create", "--project", name, "--password", password, name, cloud=admin)
            role = "member" if kind == "owner" else "ResellerAdmin"
            cli(
                "role",
                "add",
                "--project",
                name,
                "--user",
                name,
                role,
                cloud=admin,
                json_output=False,
            )
        handle = clouds_with(
            running_cloud,
            tmp_path_factory.mktemp("swift-hdr"),
            {f"hdr-{kind}": (name, password, name) for kind, name in names.items()},
        )
        yield _connection(handle, "hdr-owner"), _connection(handle, "hdr-reseller")
    finally:
        for name in names.values():
            cli("user", "delete", name, cloud=admin, check=False, json_output=False)
            cli("project", "delete", name, cloud=admin, check=False, json_output=False)


def test_account_and_container_answers_carry_swift_headers(accounts):
    owner, _reseller = accounts
    fresh = owner.head_account()  # nothing created yet: answered as an empty account
    assert fresh["x-account-container-count"] == "0"
    assert float(fresh["x-timestamp"]) > 0
    assert fresh["content-type"].startswith("text/plain")
    assert not any(k.startswith("x-account-storage-policy-") for k in fresh)
    answer: dict = {}
    owner.put_container("hdr", response_dict=answer)
    assert answer["status"] == 201
    assert answer["headers"]["content-type"] == "text/html; charset=UTF-8"
    assert answer["headers"]["content-length"] == "0"
    owner.put_object("hdr", "o", b"12345")
    try:
        for headers in (owner.head_container("hdr"), owner.get_container("hdr")[0]):
            assert headers["x-storage-policy"] == "Policy-0"  # the policy /info lists
            assert "content-type" in headers
        assert owner.get_capabilities()["swift"]["policies"][0]["name"] == "Policy-0"
        # a container reports its usage to the account shortly after (as Swift's updater)
        wait_until(lambda: owner.head_account()["x-account-bytes-used"] == "5", 15, "account usage")
        for headers in (owner.head_account(), owner.get_account()[0]):
            assert headers["x-account-storage-policy-policy-0-bytes-used"] == "5"
            assert headers["x-account-storage-policy-policy-0-object-count"] == "1"
            assert headers["x-account-storage-policy-policy-0-container-count"] == "1"
            assert "x-timestamp" in headers and "content-type" in headers
        for call in (
            lambda r: owner.post_container("hdr", {"X-Container-Meta-A": "b"}, response_dict=r),
            lambda r: owner.post_account({"X-Account-Meta-A": "b"}, response_dict=r),
            lambda r: owner.delete_object("hdr", "o", response_dict=r),
            lambda r: owner.delete_container("hdr", response_dict=r),
        ):
            answer = {}
            call(answer)
            assert answer["status"] == 204
            assert answer["headers"]["content-type"] == "text/html; charset=UTF-8"
    finally:
        for clean in (
            lambda: owner.delete_object("hdr", "o"),
            lambda: owner.delete_container("hdr"),
        ):
            try:
                clean()
            except ClientException:
                pass


def test_reseller_admin_sets_another_accounts_quota(accounts):
    owner, reseller = accounts
    owner_url = owner.url
    quota = {"X-Account-Meta-Quota-Bytes": "4"}
    with pytest.raises(ClientException) as refused:
        owner.post_account(quota)  # a project's member may not raise its own quota
    assert refused.value.http_status == 403
    swiftclient.post_account(owner_url, reseller.token, quota)
    owner.put_container("quota")
    try:
        assert owner.head_account()["x-account-meta-quota-bytes"] == "4"
        owner.put_object("quota", "small", b"1234")
        with pytest.raises(ClientException) as over:
            owner.put_object("quota", "big", b"12345")
        assert over.value.http_status == 413
    finally:
        swiftclient.post_account(
            owner_url, reseller.token, {"X-Remove-Account-Meta-Quota-Bytes": "x"}
        )
        for name in ("small", "big"):
            try:
                owner.delete_object("quota", name)
            except ClientException:
                pass
        owner.delete_container("quota")
