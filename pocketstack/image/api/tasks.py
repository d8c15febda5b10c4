"""Tasks (Image API v2 "Tasks"): ``GET /v2/tasks``, ``GET /v2/tasks/{task_id}`` and
``GET /v2/images/{image_id}/tasks`` (2.12), handlers of ``cloud.image.tasks``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest
from pocketstack.image.task_models import Task


def task_view(t: Task, detail: bool = True) -> dict[str, Any]:
    """Glance's task: the listing leaves out ``input``, ``result`` and ``message``."""
    view: dict[str, Any] = {
        "id": t.id,
        "type": t.type,
        "status": t.status,
        "owner": t.owner,
        "expires_at": isotime(t.expires_at),
        "created_at": isotime(t.created_at),
        "updated_at": isotime(t.updated_at),
        "self": f"/v2/tasks/{t.id}",
        "schema": "/v2/schemas/task",
    }
    if detail:
        view.update(
            input=t.input,
            result=t.result,
            message=t.message,
            image_id=t.image_id,
            request_id=t.request_id,
            user_id=t.user_id,
        )
    return view


def list_tasks(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/tasks?status=&type=&sort_dir= (admin: Glance's ``tasks_api_access``)"""
    policy.enforce(req.ctx, "image:get_tasks")
    q = req.query
    rows = req.cloud.image.tasks.list(
        req.ctx, q.get("status"), q.get("type"), sort_dir=q.get("sort_dir", "desc")
    )
    return {
        "tasks": [task_view(t, detail=False) for t in rows],
        "first": "/v2/tasks",
        "schema": "/v2/schemas/tasks",
    }


def get_task(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/tasks/{task_id} (admin)"""
    policy.enforce(req.ctx, "image:get_task")
    return task_view(req.cloud.image.tasks.get(req.ctx, req.params["task_id"]))


def list_image_tasks(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/images/{image_id}/tasks: the import tasks of an image its caller sees
    (404 for an image it does not)."""
    policy.enforce(req.ctx, "image:get_image")
    image = req.cloud.image.images.get(req.ctx, req.params["image_id"])
    rows = req.cloud.image.tasks.list(req.ctx, image_id=image.id)
    return {"tasks": [task_view(t) for t in rows]}
