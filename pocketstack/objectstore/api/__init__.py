"""The Swift v1 API (the proxy) at ``/object-store``: ``/info`` and
``/v1/AUTH_<project_id>[/<container>[/<object>]]``.

``HANDLERS`` maps (level, method) to the handler; ``app.SwiftAPI`` runs the pipeline (path,
caller, tempurl, ACLs) before it. Catalog type ``object-store``, name ``swift``.
"""

from __future__ import annotations

from pocketstack.objectstore.api import accounts, containers, info, objects
from pocketstack.objectstore.api.app import SwiftAPI, SwiftHandler
from pocketstack.objectstore.api.errors import RENDERERS

HANDLERS: dict[tuple[str, str], SwiftHandler] = {
    ("account", "GET"): accounts.list_containers,
    ("account", "HEAD"): accounts.get_account,
    ("account", "POST"): accounts.update_account,
    ("container", "PUT"): containers.create_container,
    ("container", "GET"): containers.list_objects,
    ("container", "HEAD"): containers.get_container,
    ("container", "POST"): containers.update_container,
    ("container", "DELETE"): containers.delete_container,
    ("object", "PUT"): objects.create_object,
    ("object", "GET"): objects.get_object,
    ("object", "HEAD"): objects.get_object,
    ("object", "POST"): objects.update_object,
    ("object", "DELETE"): objects.delete_object,
    ("object", "COPY"): objects.copy_object,
}

API = SwiftAPI(RENDERERS, HANDLERS, info.get_info)
