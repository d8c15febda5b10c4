"""Handlers of ``/v2/metadefs/...`` and ``/v2/schemas/metadefs/...`` (Image API v2
"Metadata definitions"): parse, authorize, call one ``cloud.image.metadefs`` (``Metadefs``)
method, render Glance's views.

Creates answer 201, deletes 204; the namespace list pages with ``limit`` (25 by default),
``marker``, ``sort_key``/``sort_dir`` and a ``next`` link, and filters on ``visibility`` and
``resource_types`` (comma-separated). ``?resource_type=`` on a namespace shows its property
names with that association's prefix; on a property, strips it from the name asked for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pocketstack.common import errors, policy
from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.image.api.metadef_schemas import READ_ONLY, published
from pocketstack.image.metadef_models import (
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefResourceTypeAssociation,
    MetadefTag,
)
from pocketstack.image.metadefs import (
    DEFAULT_LIMIT,
    NAMESPACE_SORT_KEYS,
    TAG_SORT_KEYS,
    MetadefNotFound,
    Metadefs,
    Page,
)

_BASE = "/v2/metadefs/namespaces"
#: ``X-Openstack-Append`` values read as true (oslo's ``bool_from_string``, as Glance reads it).
_TRUE = ("1", "t", "true", "on", "y", "yes")


def _md(req: ApiRequest) -> Metadefs:
    return req.cloud.image.metadefs


def _ns(req: ApiRequest) -> str:
    return req.params["namespace"]


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` if it sets no read-only attribute; else 403 as Glance."""
    for key in READ_ONLY:
        if key in body:
            raise errors.Forbidden(f"Attribute '{key}' is read-only.")
    return body


def _stamps(row: Any) -> dict[str, Any]:
    return {"created_at": isotime(row.created_at), "updated_at": isotime(row.updated_at)}


# -- views


def namespace_view(ns: MetadefNamespace, associations: list[Any] | None = None) -> dict[str, Any]:
    """Glance's namespace: unset ``display_name``/``description`` left out, the resource type
    associations only when there are some."""
    view: dict[str, Any] = {"namespace": ns.namespace}
    if ns.display_name is not None:
        view["display_name"] = ns.display_name
    if ns.description is not None:
        view["description"] = ns.description
    view.update(
        visibility=ns.visibility,
        protected=ns.protected,
        owner=ns.owner,
        **_stamps(ns),
        self=f"{_BASE}/{ns.namespace}",
        schema="/v2/schemas/metadefs/namespace",
    )
    if associations:
        view["resource_type_associations"] = [association_view(n, a) for n, a in associations]
    return view


def association_view(name: str, assoc: MetadefResourceTypeAssociation) -> dict[str, Any]:
    """``{"name", "prefix"?, "properties_target"?, "created_at", "updated_at"}``."""
    view: dict[str, Any] = {"name": name}
    if assoc.prefix is not None:
        view["prefix"] = assoc.prefix
    if assoc.properties_target is not None:
        view["properties_target"] = assoc.properties_target
    return {**view, **_stamps(assoc)}


def object_view(namespace: str, obj: MetadefObject, prefix: str = "") -> dict[str, Any]:
    """Glance's object; ``prefix`` goes before its property names (and required ones)."""
    view: dict[str, Any] = {"name": obj.name}
    if obj.description is not None:
        view["description"] = obj.description
    if obj.required:
        view["required"] = [prefix + r for r in obj.required]
    if obj.properties:
        view["properties"] = {prefix + k: v for k, v in obj.properties.items()}
    return {
        **view,
        **_stamps(obj),
        "schema": "/v2/schemas/metadefs/object",
        "self": f"{_BASE}/{namespace}/objects/{obj.name}",
    }


def property_view(prop: MetadefProperty, name: str | None = None) -> dict[str, Any]:
    """The property's definition with its ``name``."""
    return {"name": name or prop.name, **prop.json_schema}


def tag_view(tag: MetadefTag) -> dict[str, Any]:
    """``{"name", "created_at", "updated_at"}``."""
    return {"name": tag.name, **_stamps(tag)}


def resource_type_view(rtype: MetadefResourceType) -> dict[str, Any]:
    """``{"name", "created_at", "updated_at"}``."""
    return {"name": rtype.name, **_stamps(rtype)}


def _detail(found: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    ns = found["namespace"]
    view = namespace_view(ns, found["associations"])
    if found["properties"]:
        view["properties"] = {prefix + p.name: p.json_schema for p in found["properties"]}
    if found["objects"]:
        view["objects"] = [object_view(ns.namespace, o, prefix) for o in found["objects"]]
    if found["tags"]:
        view["tags"] = [{"name": t.name} for t in found["tags"]]
    return view


# -- namespaces


def list_namespaces(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/metadefs/namespaces: ``{"namespaces", "first", "schema", "next"?}``."""
    policy.enforce(req.ctx, "image:get_metadef_namespaces")
    q = req.query
    page = Page.parse(q, NAMESPACE_SORT_KEYS, DEFAULT_LIMIT)
    types = [t for t in q.get("resource_types", "").split(",") if t] or None
    rows = _md(req).list_namespaces(req.ctx, page, q.get("visibility"), types)
    body: dict[str, Any] = {
        "namespaces": [namespace_view(ns, assocs) for ns, assocs in rows],
        "first": _BASE,
        "schema": "/v2/schemas/metadefs/namespaces",
    }
    if rows and len(rows) == page.limit:
        params = {k: v for k, v in q.items() if k != "marker"}
        body["next"] = f"{_BASE}?{urlencode({**params, 'marker': rows[-1][0].namespace})}"
    return body


def create_namespace(req: ApiRequest) -> ApiResponse:
    """POST /v2/metadefs/namespaces (``NAMESPACE``): 201 with the namespace and what it was
    created with."""
    policy.enforce(req.ctx, "image:add_metadef_namespace")
    found = _md(req).create_namespace(req.ctx, _writable(req.body))
    return ApiResponse(201, _detail(found))


def get_namespace(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/metadefs/namespaces/{namespace}[?resource_type=]: with its properties,
    objects, tags and resource type associations."""
    policy.enforce(req.ctx, "image:get_metadef_namespace")
    found = _md(req).get_namespace(req.ctx, _ns(req))
    rtype = req.query.get("resource_type")
    prefix = ""
    for name, assoc in found["associations"]:
        if rtype and name == rtype:
            prefix = assoc.prefix or ""
    return _detail(found, prefix)


def update_namespace(req: ApiRequest) -> dict[str, Any]:
    """PUT /v2/metadefs/namespaces/{namespace} (``NAMESPACE``): the namespace."""
    policy.enforce(req.ctx, "image:modify_metadef_namespace")
    ns = _md(req).update_namespace(req.ctx, _ns(req), _writable(req.body))
    return namespace_view(ns)


def delete_namespace(req: ApiRequest) -> ApiResponse:
    """DELETE /v2/metadefs/namespaces/{namespace}: 204; 403 when protected."""
    policy.enforce(req.ctx, "image:delete_metadef_namespace")
    _md(req).delete_namespace(req.ctx, _ns(req))
    return ApiResponse(204)


def delete_objects(req: ApiRequest) -> ApiResponse:
    """DELETE .../{namespace}/objects: every object, 204."""
    policy.enforce(req.ctx, "image:delete_metadef_namespace")
    _md(req).delete_contents(req.ctx, _ns(req), MetadefObject)
    return ApiResponse(204)


def delete_properties(req: ApiRequest) -> ApiResponse:
    """DELETE .../{namespace}/properties: every property, 204."""
    policy.enforce(req.ctx, "image:delete_metadef_namespace")
    _md(req).delete_contents(req.ctx, _ns(req), MetadefProperty)
    return ApiResponse(204)


# -- resource types


def list_resource_types(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/metadefs/resource_types: ``{"resource_types": [...]}``."""
    policy.enforce(req.ctx, "image:list_metadef_resource_types")
    rows = _md(req).list_resource_types(req.ctx)
    return {"resource_types": [resource_type_view(r) for r in rows]}


def list_associations(req: ApiRequest) -> dict[str, Any]:
    """GET .../{namespace}/resource_types: ``{"resource_type_associations": [...]}``."""
    policy.enforce(req.ctx, "image:get_metadef_resource_type")
    rows = _md(req).list_associations(req.ctx, _ns(req))
    return {"resource_type_associations": [association_view(n, a) for n, a in rows]}


def create_association(req: ApiRequest) -> ApiResponse:
    """POST .../{namespace}/resource_types (``RESOURCE_TYPE_ASSOCIATION``): 201."""
    policy.enforce(req.ctx, "image:add_metadef_resource_type_association")
    name, assoc = _md(req).associate(req.ctx, _ns(req), _writable(req.body))
    return ApiResponse(201, association_view(name, assoc))


def delete_association(req: ApiRequest) -> ApiResponse:
    """DELETE .../{namespace}/resource_types/{resource_type}: 204."""
    policy.enforce(req.ctx, "image:remove_metadef_resource_type_association")
    _md(req).dissociate(req.ctx, _ns(req), req.params["resource_type"])
    return ApiResponse(204)


# -- properties


def list_properties(req: ApiRequest) -> dict[str, Any]:
    """GET .../{namespace}/properties: ``{"properties": {name: definition}}``."""
    policy.enforce(req.ctx, "image:get_metadef_properties")
    rows = _md(req).list_children(req.ctx, _ns(req), MetadefProperty)
    return {"properties": {p.name: p.json_schema for p in rows}}


def create_property(req: ApiRequest) -> ApiResponse:
    """POST .../{namespace}/properties (``PROPERTY``): 201 with the property."""
    policy.enforce(req.ctx, "image:add_metadef_property")
    prop = _md(req).create_property(req.ctx, _ns(req), _writable(req.body))
    return ApiResponse(201, property_view(prop))


def get_property(req: ApiRequest) -> dict[str, Any]:
    """GET .../properties/{property_name}[?resource_type=]: with ``resource_type``, the name
    asked for carries that association's prefix (404 when it does not), as Glance."""
    policy.enforce(req.ctx, "image:get_metadef_property")
    name = req.params["property_name"]
    rtype = req.query.get("resource_type")
    if rtype:
        prefix = _md(req).prefix(req.ctx, _ns(req), rtype)
        if not (prefix and name.startswith(prefix)):
            raise MetadefNotFound(
                f"Property {name} does not start with the expected resource type "
                f"association prefix of '{prefix}'."
            )
        name = name[len(prefix) :]
    prop = _md(req).get_child(req.ctx, _ns(req), MetadefProperty, name)
    return property_view(prop, req.params["property_name"])


def update_property(req: ApiRequest) -> dict[str, Any]:
    """PUT .../properties/{property_name} (``PROPERTY``): the property."""
    policy.enforce(req.ctx, "image:modify_metadef_property")
    body = _writable(req.body)
    name = req.params["property_name"]
    prop = _md(req).update_child(req.ctx, _ns(req), MetadefProperty, name, body)
    return property_view(prop)


def delete_property(req: ApiRequest) -> ApiResponse:
    """DELETE .../properties/{property_name}: 204."""
    policy.enforce(req.ctx, "image:remove_metadef_property")
    _md(req).delete_child(req.ctx, _ns(req), MetadefProperty, req.params["property_name"])
    return ApiResponse(204)


# -- objects


def list_objects(req: ApiRequest) -> dict[str, Any]:
    """GET .../{namespace}/objects: ``{"objects", "first", "schema"}``."""
    policy.enforce(req.ctx, "image:get_metadef_objects")
    ns = _ns(req)
    rows = _md(req).list_children(req.ctx, ns, MetadefObject)
    return {
        "objects": [object_view(ns, o) for o in rows],
        "first": f"{_BASE}/{ns}/objects",
        "schema": "/v2/schemas/metadefs/objects",
    }


def create_object(req: ApiRequest) -> ApiResponse:
    """POST .../{namespace}/objects (``OBJECT``): 201 with the object."""
    policy.enforce(req.ctx, "image:add_metadef_object")
    obj = _md(req).create_object(req.ctx, _ns(req), _writable(req.body))
    return ApiResponse(201, object_view(_ns(req), obj))


def get_object(req: ApiRequest) -> dict[str, Any]:
    """GET .../objects/{object_name}."""
    policy.enforce(req.ctx, "image:get_metadef_object")
    obj = _md(req).get_child(req.ctx, _ns(req), MetadefObject, req.params["object_name"])
    return object_view(_ns(req), obj)


def update_object(req: ApiRequest) -> dict[str, Any]:
    """PUT .../objects/{object_name} (``OBJECT``; ``name`` defaults to the path's)."""
    policy.enforce(req.ctx, "image:modify_metadef_object")
    name = req.params["object_name"]
    body = {"name": name, **_writable(req.body)}
    obj = _md(req).update_child(req.ctx, _ns(req), MetadefObject, name, body)
    return object_view(_ns(req), obj)


def delete_object(req: ApiRequest) -> ApiResponse:
    """DELETE .../objects/{object_name}: 204."""
    policy.enforce(req.ctx, "image:delete_metadef_object")
    _md(req).delete_child(req.ctx, _ns(req), MetadefObject, req.params["object_name"])
    return ApiResponse(204)


# -- tags


def list_tags(req: ApiRequest) -> dict[str, Any]:
    """GET .../{namespace}/tags[?limit&marker&sort_key&sort_dir]: ``{"tags": [...]}``."""
    policy.enforce(req.ctx, "image:get_metadef_tags")
    page = Page.parse(req.query, TAG_SORT_KEYS)
    return {"tags": [tag_view(t) for t in _md(req).list_tags(req.ctx, _ns(req), page)]}


def create_tags(req: ApiRequest) -> ApiResponse:
    """POST .../{namespace}/tags ``{"tags": [{"name"}...]}``: replaces the namespace's tags,
    or adds to them with ``X-Openstack-Append: true``; 201 ``{"tags": [{"name"}...]}``."""
    policy.enforce(req.ctx, "image:add_metadef_tags")
    append = req.headers.get("x-openstack-append", "").strip().lower() in _TRUE
    names = [_writable(t)["name"] for t in req.body["tags"]]
    tags = _md(req).create_tags(req.ctx, _ns(req), names, append)
    return ApiResponse(201, {"tags": [{"name": t.name} for t in tags]})


def create_tag(req: ApiRequest) -> ApiResponse:
    """POST .../tags/{tag_name}: 201 with the tag."""
    policy.enforce(req.ctx, "image:add_metadef_tag")
    tag = _md(req).create_tag(req.ctx, _ns(req), req.params["tag_name"])
    return ApiResponse(201, tag_view(tag))


def get_tag(req: ApiRequest) -> dict[str, Any]:
    """GET .../tags/{tag_name}."""
    policy.enforce(req.ctx, "image:get_metadef_tag")
    return tag_view(_md(req).get_child(req.ctx, _ns(req), MetadefTag, req.params["tag_name"]))


def update_tag(req: ApiRequest) -> dict[str, Any]:
    """PUT .../tags/{tag_name} ``{"name": new}``: the renamed tag."""
    policy.enforce(req.ctx, "image:modify_metadef_tag")
    name = req.params["tag_name"]
    tag = _md(req).update_child(req.ctx, _ns(req), MetadefTag, name, _writable(req.body))
    return tag_view(tag)


def delete_tag(req: ApiRequest) -> ApiResponse:
    """DELETE .../tags/{tag_name}: 204."""
    policy.enforce(req.ctx, "image:delete_metadef_tag")
    _md(req).delete_child(req.ctx, _ns(req), MetadefTag, req.params["tag_name"])
    return ApiResponse(204)


def delete_tags(req: ApiRequest) -> ApiResponse:
    """DELETE .../{namespace}/tags: every tag, 204."""
    policy.enforce(req.ctx, "image:delete_metadef_tags")
    _md(req).delete_tags(req.ctx, _ns(req))
    return ApiResponse(204)


# -- schemas


def get_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/metadefs/{name} (``metadef_schemas.published``); 404 for another."""
    schema = published().get(req.params["name"])
    if schema is None:
        raise errors.NotFound(f"No metadef schema named {req.params['name']}.")
    return schema
