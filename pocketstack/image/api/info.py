"""Discovery (Image API v2 "Stores", "Quota usage"): ``GET /v2/info/stores``,
``/v2/info/stores/detail`` (admin) and ``/v2/info/usage``. pocketstack has one store per
cloud (``[image] image_store``), listed as the default one."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest

_DESCRIPTIONS = {
    "file": "Local file store of this cloud's image data",
    "swift": "Object storage (Swift) store of this cloud's image data",
}


def _store(req: ApiRequest) -> dict[str, Any]:
    name = req.cloud.conf.image_store
    return {"id": name, "description": _DESCRIPTIONS.get(name, name), "default": True}


def list_stores(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/info/stores: ``{"stores": [{"id", "description", "default"}]}``."""
    return {"stores": [_store(req)]}


def list_stores_detail(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/info/stores/detail (admin: Glance's ``stores_info_detail``): each store with
    its ``type`` and ``properties``."""
    policy.enforce(req.ctx, "image:stores_info_detail")
    store = _store(req)
    kind = "file" if store["id"] == "file" else store["id"]
    return {"stores": [{**store, "type": kind, "properties": {}}]}


def get_usage(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/info/usage: the caller's project's ``image_size_total`` (bytes),
    ``image_count_total``, ``image_stage_total`` and ``image_count_uploading``, each
    ``{"limit", "usage"}`` (limit -1: unlimited)."""
    return {"usage": req.cloud.image.usage.get(req.ctx)}
