"""Service liveness: heartbeats and whether a service is up."""

import datetime as dt

import sqlalchemy as sa

from pocketstack.common.db import utcnow
from pocketstack.compute import liveness
from pocketstack.compute.models import Service


def service(db, host):
    """The ``services`` row of ``host``, detached with its values loaded."""
    with db.transaction() as s:
        return s.execute(sa.select(Service).where(Service.host == host)).scalar_one()


def test_report_service_creates_then_counts_heartbeats(db):
    liveness.report_service(db, "node1", availability_zone="zone-a")
    first = service(db, "node1")
    liveness.report_service(db, "node1", availability_zone="zone-a")
    second = service(db, "node1")
    assert (first.binary, first.topic, first.availability_zone) == (
        "nova-compute",
        "compute",
        "zone-a",
    )
    assert (first.report_count, second.report_count) == (1, 2)
    assert second.last_seen_up >= first.last_seen_up
    assert second.id == first.id


def test_report_service_keeps_admin_disable_and_forced_down(db):
    liveness.report_service(db, "node1")
    with db.transaction() as s:
        svc = s.execute(sa.select(Service)).scalar_one()
        svc.disabled, svc.disabled_reason, svc.forced_down = True, "maintenance", True
    liveness.report_service(db, "node1")
    svc = service(db, "node1")
    assert (svc.disabled, svc.disabled_reason, svc.forced_down) == (True, "maintenance", True)


def test_service_is_up(db, conf):
    liveness.report_service(db, "node1")
    svc = service(db, "node1")
    assert liveness.service_is_up(svc, conf)
    svc.last_seen_up = utcnow() - dt.timedelta(seconds=conf.service_down_time + 1)
    assert not liveness.service_is_up(svc, conf)
    svc.last_seen_up = utcnow()
    svc.forced_down = True
    assert not liveness.service_is_up(svc, conf)
    svc.forced_down, svc.last_seen_up = False, None
    assert not liveness.service_is_up(svc, conf)


def test_report_services_writes_a_fleets_heartbeats_together_as_report_service_would(db):
    liveness.report_service(db, "node1", availability_zone="zone-a")
    with db.transaction() as s:
        svc = s.execute(sa.select(Service)).scalar_one()
        svc.disabled, svc.disabled_reason = True, "maintenance"
    before = service(db, "node1")
    liveness.report_services(db, ["node1", "node2", "node3"], availability_zone="zone-a")
    liveness.report_services(db, ["node2", "node3"], availability_zone="zone-a")
    one, two, three = (service(db, h) for h in ("node1", "node2", "node3"))
    assert (one.report_count, two.report_count, three.report_count) == (2, 2, 2)
    assert one.id == before.id and one.last_seen_up >= before.last_seen_up
    assert (one.disabled, one.disabled_reason) == (True, "maintenance")  # the admin's, kept
    assert {(x.binary, x.topic, x.availability_zone) for x in (one, two, three)} == {
        ("nova-compute", "compute", "zone-a")
    }
    assert all(liveness.service_is_up(x, _Conf()) for x in (two, three))


class _Conf:
    service_down_time = 60.0
