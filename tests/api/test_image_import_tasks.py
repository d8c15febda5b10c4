"""Glance's web-download import (``openstack image import --method web-download --uri``)
from a local HTTP server on 127.0.0.1, refused for other hosts with 400 as Glance's URI
filtering; the tasks each import records (``openstack image task list/show``, admin only);
``/v2/info/stores`` (``openstack image stores list``) and ``/v2/info/usage`` (issue 12)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import openstack.exceptions
import pytest

ADMIN = "pocketstack-admin"
DATA = b"web-download image data " * 2048


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving ``image.raw`` (``DATA``); its base URL."""
    root = tmp_path_factory.mktemp("web")
    (root / "image.raw").write_bytes(DATA)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _queued(cloud) -> dict[str, Any]:
    """A new ``queued`` image of the demo project (the CLI's ``image create`` would upload
    its stdin)."""
    body = {"name": f"wd-{uuid.uuid4().hex[:8]}", "disk_format": "raw", "container_format": "bare"}
    resp = cloud.sdk().image.post("/images", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _delete(cloud, image_id: str) -> None:
    cloud.openstack("image", "delete", image_id, json_output=False)


def test_web_download_import_through_the_cli(running_cloud, web, tmp_path: Path):
    image = _queued(running_cloud)
    try:
        running_cloud.openstack(
            "image",
            "import",
            "--method",
            "web-download",
            "--uri",
            f"{web}/image.raw",
            image["id"],
        )
        shown = running_cloud.openstack("image", "show", image["id"])
        assert shown["status"] == "active"
        assert shown["size"] == len(DATA)
        assert shown["checksum"] == hashlib.md5(DATA).hexdigest()
        out = tmp_path / "back.raw"
        running_cloud.openstack("image", "save", "--file", str(out), image["id"], json_output=False)
        assert out.read_bytes() == DATA
        tasks = running_cloud.openstack("image", "task", "list", cloud=ADMIN)
        mine = [t for t in tasks if t["ID"] in _task_ids(running_cloud, image["id"])]
        assert [t["Status"] for t in mine] == ["success"]
        task = running_cloud.openstack("image", "task", "show", mine[0]["ID"], cloud=ADMIN)
        assert task["type"] == "api_image_import"
        assert task["input"]["import_req"]["method"]["name"] == "web-download"
    finally:
        _delete(running_cloud, image["id"])


def _task_ids(cloud, image_id: str) -> set[str]:
    conn = cloud.sdk()
    resp = conn.image.get(f"/images/{image_id}/tasks")
    assert resp.status_code == 200, resp.text
    return {t["id"] for t in resp.json()["tasks"]}


def test_web_download_from_another_host_is_400(running_cloud):
    image = _queued(running_cloud)
    try:
        conn = running_cloud.sdk()
        for uri in ("http://192.0.2.1/x.raw", "ftp://127.0.0.1/x.raw", "file:///etc/passwd"):
            body = {"method": {"name": "web-download", "uri": uri}}
            resp = conn.image.post(f"/images/{image['id']}/import", json=body)
            assert resp.status_code == 400, uri
            assert "does not pass filtering" in resp.json()["message"]
        no_uri = conn.image.post(
            f"/images/{image['id']}/import", json={"method": {"name": "web-download"}}
        )
        assert no_uri.status_code == 400
        # openstacksdk's import_image does not check the answer: the CLI exits 0, and the
        # image it shows is still queued
        shown = running_cloud.openstack(
            "image",
            "import",
            "--method",
            "web-download",
            "--uri",
            "http://192.0.2.1/x",
            image["id"],
        )
        assert shown["status"] == "queued"
        assert running_cloud.openstack("image", "show", image["id"])["status"] == "queued"
        assert _task_ids(running_cloud, image["id"]) == set()
    finally:
        _delete(running_cloud, image["id"])


def test_web_download_that_fails_leaves_the_image_queued_and_a_failed_task(running_cloud, web):
    image = _queued(running_cloud)
    try:
        conn = running_cloud.sdk()
        body = {"method": {"name": "web-download", "uri": f"{web}/missing.raw"}}
        resp = conn.image.post(f"/images/{image['id']}/import", json=body)
        assert resp.status_code == 202
        assert conn.image.get_image(image["id"]).status == "queued"
        (task_id,) = _task_ids(running_cloud, image["id"])
        task = running_cloud.sdk(ADMIN).image.get_task(task_id)
        assert task.status == "failure"
        assert "404" in task.message
        again = conn.image.post(
            f"/images/{image['id']}/import",
            json={"method": {"name": "web-download", "uri": f"{web}/image.raw"}},
        )
        assert again.status_code == 202
        assert conn.image.get_image(image["id"]).status == "active"
        conflict = conn.image.post(
            f"/images/{image['id']}/import",
            json={"method": {"name": "web-download", "uri": f"{web}/image.raw"}},
        )
        assert conflict.status_code == 409  # no longer queued
    finally:
        _delete(running_cloud, image["id"])


def test_tasks_are_the_admins(running_cloud):
    demo = running_cloud.sdk()
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(demo.image.tasks())
    admin = running_cloud.sdk(ADMIN)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.image.get_task(str(uuid.uuid4()))
    assert admin.image.get("/tasks?status=bogus").status_code == 400
    proc = running_cloud.openstack("image", "task", "list", check=False, json_output=False)
    assert proc.returncode != 0


def test_task_schemas_describe_the_tasks(running_cloud, web):
    """``GET /v2/schemas/task(s)`` as Glance publishes them, and the tasks answers of a
    finished and a failed import valid against them."""
    admin = running_cloud.sdk(ADMIN)
    task = admin.image.get("/schemas/task")
    assert task.status_code == 200, task.text
    task_schema = task.json()
    assert task_schema["name"] == "task"
    assert task_schema["properties"]["status"]["enum"] == [
        "pending",
        "processing",
        "success",
        "failure",
    ]
    assert {
        "id",
        "type",
        "status",
        "input",
        "result",
        "owner",
        "message",
        "expires_at",
        "created_at",
        "updated_at",
        "self",
        "schema",
    } <= set(task_schema["properties"])
    tasks = admin.image.get("/schemas/tasks")
    assert tasks.status_code == 200, tasks.text
    tasks_schema = tasks.json()
    assert tasks_schema["name"] == "tasks"
    assert set(tasks_schema["properties"]) == {"tasks", "first", "next", "schema"}
    assert tasks_schema["properties"]["tasks"]["items"] == task_schema
    image = _queued(running_cloud)
    try:
        conn = running_cloud.sdk()
        for uri in (f"{web}/missing.raw", f"{web}/image.raw"):
            body = {"method": {"name": "web-download", "uri": uri}}
            assert conn.image.post(f"/images/{image['id']}/import", json=body).status_code == 202
        ids = _task_ids(running_cloud, image["id"])
        assert len(ids) == 2
        for task_id in ids:
            shown = admin.image.get(f"/tasks/{task_id}").json()
            jsonschema.Draft4Validator(task_schema).validate(shown)
            assert shown["schema"] == "/v2/schemas/task"
        listed = admin.image.get("/tasks").json()
        jsonschema.Draft4Validator(tasks_schema).validate(listed)
        assert ids <= {t["id"] for t in listed["tasks"]}
        assert listed["schema"] == "/v2/schemas/tasks"
        # a task the schema refuses: an unknown status
        bad = dict(shown, status="queued")
        assert not jsonschema.Draft4Validator(task_schema).is_valid(bad)
    finally:
        _delete(running_cloud, image["id"])


def test_stores_and_usage(running_cloud, web):
    stores = running_cloud.openstack("image", "stores", "list")
    assert [(s["ID"], s.get("Default")) for s in stores] == [("file", True)]
    demo = running_cloud.sdk()
    assert [s.id for s in demo.image.stores()] == ["file"]
    assert demo.image.get("/info/stores/detail").status_code == 403
    detail = running_cloud.sdk(ADMIN).image.get("/info/stores/detail").json()["stores"]
    assert detail[0]["type"] == "file"
    info = running_cloud.openstack("image", "import", "info")
    assert "web-download" in str(info)
    before = demo.image.get("/info/usage").json()["usage"]
    image = _queued(running_cloud)
    try:
        demo.image.post(
            f"/images/{image['id']}/import",
            json={"method": {"name": "web-download", "uri": f"{web}/image.raw"}},
        )
        after = demo.image.get("/info/usage").json()["usage"]
        assert after["image_count_total"]["usage"] == before["image_count_total"]["usage"] + 1
        assert after["image_size_total"]["usage"] == (
            before["image_size_total"]["usage"] + len(DATA)
        )
        assert set(after) == {
            "image_size_total",
            "image_stage_total",
            "image_count_total",
            "image_count_uploading",
        }
    finally:
        _delete(running_cloud, image["id"])
