"""Migration rows (``compute.migrations``): create, get by id or uuid, conditional status
changes, the ``GET /os-migrations`` query (filters, newest first, uuid marker) and the
server's in-progress live migrations."""

from __future__ import annotations

import pytest

from pocketstack.compute import migrations
from pocketstack.compute.models import Instance
from tests.unit.compute.builders import plant


def _make(cloud, uuid, **kw):
    with cloud.db.transaction() as s:
        inst = s.get(Instance, uuid)
        row = migrations.create(s, inst, source_compute="h1", **kw)
        return row.id, row.uuid


def test_create_get_update(cloud):
    uuid = plant(cloud.db, flavor={"id": 3, "flavorid": "1"}, host="h1")
    mid, muuid = _make(
        cloud,
        uuid,
        migration_type=migrations.RESIZE,
        dest_compute="h2",
        new_flavor={"id": 4, "flavorid": "2"},
    )
    with cloud.db.transaction() as s:
        row = migrations.get(s, mid)
        assert row.uuid == muuid and migrations.get(s, muuid).id == mid
        assert (row.old_instance_type_id, row.new_instance_type_id) == (3, 4)
        assert row.source_node == "h1" and row.dest_node == "h2" and row.project_id == "p-demo"
        assert migrations.in_progress(s, uuid).id == mid
        migrations.update_status(s, mid, "finished", expected="pre-migrating")
    with cloud.db.transaction() as s, pytest.raises(migrations.MigrationStateConflict):
        migrations.update_status(s, mid, "confirmed", expected=("confirming",))
    with cloud.db.transaction() as s:
        migrations.update_status(s, mid, "confirmed", expected=("finished",))
        assert migrations.in_progress(s, uuid) is None
    with cloud.db.reader() as s, pytest.raises(migrations.MigrationNotFound):
        migrations.get(s, 999)
    with cloud.db.reader() as s, pytest.raises(ValueError):
        migrations.create(s, s.get(Instance, uuid), migration_type="teleport", source_compute="h")


def test_list_filters_and_marker(cloud):
    a = plant(cloud.db, host="h1")
    b = plant(cloud.db, host="h1")
    ids = [
        _make(cloud, a, migration_type=migrations.RESIZE, dest_compute="h2"),
        _make(cloud, b, migration_type=migrations.MIGRATION, dest_compute="h3"),
        _make(
            cloud, b, migration_type=migrations.LIVE_MIGRATION, dest_compute="h2", status="running"
        ),
    ]
    m = cloud.compute.migrations
    every = m.list(migrations.MigrationFilters())
    assert [r.id for r in every] == [i for i, _ in reversed(ids)]
    assert [r.id for r in m.list(migrations.MigrationFilters(host="h3"))] == [ids[1][0]]
    assert len(m.list(migrations.MigrationFilters(instance_uuid=b))) == 2
    assert len(m.list(migrations.MigrationFilters(migration_type="resize"))) == 1
    page = m.list(migrations.MigrationFilters(), limit=1, marker=ids[2][1])
    assert [r.id for r in page] == [ids[1][0]]
    with pytest.raises(migrations.MigrationNotFound):
        m.list(migrations.MigrationFilters(), marker="nope")
    assert [r.id for r in m.list_for_server(b)] == [ids[2][0]]
    assert m.get_for_server(b, str(ids[2][0])).status == "running"
    for bad in (str(ids[1][0]), str(ids[0][0]), "x"):
        with pytest.raises(migrations.MigrationNotFound):
            m.get_for_server(b, bad)
