"""The Block Storage API (Cinder v3) under ``/volume`` (Block Storage API v3 reference).

``GET /volume/`` and ``/volume/v3[/]`` are the version documents; every other path is
served twice, as ``/v3/<path>`` and ``/v3/{project_id}/<path>`` (``microversions.
volume_route``). Errors are Cinder's fault bodies (``errors``), every answer names its
microversion (``microversions``). ``ROUTES`` is a flat list: another family appends its own
(``ROUTES += backups.BACKUP_ROUTES``) before ``API`` is built.
"""

from __future__ import annotations

from pocketstack.common.http import RouteSpec, ServiceAPI, route
from pocketstack.volume import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.volume.api import microversions, versions
from pocketstack.volume.api.errors import RENDERERS

ROUTES: list[RouteSpec] = [
    route("GET", "/", versions.list_versions, auth=False),
    route("GET", "/v3", versions.get_version, auth=False),
    route("GET", "/v3/", versions.get_version, auth=False),
]

API = ServiceAPI(
    "volume", "/volume", RENDERERS, ROUTES, response_headers=microversions.response_headers
)
