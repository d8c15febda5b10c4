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
}

policy.register(RULES)
