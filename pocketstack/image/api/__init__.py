"""The Image service API (Glance v2), mounted at ``/image``.

Routes follow the Image API v2 reference; handlers live in ``images``, ``members``,
``metadefs`` (metadata definitions), ``tasks``, ``info`` and ``versions``, and every JSON body
a route takes is checked against its schema in ``schemas`` (``metadef_schemas``) before the
handler runs. Errors use Glance's body
``{"code": 404, "title": "Not Found", "message": ...}``, whose ``message`` openstacksdk shows
(``errors``).
"""

from __future__ import annotations

from pocketstack.common.http import ServiceAPI, route
from pocketstack.image import policies  # noqa: F401 - registers the rules
from pocketstack.image.api import images, info, members, schemas, tasks, versions
from pocketstack.image.api import metadef_schemas as mds
from pocketstack.image.api import metadefs as md
from pocketstack.image.api.errors import RENDERERS

_IMG = "/v2/images/{image_id}"
_NS = "/v2/metadefs/namespaces/{namespace}"
#: Image data is octet-stream; a request without Content-Type is taken as such.
_DATA = ("application/octet-stream", "")

ROUTES = [
    route("GET", "/", versions.list_versions, auth=False),
    route("GET", "/versions", versions.show_versions, auth=False),
    route("GET", "/v2/schemas/image", versions.image_schema),
    route("GET", "/v2/schemas/images", versions.images_schema),
    route("GET", "/v2/schemas/member", versions.member_schema),
    route("GET", "/v2/schemas/members", versions.members_schema),
    route("GET", "/v2/schemas/task", versions.task_schema),
    route("GET", "/v2/schemas/tasks", versions.tasks_schema),
    route("GET", "/v2/info/import", images.import_info),
    route("GET", "/v2/info/stores", info.list_stores),
    route("GET", "/v2/info/stores/detail", info.list_stores_detail),
    route("GET", "/v2/info/usage", info.get_usage),
    route("GET", "/v2/tasks", tasks.list_tasks),
    route("GET", "/v2/tasks/{task_id}", tasks.get_task),
    route("GET", _IMG + "/tasks", tasks.list_image_tasks),
    route("GET", "/v2/images", images.list_images),
    route("POST", "/v2/images", images.create_image, schema=schemas.IMAGE_CREATE),
    route("GET", _IMG, images.get_image),
    route("GET", "/v2/images/", images.null_image_id),
    route("DELETE", "/v2/images/", images.null_image_id),
    route(
        "PATCH",
        _IMG,
        images.update_image,
        schema=schemas.IMAGE_UPDATE,
        content_types=images.PATCH_TYPES,
    ),
    route("DELETE", _IMG, images.delete_image),
    route("PUT", _IMG + "/file", images.upload_image, raw_body=True, content_types=_DATA),
    route("GET", _IMG + "/file", images.download_image),
    route("PUT", _IMG + "/stage", images.stage_image, raw_body=True, content_types=_DATA),
    route("POST", _IMG + "/import", images.import_image, schema=schemas.IMAGE_IMPORT),
    route("PUT", _IMG + "/tags/{tag}", images.add_tag, schema=schemas.NO_BODY),
    route("DELETE", _IMG + "/tags/{tag}", images.delete_tag),
    route("POST", _IMG + "/actions/deactivate", images.deactivate_image, schema=schemas.NO_BODY),
    route("POST", _IMG + "/actions/reactivate", images.reactivate_image, schema=schemas.NO_BODY),
    route("GET", _IMG + "/members", members.list_members),
    route("POST", _IMG + "/members", members.create_member, schema=schemas.MEMBER_CREATE),
    route("GET", _IMG + "/members/{member_id}", members.get_member),
    route(
        "PUT", _IMG + "/members/{member_id}", members.update_member, schema=schemas.MEMBER_UPDATE
    ),
    route("DELETE", _IMG + "/members/{member_id}", members.delete_member),
    # metadata definitions (Image API v2 "Metadata definitions")
    route("GET", "/v2/schemas/metadefs/{name}", md.get_schema),
    route("GET", "/v2/metadefs/resource_types", md.list_resource_types),
    route("GET", "/v2/metadefs/namespaces", md.list_namespaces),
    route("POST", "/v2/metadefs/namespaces", md.create_namespace, schema=mds.NAMESPACE),
    route("GET", _NS, md.get_namespace),
    route("PUT", _NS, md.update_namespace, schema=mds.NAMESPACE),
    route("DELETE", _NS, md.delete_namespace),
    route("GET", _NS + "/resource_types", md.list_associations),
    route(
        "POST",
        _NS + "/resource_types",
        md.create_association,
        schema=mds.RESOURCE_TYPE_ASSOCIATION,
    ),
    route("DELETE", _NS + "/resource_types/{resource_type}", md.delete_association),
    route("GET", _NS + "/properties", md.list_properties),
    route("POST", _NS + "/properties", md.create_property, schema=mds.PROPERTY),
    route("DELETE", _NS + "/properties", md.delete_properties),
    route("GET", _NS + "/properties/{property_name}", md.get_property),
    route("PUT", _NS + "/properties/{property_name}", md.update_property, schema=mds.PROPERTY),
    route("DELETE", _NS + "/properties/{property_name}", md.delete_property),
    route("GET", _NS + "/objects", md.list_objects),
    route("POST", _NS + "/objects", md.create_object, schema=mds.OBJECT),
    route("DELETE", _NS + "/objects", md.delete_objects),
    route("GET", _NS + "/objects/{object_name}", md.get_object),
    route("PUT", _NS + "/objects/{object_name}", md.update_object, schema=mds.OBJECT_UPDATE),
    route("DELETE", _NS + "/objects/{object_name}", md.delete_object),
    route("GET", _NS + "/tags", md.list_tags),
    route("POST", _NS + "/tags", md.create_tags, schema=mds.TAGS),
    route("DELETE", _NS + "/tags", md.delete_tags),
    route("GET", _NS + "/tags/{tag_name}", md.get_tag),
    route("POST", _NS + "/tags/{tag_name}", md.create_tag, schema=mds.NO_BODY),
    route("PUT", _NS + "/tags/{tag_name}", md.update_tag, schema=mds.TAG),
    route("DELETE", _NS + "/tags/{tag_name}", md.delete_tag),
]

#: image data routes (``raw_body``) read the body as it arrives (``RequestBodyStream``)
API = ServiceAPI("image", "/image", RENDERERS, ROUTES)
