"""First-start setup of a cloud, run on every start (idempotent).

Creates, through each service's manager: the admin/demo identities and the service catalog,
the default flavors, the ``public`` and ``private`` networks, and the ``cirros`` image (the
project's own guest image, built from Debian packages once and cached). Writes
``<state_dir>/clouds.yaml`` with the clouds ``pocketstack-admin``, ``pocketstack-demo`` and
``pocketstack-system`` (the admin, system-scoped).

Passwords are generated on the first start and kept in ``<state_dir>/bootstrap.json``
(mode 0600); the database stores only their bcrypt hashes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pocketstack.common.auth import RequestContext
from pocketstack.common.config import Config

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

ADMIN_CLOUD = "pocketstack-admin"
DEMO_CLOUD = "pocketstack-demo"
#: The admin with a system-scoped token (Keystone's system admin: the Identity API only).
SYSTEM_CLOUD = "pocketstack-system"


def guest_cache_dir() -> Path:
    """Where the built guest image is cached across state directories
    (``$XDG_CACHE_HOME/pocketstack/guest``, default ``~/.cache/pocketstack/guest``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base, "pocketstack", "guest")


def load_passwords(conf: Config) -> dict[str, str]:
    """The bootstrap passwords, generated and saved (0600) on the first call.

    ``service_password`` (the compute service user's, see ``service_password``) is added to
    a file an older version wrote.
    """
    path = conf.path("bootstrap.json")
    data = json.loads(path.read_text()) if path.exists() else {}
    if {"admin_password", "demo_password", "service_password"} <= set(data):
        return data
    for key in ("admin_password", "demo_password", "service_password"):
        data.setdefault(key, secrets.token_urlsafe(16))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    return data


def service_password(conf: Config) -> str:
    """The compute service user's password: ``[service_user] password`` when set, else the
    one generated into ``<state_dir>/bootstrap.json`` (which a compute host on another
    machine does not have: configure it there, see ``pocketstack config show``)."""
    return conf.service_user_password or load_passwords(conf)["service_password"]


def bootstrap(cloud: Cloud, with_image: bool = True) -> dict[str, Any]:
    """Create the default identities, catalog, flavors, networks, image and metadata
    definitions (``OS::OperatingSystem``); idempotent.

    Returns:
        ``{"admin_project_id", "demo_project_id", ..., "public_network_id",
        "private_network_id", "image_id"}``.
    """
    conf = cloud.conf
    passwords = load_passwords(conf)
    ids = dict(
        cloud.identity.bootstrap(
            passwords["admin_password"], passwords["demo_password"], service_password(conf)
        )
    )
    cloud.compute.bootstrap()
    cloud.volume.bootstrap()
    cloud.image.metadefs.bootstrap(ids["admin_project_id"])
    ids.update(cloud.network.bootstrap(ids["admin_project_id"], ids["demo_project_id"]))
    if with_image:
        from pocketstack.guest.build import ensure_image

        path = ensure_image(guest_cache_dir())
        ctx = RequestContext(
            user_id=ids["admin_user_id"],
            project_id=ids["admin_project_id"],
            roles=("admin", "member", "reader"),
        )
        image = cloud.image.create_image_from_file(
            ctx,
            "cirros",
            path,
            disk_format="qcow2",
            container_format="bare",
            visibility="public",
            properties={
                "os_distro": "pocketstack-guest",
                "hw_architecture": "x86_64",
                # the image runs qemu-ga (pocketstack.guest): changePassword, quiesce
                "hw_qemu_guest_agent": "yes",
            },
        )
        ids["image_id"] = image.id
    write_clouds_yaml(conf, passwords)
    return ids


def clouds_config(conf: Config, passwords: dict[str, str]) -> dict[str, Any]:
    """The ``clouds:`` mapping for clouds.yaml (what ``openstack --os-cloud`` reads)."""

    def cloud(user: str, project: str | None, password: str) -> dict[str, Any]:
        scope = (
            {"project_name": project, "project_domain_name": "Default"}
            if project
            else {"system_scope": "all"}
        )
        return {
            "auth": {
                "auth_url": f"{conf.public_url}/identity",
                "username": user,
                "password": password,
                "user_domain_name": "Default",
                **scope,
            },
            "region_name": conf.region,
            "identity_api_version": 3,
            "interface": "public",
        }

    return {
        ADMIN_CLOUD: cloud("admin", "admin", passwords["admin_password"]),
        DEMO_CLOUD: cloud("demo", "demo", passwords["demo_password"]),
        SYSTEM_CLOUD: cloud("admin", None, passwords["admin_password"]),
    }


def write_clouds_yaml(conf: Config, passwords: dict[str, str]) -> Path:
    """Write ``<state_dir>/clouds.yaml`` (0600) and, when ``conf.write_user_clouds``, merge
    the clouds into ``~/.config/openstack/clouds.yaml`` leaving other clouds alone."""
    clouds = clouds_config(conf, passwords)
    path = conf.path("clouds.yaml")
    _write_yaml(path, {"clouds": clouds})
    if conf.write_user_clouds:
        user_path = Path(os.path.expanduser("~/.config/openstack/clouds.yaml"))
        existing: dict[str, Any] = {}
        if user_path.exists():
            existing = yaml.safe_load(user_path.read_text()) or {}
        existing.setdefault("clouds", {}).update(clouds)
        _write_yaml(user_path, existing)
    return path


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f, default_flow_style=False, sort_keys=False)
    os.replace(tmp, path)
