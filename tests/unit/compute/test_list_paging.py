"""Server and flavor lists sort and page in SQL (``common.paging``): every page follows the
previous one's last item in the list's order, with no repeat and no gap, whatever the sort
keys; a marker outside the list is Nova's 400; the ``ip`` filter, done in Python, pages the
same way; the database is asked for one page, not the table."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import servers as servers_module
from tests.unit.compute import builders

DEMO = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member",))
OTHER = RequestContext(user_id="u-other", project_id="p-other", roles=("member",))
ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin",))
T0 = dt.datetime(2026, 1, 1)


def plant(db, name, project_id="p-demo", minutes=0, ip=None, vm_state="active"):
    return builders.plant(
        db,
        name=name,
        project_id=project_id,
        vm_state=vm_state,
        created_at=T0 + dt.timedelta(minutes=minutes),
        network_info=[{"fixed_ips": [{"ip_address": ip}]}] if ip else [],
    )


@pytest.fixture
def planted(db):
    """Nine servers of p-demo (created in pairs at the same minute, 10.0.0.x on the odd
    ones, every third stopped) and one of another project."""
    uuids = {}
    for i in range(9):
        ip = f"10.0.0.{i}" if i % 2 else f"192.168.0.{i}"
        state = "stopped" if i % 3 == 0 else "active"
        uuids[f"vm{i}"] = plant(db, f"vm{i}", minutes=i // 2 * 10, ip=ip, vm_state=state)
    uuids["theirs"] = plant(db, "theirs", project_id="p-other", minutes=99)
    return uuids


def walk(list_page, limit):
    """Every item of a list read page by page (marker = last item of the previous page)."""
    seen, marker = [], None
    while True:
        page = list_page(limit=limit, marker=marker)
        assert len(page) <= limit
        seen += page
        if len(page) < limit:
            return seen
        marker = page[-1]


def names(rows):
    return [r.name for r in rows]


@pytest.mark.parametrize(
    ("sort_keys", "sort_dirs"),
    [
        (None, None),
        (["name"], ["asc"]),
        (["created_at"], ["asc"]),
        (["vm_state", "name"], ["asc", "desc"]),
        (["vm_state", "created_at"], None),  # Nova: both desc
        (["launched_at"], ["asc"]),  # all NULL: the uuid decides
    ],
)
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_servers_pages_chain_without_repeat_or_gap(cloud, planted, sort_keys, sort_dirs, limit):
    servers = cloud.compute.servers

    def page(limit, marker):
        found = servers.list(
            DEMO,
            filters={},
            limit=limit,
            marker=marker and marker.uuid,
            sort_keys=sort_keys,
            sort_dirs=sort_dirs,
        )
        return found

    everything = servers.list(DEMO, filters={}, sort_keys=sort_keys, sort_dirs=sort_dirs)
    assert len(everything) == 9 and "theirs" not in names(everything)
    assert names(walk(page, limit)) == names(everything)


def test_servers_default_order_is_newest_first_with_the_uuid_breaking_ties(cloud, planted):
    rows = cloud.compute.servers.list(DEMO, filters={})
    created = [(r.created_at, r.uuid) for r in rows]
    assert created == sorted(created, reverse=True)
    by_name = cloud.compute.servers.list(DEMO, filters={}, sort_keys=["name"], sort_dirs=["asc"])
    assert names(by_name) == [f"vm{i}" for i in range(9)]


def test_servers_marker_outside_the_list_is_novas_400(cloud, planted):
    servers = cloud.compute.servers
    for marker in (planted["theirs"], "no-such-server"):
        with pytest.raises(errors.BadRequest, match=rf"marker \[{marker}\] not found"):
            servers.list(DEMO, filters={}, marker=marker, limit=2)
    stopped = {"status": "SHUTOFF"}
    with pytest.raises(errors.BadRequest, match="not found"):  # filtered out of the list
        servers.list(DEMO, filters=stopped, marker=planted["vm1"])
    with pytest.raises(errors.BadRequest, match="Invalid sort key"):
        servers.list(DEMO, filters={}, sort_keys=["password"])
    admin_list = servers.list(ADMIN, filters={}, all_projects=True, marker=planted["theirs"])
    assert len(admin_list) == 9  # the newest: every other server comes after it


@pytest.mark.parametrize("batch", [1, 2, 200])
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_ip_filter_pages_like_the_others(cloud, planted, monkeypatch, batch, limit):
    monkeypatch.setattr(servers_module, "IP_FILTER_BATCH", batch)
    servers = cloud.compute.servers
    filters = {"ip": r"^10\.0\.0\."}

    def page(limit, marker):
        return servers.list(DEMO, filters=filters, limit=limit, marker=marker and marker.uuid)

    everything = servers.list(DEMO, filters=filters)
    assert sorted(names(everything)) == ["vm1", "vm3", "vm5", "vm7"]
    assert names(walk(page, limit)) == names(everything)
    assert servers.list(DEMO, filters=filters, limit=0) == []
    with pytest.raises(errors.BadRequest, match="not found"):  # vm2's address does not match
        servers.list(DEMO, filters=filters, marker=planted["vm2"], limit=limit)
    with pytest.raises(errors.BadRequest, match=r"marker \[.*\] not found"):  # even for no rows
        servers.list(DEMO, filters=filters, marker=planted["vm2"], limit=0)
    with pytest.raises(errors.BadRequest, match="Invalid ip filter"):
        servers.list(DEMO, filters={"ip": "("})


def test_servers_and_flavors_ask_the_database_for_one_page(cloud, planted):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = sa.Engine  # the reader's engine and the writer's (SQLite has one of each)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        rows = cloud.compute.servers.list(
            DEMO, filters={}, limit=2, marker=planted["vm4"], sort_keys=["name"]
        )
        cloud.compute.flavors.bootstrap()
        flavors = cloud.compute.flavors.list(DEMO, limit=2, marker="2")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert names(rows) == ["vm3", "vm2"]
    assert [f.flavorid for f in flavors] == ["3", "4"]
    pages = [s for s in statements if "LIMIT" in s and ("instances" in s or "flavors" in s)]
    assert len(pages) >= 2, statements


# ---------------------------------------------------------------------------- flavors


@pytest.fixture
def flavors(cloud):
    flavors = cloud.compute.flavors
    flavors.bootstrap()
    flavors.create(ADMIN, name="twin-a", flavorid="10", ram=512, vcpus=1, disk=1)
    flavors.create(ADMIN, name="twin-b", flavorid="11", ram=512, vcpus=1, disk=1)
    flavors.create(ADMIN, name="ours", flavorid="20", ram=64, vcpus=1, disk=0, is_public=False)
    flavors.create(ADMIN, name="theirs", flavorid="21", ram=64, vcpus=1, disk=0, is_public=False)
    flavors.add_access(ADMIN, "20", "p-demo")
    flavors.add_access(ADMIN, "21", "p-demo_")  # LIKE's wildcard must not let p-demo in
    return flavors


@pytest.mark.parametrize(
    ("sort_key", "sort_dir"),
    [("flavorid", "asc"), ("memory_mb", "asc"), ("memory_mb", "desc"), ("name", "desc")],
)
@pytest.mark.parametrize("limit", [1, 3])
def test_flavor_pages_chain_without_repeat_or_gap(flavors, sort_key, sort_dir, limit):
    def page(limit, marker):
        return flavors.list(
            DEMO,
            limit=limit,
            marker=marker and marker.flavorid,
            sort_key=sort_key,
            sort_dir=sort_dir,
        )

    everything = flavors.list(DEMO, sort_key=sort_key, sort_dir=sort_dir)
    ids = [f.flavorid for f in everything]
    assert sorted(ids) == ["1", "10", "11", "2", "20", "3", "4", "5"]  # not 21: no access
    values = [getattr(f, sort_key) for f in everything]
    assert values == sorted(values, reverse=sort_dir == "desc")
    assert [f.flavorid for f in walk(page, limit)] == ids


def test_flavor_visibility_and_markers_in_sql(flavors):
    assert [f.flavorid for f in flavors.list(DEMO, is_public=False)] == ["20"]
    assert [f.flavorid for f in flavors.list(OTHER, is_public=None)] == ["1", "10", "11"] + [
        "2",
        "3",
        "4",
        "5",
    ]
    assert [f.flavorid for f in flavors.list(ADMIN, is_public=False)] == ["20", "21"]
    assert [f.flavorid for f in flavors.list(DEMO, marker="11", limit=2)] == ["2", "20"]
    with pytest.raises(errors.BadRequest, match=r"marker \[21\] not found"):
        flavors.list(DEMO, marker="21")  # a private flavor the caller may not use
    with pytest.raises(errors.BadRequest, match=r"marker \[20\] not found"):
        flavors.list(DEMO, marker="20", min_ram=128)  # filtered out of the list
    with pytest.raises(errors.BadRequest, match="Invalid sort key"):
        flavors.list(DEMO, sort_key="extra_specs")
