"""``/v2.0/extensions`` lists only what is there: an alias whose API needs a route is listed
only when that route is mounted."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.network.api import API, root
from tests.helpers import FixedTokens, service_app

USERS = {"demo": RequestContext(user_id="u", project_id="p", roles=("member", "reader"))}


@pytest.fixture
def client(cloud, conf):
    with TestClient(service_app(API, conf, cloud, FixedTokens(USERS))) as test_client:
        yield test_client


def _get(client, path: str):
    return client.get("/networking/v2.0" + path, headers={"X-Auth-Token": "demo"})


def test_the_data_plane_extensions_are_listed(client):
    aliases = {e["alias"] for e in _get(client, "/extensions").json()["extensions"]}
    assert {
        "agent",
        "binding",
        "external-net",
        "provider",
        "quotas",
        "quota_details",
        "security-group",
        "standard-attr-tag",
        "standard-attr-timestamp",
        "standard-attr-revisions",
        "standard-attr-description",
        "port-security",
        "allowed-address-pairs",
        "net-mtu",
        "extra_dhcp_opt",
        "segment",
    } <= aliases
    assert "network-mtu" not in aliases and "extra-dhcp-opt" not in aliases  # not Neutron's
    agent = _get(client, "/extensions/agent").json()["extension"]
    assert agent["alias"] == "agent" and agent["name"] and agent["description"]
    missing = _get(client, "/extensions/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["NeutronError"]["type"] == "ExtensionNotFound"


def test_an_extension_without_its_route_is_not_listed(client, monkeypatch):
    monkeypatch.setitem(root.REQUIRES, "agent", ("GET", "/v2.0/not-mounted"))
    root.available.cache_clear()
    try:
        aliases = {e["alias"] for e in _get(client, "/extensions").json()["extensions"]}
        assert "agent" not in aliases and "quotas" in aliases
        assert _get(client, "/extensions/agent").status_code == 404
    finally:
        monkeypatch.undo()
        root.available.cache_clear()


def test_every_required_route_names_a_listed_extension():
    assert set(root.REQUIRES) <= set(root.EXTENSIONS)
