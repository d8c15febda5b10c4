"""Who may call what (Cinder's default personas): admin-only routes refuse a member, a
reader reads but does not write; every route of the API is walked for the member."""

from __future__ import annotations

import pytest

from pocketstack.volume.api import ROUTES

#: routes only an admin may call: (method, path below /volume/v3, body)
ADMIN_ONLY = [
    ("POST", "/types", {"volume_type": {"name": "t"}}),
    ("PUT", "/os-quota-sets/p-demo", {"quota_set": {"volumes": 1}}),
    ("DELETE", "/os-quota-sets/p-demo", None),
    ("GET", "/os-services", None),
    ("PUT", "/os-services/disable", {"host": "node1", "binary": "cinder-volume"}),
    ("GET", "/types/default/os-volume-type-access", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_admin_only_routes_refuse_a_member(api, method, path, body):
    call, _cloud, _agent = api
    answer = call(method, path, body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["forbidden"]["code"] == 403


def test_admin_actions_on_a_volume_refuse_a_member(api):
    call, cloud, _agent = api
    from pocketstack.volume.volumes import VolumeCreate
    from tests.unit.volume.conftest import DEMO, wait_status

    volume_id = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1)).volume.id
    wait_status(cloud, volume_id, "available")
    for action in ({"os-reset_status": {"status": "error"}}, {"os-force_delete": {}}):
        assert call("POST", f"/volumes/{volume_id}/action", action).status_code == 403
    reset = call(
        "POST",
        f"/volumes/{volume_id}/action",
        {"os-reset_status": {"status": "error"}},
        token="admin",
    )
    assert reset.status_code == 202
    assert cloud.volume.volumes.get(DEMO, volume_id).volume.status == "error"


def test_a_reader_reads_but_does_not_write(api):
    call, _cloud, _agent = api
    assert call("GET", "/volumes", token="reader").status_code == 200
    assert call("GET", "/types", token="reader").status_code == 200
    refused = call("POST", "/volumes", {"volume": {"size": 1}}, token="reader")
    assert refused.status_code == 403


def test_every_route_answers_the_member_without_a_server_error(api):
    """No route is a 500 for a member with an empty or minimal request."""
    call, _cloud, _agent = api
    seen = set()
    for spec in ROUTES:
        if not spec.path.startswith("/v3/") or "{project_id}" in spec.path:
            continue
        path = spec.path[len("/v3") :]
        for name in ("volume_id", "snapshot_id", "type_id", "attachment_id", "backup_id"):
            path = path.replace("{" + name + "}", "00000000-0000-0000-0000-000000000000")
        path = path.replace("{target_project_id}", "p-demo").replace("{key}", "k")
        path = path.replace("{action}", "enable")
        if (spec.method, path) in seen:
            continue
        seen.add((spec.method, path))
        answer = call(
            spec.method, path, {} if spec.method in ("POST", "PUT") else None, version="3.44"
        )
        assert answer.status_code < 500, (spec.method, path, answer.text)
