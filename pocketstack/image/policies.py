"""Who may do what on the Image service (Glance's default personas).

``publicize_image`` (public visibility), ``deactivate`` and ``reactivate`` are admin-only as
in Glance. Ownership (only the owner changes an image; members only set their own status) is
checked by the manager.
"""

from __future__ import annotations

from pocketstack.common import policy

RULES = {
    "image:get_images": "reader",
    "image:get_image": "reader",
    "image:add_image": "member",
    "image:modify_image": "member",
    "image:delete_image": "member",
    "image:upload_image": "member",
    "image:download_image": "reader",
    "image:publicize_image": "admin",
    "image:deactivate": "admin",
    "image:reactivate": "admin",
    "image:add_member": "member",
    "image:get_members": "reader",
    "image:get_member": "reader",
    "image:modify_member": "member",
    "image:delete_member": "member",
    "image:import_image": "member",
    # tasks (Glance's tasks_api_access is role:admin) and the stores' details
    "image:get_tasks": "admin",
    "image:get_task": "admin",
    "image:stores_info_detail": "admin",
    # metadata definitions: Glance's metadef_default ("") reads, metadef_admin writes;
    # which namespaces a caller sees (public, or its project's) is the manager's check
    "image:get_metadef_namespaces": "any",
    "image:get_metadef_namespace": "any",
    "image:add_metadef_namespace": "admin",
    "image:modify_metadef_namespace": "admin",
    "image:delete_metadef_namespace": "admin",
    "image:list_metadef_resource_types": "any",
    "image:get_metadef_resource_type": "any",
    "image:add_metadef_resource_type_association": "admin",
    "image:remove_metadef_resource_type_association": "admin",
    "image:get_metadef_properties": "any",
    "image:get_metadef_property": "any",
    "image:add_metadef_property": "admin",
    "image:modify_metadef_property": "admin",
    "image:remove_metadef_property": "admin",
    "image:get_metadef_objects": "any",
    "image:get_metadef_object": "any",
    "image:add_metadef_object": "admin",
    "image:modify_metadef_object": "admin",
    "image:delete_metadef_object": "admin",
    "image:get_metadef_tags": "any",
    "image:get_metadef_tag": "any",
    "image:add_metadef_tag": "admin",
    "image:add_metadef_tags": "admin",
    "image:modify_metadef_tag": "admin",
    "image:delete_metadef_tag": "admin",
    "image:delete_metadef_tags": "admin",
}

policy.register(RULES)
