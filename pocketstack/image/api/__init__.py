"""The Image service API (Glance v2), mounted at ``/image``.

Routes follow the Image API v2 reference; handlers live in ``images``, ``members`` and
``versions``, and every JSON body a route takes is checked against its schema in ``schemas``
before the handler runs. Errors use Glance's body
``{"code": 404, "title": "Not Found", "message": ...}``, whose ``message`` openstacksdk shows
(``errors``).
"""

from __future__ import annotations

from pocketstack.common.http import ServiceAPI, route
from pocketstack.image import policies  # noqa: F401 - registers the rules
from pocketstack.image.api import images, info, members, schemas, tasks, versions
from pocketstack.image.api.errors import RENDERERS

_IMG = "/v2/images/{image_id}"
#: Image data is octet-stream; a request without Content-Type is taken as such.
_DATA = ("application/octet-stream", "")

ROUTES = [
    route("GET", "/", versions.list_versions, auth=False),
    route("GET", "/versions", versions.show_versions, auth=False),
    route("GET", "/v2/schemas/image", versions.image_schema),
    route("GET", "/v2/schemas/images", versions.images_schema),
    route("GET", "/v2/schemas/member", versions.member_schema),
    route("GET", "/v2/schemas/members", versions.members_schema),
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
]

#: image data routes (``raw_body``) read the body as it arrives (``RequestBodyStream``)
API = ServiceAPI("image", "/image", RENDERERS, ROUTES)
