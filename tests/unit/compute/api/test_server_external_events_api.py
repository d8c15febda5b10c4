"""``POST /os-server-external-events`` on the Compute API alone (API reference "Create
External Events"): per-event codes, 200/207/404, admin only, the body's schema, and a
``network-changed`` that refreshes what ``GET /servers/{id}`` shows."""

from __future__ import annotations

import uuid

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute.models import Instance
from pocketstack.network.ports import PortUpdate
from tests.unit.compute import builders
from tests.unit.compute.api.conftest import ADMIN, DEMO

URL = "/compute/v2.1/os-server-external-events"


@pytest.fixture
def private(cloud):
    """The bootstrapped ``private`` network of project p-demo."""
    return cloud.network.bootstrap("p-admin", "p-demo")["private_network_id"]


def boot(cloud, network_id: str, host: str | None = "host1") -> str:
    """A server row with a port on ``network_id`` and the network_info of its build."""
    server = builders.plant(cloud.db, host=host)
    if host:
        info = cloud.network.allocate_for_instance(
            RequestContext.system(), server, "p-demo", host, [{"uuid": network_id}], []
        )
        with cloud.db.transaction() as s:
            s.get(Instance, server).network_info = info
    return server


def event(server: str, name: str = "network-changed", **extra) -> dict:
    return {"name": name, "server_uuid": server, **extra}


def test_network_changed_refreshes_the_addresses_the_server_shows(client, cloud, private):
    server = boot(cloud, private)
    [vif] = cloud.network.get_instance_network_info(RequestContext.system(), server)
    port_id = vif["port_id"]
    before = client.get(f"/compute/v2.1/servers/{server}", headers=DEMO).json()
    assert [a["addr"] for a in before["server"]["addresses"]["private"]] == ["10.0.0.2"]
    # the port gets another address behind compute's back (no event sent by hand yet)
    with pytest.MonkeyPatch.context() as mp:  # keep the network service from telling compute
        mp.setattr(cloud.network, "notify_compute", lambda events: None)
        cloud.network.ports.update(
            RequestContext.system(),
            port_id,
            PortUpdate(fixed_ips=[{"ip_address": "10.0.0.2"}, {"ip_address": "10.0.0.9"}]),
        )
    stale = client.get(f"/compute/v2.1/servers/{server}", headers=DEMO).json()
    assert [a["addr"] for a in stale["server"]["addresses"]["private"]] == ["10.0.0.2"]

    answer = client.post(URL, headers=ADMIN, json={"events": [event(server, tag=port_id)]})
    assert answer.status_code == 200
    assert answer.json() == {
        "events": [
            {
                "name": "network-changed",
                "server_uuid": server,
                "status": "completed",
                "tag": port_id,
                "code": 200,
            }
        ]
    }
    shown = client.get(f"/compute/v2.1/servers/{server}", headers=DEMO).json()
    assert [a["addr"] for a in shown["server"]["addresses"]["private"]] == [
        "10.0.0.2",
        "10.0.0.9",
    ]


def test_unknown_and_hostless_servers_fail_per_event_207(client, cloud, private):
    server = boot(cloud, private)
    building = boot(cloud, private, host=None)
    unknown = str(uuid.uuid4())
    body = {
        "events": [
            event(server, "network-vif-plugged", status="in-progress"),
            event(unknown),
            event(building),
        ]
    }
    answer = client.post(URL, headers=ADMIN, json=body)
    assert answer.status_code == 207
    assert [(e["server_uuid"], e["code"], e["status"]) for e in answer.json()["events"]] == [
        (server, 200, "in-progress"),
        (unknown, 404, "failed"),
        (building, 422, "failed"),
    ]
    assert all("tag" not in e for e in answer.json()["events"])


def test_no_server_found_for_any_event_is_404(client, cloud, private):
    deleted = builders.plant(cloud.db, host="host1", deleted=True, vm_state="deleted")
    answer = client.post(
        URL, headers=ADMIN, json={"events": [event(str(uuid.uuid4())), event(deleted)]}
    )
    assert answer.status_code == 404
    assert answer.json() == {
        "itemNotFound": {"code": 404, "message": "No instances found for any event"}
    }


def test_only_admins_send_events(client, cloud, private):
    server = boot(cloud, private)
    answer = client.post(URL, headers=DEMO, json={"events": [event(server)]})
    assert answer.status_code == 403
    assert "forbidden" in answer.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"events": []},
        {"events": [{"name": "network-changed"}]},
        {"events": [{"name": "reboot", "server_uuid": str(uuid.uuid4())}]},
        {"events": [{"name": "network-changed", "server_uuid": "not a uuid"}]},
        {"events": [{"name": "network-changed", "server_uuid": str(uuid.uuid4()), "x": 1}]},
        {"events": [{"name": "network-changed", "server_uuid": str(uuid.uuid4()), "status": "ok"}]},
        {
            "events": [
                {"name": "network-changed", "server_uuid": str(uuid.uuid4()), "tag": "t" * 256}
            ]
        },
    ],
)
def test_bad_bodies_are_400(client, body):
    answer = client.post(URL, headers=ADMIN, json=body)
    assert answer.status_code == 400
    assert "badRequest" in answer.json()
