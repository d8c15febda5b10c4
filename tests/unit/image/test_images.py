"""Image records: filters, sorting, paging, JSON-patch updates, tags, delete."""

from __future__ import annotations

import pytest

from pocketstack.common.errors import BadRequest, Conflict
from pocketstack.image import fields
from pocketstack.image.api.views import image_view
from pocketstack.image.exceptions import (
    ImageForbidden,
    ImageNotFound,
    ImageProtected,
    PropertyNotFound,
)


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
