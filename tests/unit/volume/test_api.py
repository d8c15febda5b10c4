"""The Block Storage API in-process: Cinder's shapes, codes and error bodies, project
isolation, microversions (Block Storage API v3 reference)."""

from __future__ import annotations

from tests.helpers import wait_until


def _available(call, volume_id, token="demo"):
    def shown():
        body = call("GET", f"/volumes/{volume_id}", token=token).json()["volume"]
        return body if body["status"] == "available" else None

    return wait_until(shown, 10, f"volume {volume_id} available")


def _create(call, size=1, token="demo", **extra):
    answer = call("POST", "/volumes", {"volume": {"size": size, **extra}}, token=token)
    assert answer.status_code == 202, answer.text
    return _available(call, answer.json()["volume"]["id"], token)


def test_version_documents_and_negotiation(api):
    call, _cloud, _agent = api
    answer = call("GET", "/", token="")
    assert answer.json()["versions"][0]["id"] == "v3.0"
    assert answer.json()["versions"][0]["min_version"] == "3.0"
    latest = call("GET", "/volumes", version="latest")
    assert latest.headers["OpenStack-API-Version"].startswith("volume 3.")
    assert call("GET", "/volumes", version="3.9999").status_code == 406
    assert call("GET", "/volumes", version="4.x").status_code == 400


def test_create_show_list_update_delete(api):
    call, _cloud, agent = api
    volume = _create(call, size=2, name="v1", metadata={"k": "v"})
    assert volume["bootable"] == "false" and volume["volume_type"] == "__DEFAULT__"
    assert volume["size"] == 2 and volume["metadata"] == {"k": "v"}
    assert "os-vol-host-attr:host" not in volume
    shown = call("GET", f"/volumes/{volume['id']}", token="admin").json()["volume"]
    assert shown["os-vol-host-attr:host"] == "node1@file#file"
    listed = call("GET", "/volumes").json()["volumes"]
    assert listed == [{"id": volume["id"], "name": "v1", "links": listed[0]["links"]}]
    assert call("GET", "/volumes/detail?metadata={'k':'v'}").json()["volumes"][0]["id"]
    assert call("GET", "/volumes/detail?status=error").json()["volumes"] == []
    updated = call("PUT", f"/volumes/{volume['id']}", {"volume": {"name": "v2"}})
    assert updated.json()["volume"]["name"] == "v2"
    assert call("DELETE", f"/volumes/{volume['id']}").status_code == 202
    wait_until(
        lambda: call("GET", f"/volumes/{volume['id']}").status_code == 404, 10, "volume gone"
    )
    assert ("delete_volume", {"volume_id": volume["id"]}) in agent.calls


def test_project_path_form_and_another_projects_volume(api):
    call, _cloud, _agent = api
    volume = _create(call)
    assert call("GET", f"/p-demo/volumes/{volume['id']}").status_code == 200
    assert call("GET", f"/p-other/volumes/{volume['id']}").status_code == 400
    missing = call("GET", f"/volumes/{volume['id']}", token="other")
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": f"Volume {volume['id']} could not be found."}
    }
    assert call("DELETE", f"/volumes/{volume['id']}", token="other").status_code == 404


def test_extend_and_its_microversion_rule(api):
    call, cloud, _agent = api
    volume = _create(call)
    smaller = call("POST", f"/volumes/{volume['id']}/action", {"os-extend": {"new_size": 1}})
    assert smaller.status_code == 400
    grown = call("POST", f"/volumes/{volume['id']}/action", {"os-extend": {"new_size": 3}})
    assert grown.status_code == 202
    wait_until(
        lambda: call("GET", f"/volumes/{volume['id']}").json()["volume"]["size"] == 3,
        10,
        "extended",
    )
    _available(call, volume["id"])
    att = cloud.volume.attachments.create(cloud_ctx(), volume["id"], "srv")
    cloud.volume.attachments.update(cloud_ctx(), att.id, {"host": "node1"})
    cloud.volume.attachments.complete(cloud_ctx(), att.id)
    body = {"os-extend": {"new_size": 4}}
    old = call("POST", f"/volumes/{volume['id']}/action", body)
    assert old.status_code == 400 and "Invalid volume" in old.json()["badRequest"]["message"]
    new = call("POST", f"/volumes/{volume['id']}/action", body, version="3.42")
    assert new.status_code == 202
    in_use = call("DELETE", f"/volumes/{volume['id']}")
    assert in_use.status_code == 400
    assert in_use.json()["badRequest"]["message"].startswith("Invalid volume: ")


def cloud_ctx():
    from tests.unit.volume.conftest import DEMO

    return DEMO


def test_quota_over_limit_is_413_with_cinders_message(api):
    call, _cloud, _agent = api
    put = call("PUT", "/os-quota-sets/p-demo", {"quota_set": {"gigabytes": 3}}, token="admin")
    assert put.status_code == 200 and put.json()["quota_set"]["gigabytes"] == 3
    _create(call, size=2)
    over = call("POST", "/volumes", {"volume": {"size": 2}})
    assert over.status_code == 413
    assert "VolumeSizeExceedsAvailableQuota" in over.json()["overLimit"]["message"]
    usage = call("GET", "/os-quota-sets/p-demo?usage=True").json()["quota_set"]
    assert usage["gigabytes"] == {"limit": 3, "in_use": 2, "reserved": 0, "allocated": 0}
    assert call("PUT", "/os-quota-sets/p-demo", {"quota_set": {"volumes": 1}}).status_code == 403
    limits = call("GET", "/limits").json()["limits"]["absolute"]
    assert (limits["maxTotalVolumeGigabytes"], limits["totalGigabytesUsed"]) == (3, 2)


def test_types_are_an_admins_and_a_volume_follows_its_type(api):
    call, _cloud, _agent = api
    body = {"volume_type": {"name": "fast", "extra_specs": {"volume_backend_name": "nvme"}}}
    assert call("POST", "/types", body).status_code == 403
    vtype = call("POST", "/types", body, token="admin").json()["volume_type"]
    names = [t["name"] for t in call("GET", "/types").json()["volume_types"]]
    assert names == ["__DEFAULT__", "fast"]
    answer = call("POST", "/volumes", {"volume": {"size": 1, "volume_type": "fast"}})
    volume_id = answer.json()["volume"]["id"]
    shown = call("GET", f"/volumes/{volume_id}").json()["volume"]
    assert shown["status"] == "error"  # no backend is named nvme
    assert call("DELETE", f"/types/{vtype['id']}", token="admin").status_code == 400
    default = call("GET", "/types/default").json()["volume_type"]
    assert call("DELETE", f"/types/{default['id']}", token="admin").status_code == 400


def test_snapshots_need_force_for_an_in_use_volume_before_3_66(api):
    call, cloud, agent = api
    volume = _create(call)
    answer = call("POST", "/snapshots", {"snapshot": {"volume_id": volume["id"], "name": "s"}})
    assert answer.status_code == 202
    snap_id = answer.json()["snapshot"]["id"]
    wait_until(
        lambda: call("GET", f"/snapshots/{snap_id}").json()["snapshot"]["status"] == "available",
        10,
        "snapshot available",
    )
    assert call("DELETE", f"/volumes/{volume['id']}").status_code == 400
    clone = call("POST", "/volumes", {"volume": {"snapshot_id": snap_id}})
    assert clone.json()["volume"]["size"] == 1
    assert call("DELETE", f"/snapshots/{snap_id}").status_code == 202
    wait_until(lambda: call("GET", f"/snapshots/{snap_id}").status_code == 404, 10, "gone")


def test_attachments_api_needs_3_27_and_completes_at_3_44(api):
    call, _cloud, agent = api
    volume = _create(call)
    body = {"attachment": {"volume_uuid": volume["id"], "instance_uuid": "srv-1"}}
    assert call("POST", "/attachments", body).status_code == 404
    att = call("POST", "/attachments", body, version="3.27").json()["attachment"]
    assert att["status"] == "reserved"
    put = call(
        "PUT",
        f"/attachments/{att['id']}",
        {"attachment": {"connector": {"host": "h"}}},
        version="3.27",
    )
    assert put.json()["attachment"]["connection_info"]["driver_volume_type"] == "iscsi"
    done = call("POST", f"/attachments/{att['id']}/action", {"os-complete": {}}, version="3.44")
    assert done.status_code == 204
    shown = call("GET", f"/volumes/{volume['id']}").json()["volume"]
    assert shown["status"] == "in-use" and shown["attachments"][0]["server_id"] == "srv-1"
    assert call("DELETE", f"/attachments/{att['id']}", version="3.27").status_code == 200
    assert call("GET", f"/volumes/{volume['id']}").json()["volume"]["status"] == "available"


def test_services_and_zones(api):
    call, cloud, _agent = api
    cloud.volume.services.heartbeat_scheduler()
    assert call("GET", "/os-services").status_code == 403
    rows = call("GET", "/os-services", token="admin").json()["services"]
    assert {(r["binary"], r["state"]) for r in rows} == {
        ("cinder-scheduler", "up"),
        ("cinder-volume", "up"),
    }
    assert any(r["host"] == "node1@file" for r in rows)
    zones = call("GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}}]
    bad = call("POST", "/volumes", {"volume": {"size": 1, "availability_zone": "mars"}})
    assert bad.status_code == 400


def test_summary_and_time_filters(api):
    call, _cloud, _agent = api
    first = _create(call, size=2, metadata={"env": "a"})
    _create(call, size=3, metadata={"env": "b"})
    assert call("GET", "/volumes/summary").status_code == 404  # 3.12+
    summary = call("GET", "/volumes/summary", version="3.36").json()["volume-summary"]
    assert (summary["total_count"], summary["total_size"]) == (2, 5)
    assert sorted(summary["metadata"]["env"]) == ["a", "b"]
    since = first["created_at"]  # to the second, so no volume is older
    newer = call("GET", f"/volumes?created_at=gte:{since}", version="3.60").json()["volumes"]
    assert len(newer) == 2
    older = call("GET", f"/volumes?created_at=lt:{since}", version="3.60").json()["volumes"]
    assert older == []
    ignored = call("GET", f"/volumes?created_at=lt:{since}", version="3.59").json()["volumes"]
    assert len(ignored) == 2
    bad = call("GET", "/volumes?created_at=soon:x", version="3.60")
    assert bad.status_code == 400
