"""Callers of the image tests: two projects, a reader and an admin."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext

ROLES = {
    "admin": ("admin", "member", "reader"),
    "member": ("member", "reader"),
    "reader": ("reader",),
}


def make_ctx(project: str, role: str = "member") -> RequestContext:
    return RequestContext(user_id=f"user-{project}-{role}", project_id=project, roles=ROLES[role])


@pytest.fixture
def demo():
    return make_ctx("p-demo")


@pytest.fixture
def alt():
    return make_ctx("p-alt")


@pytest.fixture
def admin():
    return make_ctx("p-admin", "admin")


@pytest.fixture
def images(cloud):
    """The image record manager (``cloud.image.images``)."""
    return cloud.image.images
