"""Microversion negotiation and the version documents."""

from __future__ import annotations

from tests.unit.compute.api.conftest import DEMO


def test_version_documents_need_no_token(client):
    root = client.get("/compute/")
    assert root.status_code == 200
    legacy, version = root.json()["versions"]
    assert (legacy["id"], legacy["status"]) == ("v2.0", "SUPPORTED")  # first, as Nova
    assert (version["id"], version["status"]) == ("v2.1", "CURRENT")
    assert (version["min_version"], version["version"]) == ("2.1", "2.96")
    doc = client.get("/compute/v2.1/").json()["version"]
    assert doc["links"][0]["href"].endswith("/compute/v2.1/")


def test_every_answer_names_the_version(client):
    r = client.get("/compute/v2.1/flavors", headers=DEMO)
    assert r.headers["OpenStack-API-Version"] == "compute 2.1"
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in r.headers["Vary"]
    assert r.headers["X-Compute-Request-Id"].startswith("req-")
    assert r.headers["X-Openstack-Request-Id"] == r.headers["X-Compute-Request-Id"]
    missing = client.get("/compute/v2.1/servers/nope", headers=DEMO)
    assert missing.headers["OpenStack-API-Version"] == "compute 2.1"


def test_latest_and_explicit_versions(client):
    for header in (
        {"OpenStack-API-Version": "compute latest"},
        {"OpenStack-API-Version": "compute 2.1"},
        {"X-OpenStack-Nova-API-Version": "2.1"},
    ):
        assert client.get("/compute/v2.1/flavors", headers={**DEMO, **header}).status_code == 200
    # latest answers the maximum; the standard header wins over the legacy one
    r = client.get(
        "/compute/v2.1/flavors",
        headers={**DEMO, "OpenStack-API-Version": "compute latest"},
    )
    assert r.headers["OpenStack-API-Version"] == "compute 2.96"
    r = client.get(
        "/compute/v2.1/flavors",
        headers={
            **DEMO,
            "OpenStack-API-Version": "compute 2.55",
            "X-OpenStack-Nova-API-Version": "2.3",
        },
    )
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.55"
    r = client.get(
        "/compute/v2.1/flavors", headers={**DEMO, "X-OpenStack-Nova-API-Version": "2.61"}
    )
    assert r.headers["OpenStack-API-Version"] == "compute 2.61"


def test_unsupported_version_is_406_and_garbage_400(client):
    for too_far in ("2.97", "2.0", "3.0", "1.1"):
        r = client.get(
            "/compute/v2.1/flavors",
            headers={**DEMO, "OpenStack-API-Version": f"compute {too_far}"},
        )
        assert r.status_code == 406
        message = r.json()["notAcceptable"]["message"]
        assert message == (
            f"Version {too_far} is not supported by the API. Minimum is 2.1 and maximum is 2.96."
        )
    r = client.get(
        "/compute/v2.1/flavors", headers={**DEMO, "X-OpenStack-Nova-API-Version": "2.97"}
    )
    assert r.status_code == 406
    r = client.get(
        "/compute/v2.1/flavors", headers={**DEMO, "OpenStack-API-Version": "compute two"}
    )
    assert r.status_code == 400


def test_refusals_before_the_handler_name_the_version_too(client):
    """Bodies refused by the HTTP layer (schema 400, malformed JSON, 415, 413) carry the
    version headers like every other Compute answer."""
    for kwargs in (
        {"json": {"server": {"name": None}}},
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"content": b"name=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"content": b"{" + b" " * 200_000 + b"}", "headers": {"Content-Type": "application/json"}},
    ):
        headers = {**DEMO, **kwargs.pop("headers", {})}
        r = client.post("/compute/v2.1/servers", headers=headers, **kwargs)
        assert r.status_code in (400, 413, 415), r.text
        assert r.headers["OpenStack-API-Version"] == "compute 2.1", r.status_code


def test_an_unsupported_version_wins_over_a_bad_body(client):
    """Nova checks the version before it reads the body: 406, not 400."""
    r = client.post(
        "/compute/v2.1/servers",
        headers={**DEMO, "OpenStack-API-Version": "compute 2.999"},
        json={"server": {"name": None}},
    )
    assert r.status_code == 406
    assert r.headers["OpenStack-API-Version"] == "compute 2.1"
