"""Who may call which Block Storage API (Cinder's secure-RBAC defaults).

Rule names are Cinder's own (``cinder/policies/*.py``): ``volume:create``,
``volume:get_all``, ``volume_extension:volume_admin_actions:reset_status``... Levels are
those of ``pocketstack.common.policy``. Project scoping (another project's volume is 404,
admins see every project's with ``all_tenants``) is the families' job, with
``RequestContext.is_admin``/``owns``. ``os-set_bootable`` is checked as ``volume:update``,
as Cinder does; the availability zone list needs no rule in Cinder and has none here
(``volume:availability_zones`` is "any").
"""

from __future__ import annotations

from pocketstack.common import policy

RULES: dict[str, str] = {
    # volumes
    "volume:create": "member",
    "volume:create_from_image": "member",
    "volume:get": "reader",
    "volume:get_all": "reader",
    "volume:update": "member",
    "volume:delete": "member",
    "volume:force_delete": "admin",
    "volume:multiattach": "member",
    "volume_extension:volume_host_attribute": "admin",
    "volume_extension:volume_tenant_attribute": "reader",
    "volume_extension:volume_mig_status_attribute": "admin",
    # volume metadata
    "volume:get_volume_metadata": "reader",
    "volume:create_volume_metadata": "member",
    "volume:update_volume_metadata": "member",
    "volume:delete_volume_metadata": "member",
    "volume_extension:volume_image_metadata:show": "reader",
    "volume_extension:volume_image_metadata:set": "member",
    "volume_extension:volume_image_metadata:remove": "member",
    # volume actions
    "volume:extend": "member",
    "volume:extend_attached_volume": "member",
    "volume:update_readonly_flag": "member",
    "volume_extension:volume_admin_actions:reset_status": "admin",
    "volume_extension:volume_admin_actions:force_delete": "admin",
    "volume_extension:volume_actions:upload_image": "member",
    "volume_extension:volume_actions:upload_public": "admin",
    # volume types
    "volume_extension:type_create": "admin",
    "volume_extension:type_update": "admin",
    "volume_extension:type_delete": "admin",
    "volume_extension:type_get": "reader",
    "volume_extension:type_get_all": "reader",
    "volume_extension:access_types_extra_specs": "admin",
    "volume_extension:types_extra_specs:create": "admin",
    "volume_extension:types_extra_specs:update": "admin",
    "volume_extension:types_extra_specs:delete": "admin",
    "volume_extension:types_extra_specs:index": "reader",
    "volume_extension:types_extra_specs:show": "reader",
    "volume_extension:types_extra_specs:read_sensitive": "admin",
    "volume_extension:volume_type_access": "reader",
    "volume_extension:volume_type_access:addProjectAccess": "admin",
    "volume_extension:volume_type_access:removeProjectAccess": "admin",
    "volume_extension:volume_type_access:get_all_for_type": "admin",
    # snapshots
    "volume:get_snapshot": "reader",
    "volume:get_all_snapshots": "reader",
    "volume:create_snapshot": "member",
    "volume:update_snapshot": "member",
    "volume:delete_snapshot": "member",
    "volume:get_snapshot_metadata": "reader",
    "volume:update_snapshot_metadata": "member",
    "volume:delete_snapshot_metadata": "member",
    "volume_extension:extended_snapshot_attributes": "reader",
    "volume_extension:snapshot_admin_actions:reset_status": "admin",
    "volume_extension:snapshot_admin_actions:force_delete": "admin",
    # attachments
    "volume:attachment_create": "member",
    "volume:attachment_update": "member",
    "volume:attachment_delete": "member",
    "volume:attachment_complete": "member",
    "volume:attachment_get": "reader",
    # backups (cinder/policies/backups.py, backup_actions.py)
    "backup:create": "member",
    "backup:get": "reader",
    "backup:get_all": "reader",
    "backup:update": "member",
    "backup:delete": "member",
    "backup:restore": "member",
    "backup:backup_project_attribute": "admin",
    "volume_extension:backup_admin_actions:reset_status": "admin",
    "volume_extension:backup_admin_actions:force_delete": "admin",
    # quotas and limits
    "volume_extension:quotas:show": "reader",
    "volume_extension:quotas:update": "admin",
    "volume_extension:quotas:delete": "admin",
    "limits_extension:used_limits": "reader",
    # services and zones
    "volume_extension:services:index": "admin",
    "volume_extension:services:update": "admin",
    "volume:availability_zones": "any",
    "volume_extension:hosts": "admin",
}

policy.register(RULES)
