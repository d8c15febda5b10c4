"""The Networking API (Neutron v2.0), mounted at ``/networking``.

Routes are relative to the prefix: ``/`` (versions), ``/v2.0/`` (collections),
``/v2.0/extensions``, ``/v2.0/{networks,subnets,ports,security-groups,
security-group-rules}[/{id}]``, ``/v2.0/quotas/{project_id}``. Errors are rendered as
``{"NeutronError": {"type", "message", "detail"}}`` (``errors``).
"""

from __future__ import annotations

from pocketstack.common.http import ServiceAPI, route
from pocketstack.network import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.network.api import resources, root
from pocketstack.network.api.errors import RENDERERS

ROUTES = [
    route("GET", "/", root.versions, auth=False),
    route("GET", "/v2.0", root.resources, auth=False),
    route("GET", "/v2.0/", root.resources, auth=False),
    route("GET", "/v2.0/extensions", root.list_extensions),
    route("GET", "/v2.0/extensions.json", root.list_extensions),
    route("GET", "/v2.0/extensions/{alias}", root.show_extension),
    route("GET", "/v2.0/quotas/{project_id}", root.show_quota),
    route("GET", "/v2.0/quotas/{project_id}/details.json", root.show_quota_details),
]
for _collection in resources.COLLECTIONS:
    ROUTES += _collection.routes()

API = ServiceAPI("network", "/networking", RENDERERS, ROUTES)
