"""Image records: filters, sorting, paging, JSON-patch updates, tags, delete."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from pocketstack.common.errors import BadRequest, Conflict
from pocketstack.image import fields
from pocketstack.image.api.views import image_view
from pocketstack.image.exceptions import (
    ImageForbidden,
    ImageNotFound,
    ImageProtected,
    PropertyNotFound,
)
from pocketstack.image.images import Images


def create(images, ctx, name, props=None, **core):
    return images.create(
        ctx, {"name": name, "disk_format": "qcow2", "container_format": "bare", **core}, props or {}
    )


def test_create_body_validation():
    core, props = fields.parse_create(
        {"name": "x", "disk_format": "iso", "os_distro": "d", "tags": ["a", "a", "b"]}
    )
    assert core == {"name": "x", "disk_format": "iso", "tags": ["a", "b"]}
    assert props == {"os_distro": "d"}
    with pytest.raises(BadRequest):
        fields.parse_create({"disk_format": "exe"})
    with pytest.raises(BadRequest):
        fields.parse_create({"container_format": "zip"})
    with pytest.raises(BadRequest):
        fields.parse_create({"min_ram": -1})
    with pytest.raises(BadRequest):
        fields.parse_create({"hw_disk_bus": 3})
    with pytest.raises(ImageForbidden):
        fields.parse_create({"status": "active"})


def test_create_with_an_id_twice_conflicts(images, demo):
    image_id = "2b1a4b44-1a57-4d2b-8a86-6f5c3a1f0c11"
    assert create(images, demo, "a", id=image_id).id == image_id
    with pytest.raises(Conflict):
        create(images, demo, "b", id=image_id)


def test_filters_on_columns_tags_and_properties(images, demo):
    create(images, demo, "a", {"os_distro": "debian"}, tags=["x", "y"], min_ram=64)
    create(
        images, demo, "b", {"os_distro": "cirros"}, tags=["x"], disk_format="raw", protected=True
    )

    def names(**filters):
        return sorted(i.name for i in images.list(demo, filters).images)

    assert names(tags=["x"]) == ["a", "b"]
    assert names(tags=["x", "y"]) == ["a"]
    assert names(properties={"os_distro": "cirros"}) == ["b"]
    assert names(disk_format="raw") == ["b"]
    assert names(name="in:a,b") == ["a", "b"]
    assert names(protected=True) == ["b"]
    assert names(status="active") == []


def test_sort_and_pages_with_marker(images, demo):
    for name in ("c", "a", "d", "b"):
        create(images, demo, name)
    page = images.list(demo, {}, sort=[("name", "asc")], limit=3)
    assert [i.name for i in page.images] == ["a", "b", "c"]
    page = images.list(demo, {}, sort=[("name", "asc")], limit=3, marker=page.next_marker)
    assert [i.name for i in page.images] == ["d"] and page.next_marker is None
    with pytest.raises(BadRequest):
        images.list(demo, {}, sort=[("checksum", "asc")])
    with pytest.raises(BadRequest):
        images.list(demo, {}, marker="not-an-image")


def test_json_patch_add_replace_remove(images, demo):
    img = create(images, demo, "a", {"k": "v"})
    out = image_view(
        images.update(
            demo,
            img.id,
            [
                ("add", "new", "1"),
                ("replace", "k", "v2"),
                ("replace", "name", "b"),
                ("add", "tags", ["t"]),
                ("replace", "min_disk", 2),
            ],
        )
    )
    assert (out["new"], out["k"], out["name"], out["tags"], out["min_disk"]) == (
        "1",
        "v2",
        "b",
        ["t"],
        2,
    )
    out = image_view(images.update(demo, img.id, [("remove", "new", None)]))
    assert "new" not in out
    with pytest.raises(PropertyNotFound):
        images.update(demo, img.id, [("remove", "missing", None)])
    with pytest.raises(ImageForbidden):
        images.update(demo, img.id, [("replace", "status", "active")])
    with pytest.raises(ImageForbidden):
        images.update(demo, img.id, [("remove", "name", None)])
    with pytest.raises(BadRequest):
        images.update(demo, img.id, [("replace", "disk_format", "exe")])


def test_failed_patch_changes_nothing(images, demo):
    img = create(images, demo, "a")
    with pytest.raises(ImageForbidden):
        images.update(demo, img.id, [("replace", "name", "b"), ("replace", "size", 3)])
    assert images.get(demo, img.id).name == "a"


def test_parse_patch_paths():
    ops = fields.parse_patch(
        [{"op": "add", "path": "/a~1b", "value": "1"}, {"op": "remove", "path": "/c"}]
    )
    assert ops == [("add", "a/b", "1"), ("remove", "c", None)]
    for bad in (
        {"op": "move", "path": "/a"},
        {"op": "add", "path": "a", "value": 1},
        {"op": "add", "path": "/a/b", "value": 1},
        {"op": "add", "path": "/a"},
    ):
        with pytest.raises(BadRequest):
            fields.parse_patch([bad])


def test_tags(images, demo):
    img = create(images, demo, "a")
    images.add_tag(demo, img.id, "t1")
    images.add_tag(demo, img.id, "t1")
    assert images.get(demo, img.id).tags == ["t1"]
    images.delete_tag(demo, img.id, "t1")
    with pytest.raises(ImageNotFound):
        images.delete_tag(demo, img.id, "t1")


def test_protected_image_cannot_be_deleted(images, demo):
    img = create(images, demo, "a", protected=True)
    with pytest.raises(ImageProtected):
        images.delete(demo, img.id)
    images.update(demo, img.id, [("replace", "protected", False)])
    images.delete(demo, img.id)
    with pytest.raises(ImageNotFound):
        images.get(demo, img.id)


@pytest.fixture
def any_images(any_db):
    """``Images`` over the test's SQLite database, then over a PostgreSQL one."""
    return Images(SimpleNamespace(db=any_db))


def walk(images, ctx, filters, sort, limit):
    """Every page of a list, following the markers; returns the pages' names."""
    pages, marker = [], None
    while True:
        page = images.list(ctx, filters, sort=sort, limit=limit, marker=marker)
        pages.append([i.name for i in page.images])
        if page.next_marker is None:
            return pages
        assert page.next_marker == page.images[-1].id
        marker = page.next_marker


def test_tag_and_property_filters_page_in_sql(any_images, demo):
    for n in range(7):
        tags = ["even"] if n % 2 == 0 else ["odd"]
        props = {"os_distro": "debian" if n < 4 else "cirros", "a/b~c": f"v{n}"}
        create(any_images, demo, f"i{n}", props, tags=[*tags, "all"])
    create(any_images, demo, "decoy", {"even": "even"}, tags=["evens"])

    by_name = [("name", "asc")]
    assert walk(any_images, demo, {"tags": ["even"]}, by_name, 2) == [["i0", "i2"], ["i4", "i6"]]
    assert walk(any_images, demo, {"tags": ["even", "all"]}, by_name, 3) == [
        ["i0", "i2", "i4"],
        ["i6"],
    ]
    assert walk(any_images, demo, {"properties": {"os_distro": "debian"}}, by_name, 3) == [
        ["i0", "i1", "i2"],
        ["i3"],
    ]
    both = {"tags": ["odd"], "properties": {"os_distro": "cirros"}}
    assert walk(any_images, demo, both, [("name", "desc")], 1) == [["i5"]]
    assert walk(any_images, demo, {"properties": {"a/b~c": "v3"}}, by_name, 5) == [["i3"]]
    # exact values only: no prefix, no other key's value, no tag named like a property
    assert walk(any_images, demo, {"properties": {"os_distro": "deb"}}, by_name, 5) == [[]]
    assert walk(any_images, demo, {"properties": {"a/b~c": "debian"}}, by_name, 5) == [[]]
    assert walk(any_images, demo, {"tags": ["os_distro"]}, by_name, 5) == [[]]
    assert walk(any_images, demo, {"properties": {"even": "even"}}, by_name, 5) == [["decoy"]]
    # NUL (PostgreSQL refuses it in a query) matches nothing instead of failing
    assert walk(any_images, demo, {"tags": ["even\x00"]}, by_name, 5) == [[]]
    assert walk(any_images, demo, {"properties": {"os_distro": "debian\x00"}}, by_name, 5) == [[]]


def test_a_marker_the_filters_leave_out_is_an_invalid_marker(any_images, demo):
    kept = create(any_images, demo, "kept", tags=["x"])
    left_out = create(any_images, demo, "left-out")
    assert [i.id for i in any_images.list(demo, {"tags": ["x"]}).images] == [kept.id]
    with pytest.raises(BadRequest, match=f"Invalid marker. Image {left_out.id} could not be"):
        any_images.list(demo, {"tags": ["x"]}, marker=left_out.id)


def test_pages_never_repeat_or_skip_rows_with_equal_and_null_sort_values(any_images, demo):
    for n in range(6):
        create(any_images, demo, f"i{n}", min_ram=n % 2)
    names = sorted(f"i{n}" for n in range(6))
    for sort in ([("min_ram", "asc")], [("size", "desc")], [("name", "asc"), ("size", "asc")]):
        pages = walk(any_images, demo, {}, sort, 2)
        assert sorted(n for page in pages for n in page) == names, sort
        assert all(len(page) == 2 for page in pages), sort


def test_the_default_page_is_the_newest_25_and_at_most_1000(images, demo):
    for n in range(27):
        create(images, demo, f"i{n:02}")
    page = images.list(demo, {})
    assert len(page.images) == 25 and page.next_marker == page.images[-1].id
    newest_first = [(i.created_at, i.id) for i in page.images]
    assert newest_first == sorted(newest_first, reverse=True)
    assert len(images.list(demo, {}, limit=5000).images) == 27
    assert images.list(demo, {}, limit=0).images == []


def test_a_list_reads_only_its_page(images, demo):
    """One SELECT with the tag and property filters and a LIMIT: no row is filtered or
    counted in Python (a list used to load every visible image)."""
    for n in range(5):
        create(images, demo, f"i{n}", tags=["t"])
    statements = []

    def seen(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", seen)
    try:
        images.list(demo, {"tags": ["t"], "properties": {"k": "v"}}, limit=2)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", seen)
    (select,) = [s for s in statements if "FROM images" in s and "LIMIT" in s]
    assert "json_each" in select
