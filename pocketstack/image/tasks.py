"""Tasks (Image API v2 "Tasks"), ``cloud.image.tasks``: the record of each interoperable
import (type ``api_image_import``), as Glance keeps one per ``POST /v2/images/{id}/import``.
Statuses go ``processing`` -> ``success`` or ``failure`` (with a message). Tasks live
``TASK_TTL`` after they end (``expires_at``), as Glance's ``task_time_to_live`` (48 h).

Listing and showing tasks is the admin's (Glance's ``tasks_api_access``: ``role:admin``);
``POST /v2/tasks`` (the deprecated ``import`` task) is not served.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.image.task_models import Task

if TYPE_CHECKING:
    from pocketstack.service import Cloud

TASK_TTL = dt.timedelta(hours=48)
STATUSES = ("pending", "processing", "success", "failure")


class TaskNotFound(errors.NotFound):
    """404: no task with this id."""


class Tasks:
    """Import tasks (``cloud.image.tasks``)."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    def start(self, ctx: RequestContext, image_id: str, input: dict[str, Any]) -> str:
        """Record a ``processing`` import task of ``image_id``; returns its id."""
        with self.db.transaction() as s:
            task = Task(
                type="api_image_import",
                status="processing",
                owner=ctx.project_id,
                image_id=image_id,
                user_id=ctx.user_id,
                request_id=ctx.request_id,
                input=input,
                message="",
            )
            s.add(task)
        return task.id

    def finish(self, task_id: str, error: BaseException | None = None) -> None:
        """End a task: ``success``, or ``failure`` with ``error``'s message."""
        with self.db.transaction() as s:
            task = s.get(Task, task_id)
            if task is None:
                return
            task.status = "failure" if error else "success"
            task.message = str(error) if error else ""
            task.result = None if error else {"image_id": task.image_id}
            task.expires_at = utcnow() + TASK_TTL

    def list(
        self,
        ctx: RequestContext,
        status: str | None = None,
        type: str | None = None,
        image_id: str | None = None,
        sort_dir: str = "desc",
    ) -> list[Task]:
        """Tasks, newest first (``sort_dir=asc`` reverses), filtered by ``status``, ``type``,
        ``image_id``; BadRequest for an unknown status or sort direction."""
        if status is not None and status not in STATUSES:
            raise errors.BadRequest(f"Invalid status value: {status}")
        if sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {sort_dir}")
        order = Task.created_at.asc() if sort_dir == "asc" else Task.created_at.desc()
        q = sa.select(Task).order_by(order, Task.id)
        for column, value in ((Task.status, status), (Task.type, type), (Task.image_id, image_id)):
            if value is not None:
                q = q.where(column == value)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, task_id: str) -> Task:
        """One task; raises ``TaskNotFound``."""
        with self.db.reader() as s:
            task = s.get(Task, task_id)
        if task is None:
            raise TaskNotFound(f"Task with the given ID {task_id} could not be found")
        return task
