"""Who may call which Compute API (Nova's default personas, roughly).

Levels are those of ``pocketstack.common.policy``: ``any``, ``reader``, ``member``, ``admin``.
Project scoping (another project's server is 404) is done by the managers; these rules only
say whether a role may call an API at all. Keypairs belong to users: any member manages their
own. Cloud-wide resources (flavor create/delete, services, hypervisors, quota updates, listing
all projects' servers) are admin-only.
"""

from __future__ import annotations

from pocketstack.common import policy

RULES: dict[str, str] = {
    # servers
    "compute:servers:index": "reader",
    "compute:servers:show": "reader",
    "compute:servers:create": "member",
    "compute:servers:update": "member",
    "compute:servers:delete": "member",
    "compute:servers:stop": "member",
    "compute:servers:start": "member",
    "compute:servers:reboot": "member",
    "compute:servers:console_output": "member",
    # state actions (Nova's os_compute_api:os-pause-server:pause... names)
    "compute:os-pause-server:pause": "member",
    "compute:os-pause-server:unpause": "member",
    "compute:os-suspend-server:suspend": "member",
    "compute:os-suspend-server:resume": "member",
    "compute:os-lock-server:lock": "member",
    "compute:os-lock-server:unlock": "member",
    "compute:os-rescue": "member",
    "compute:os-rescue:unrescue": "member",
    "compute:os-admin-password": "member",
    # Nova's os_compute_api:servers:create_image (project member or admin)
    "compute:servers:create_image": "member",
    # Nova's os_compute_api:os-create-backup (project member or admin)
    "compute:os-create-backup": "member",
    # Nova's os_compute_api:os-shelve:* (offload and unshelve to a host: admin)
    "compute:os-shelve:shelve": "member",
    "compute:os-shelve:shelve_offload": "admin",
    "compute:os-shelve:unshelve": "member",
    "compute:os-shelve:unshelve_to_host": "admin",
    "compute:os-server-crash-dump": "member",
    # remote consoles (Nova's os_compute_api:os-remote-consoles: project member or admin)
    "compute:os-remote-consoles": "member",
    # what a console token opens (Nova's os_compute_api:os-console-auth-tokens: admin)
    "compute:os-console-auth-tokens": "admin",
    "compute:os-admin-actions:reset_state": "admin",
    "compute:os-admin-actions:reset_network": "admin",
    "compute:servers:index:all_tenants": "admin",
    "compute:servers:show:host_status": "admin",
    "compute:server-metadata:index": "reader",
    "compute:server-metadata:update": "member",
    "compute:server-metadata:delete": "member",
    "compute:ips:index": "reader",
    "compute:instance-actions:index": "reader",
    "compute:instance-actions:show": "reader",
    "compute:instance-actions:events:details": "admin",
    # a server's volumes (Nova's os_compute_api:os-volumes-attachments:*)
    "compute:os-volumes-attachments:index": "reader",
    "compute:os-volumes-attachments:show": "reader",
    "compute:os-volumes-attachments:create": "member",
    "compute:os-volumes-attachments:delete": "member",
    # what other services tell Compute (Nova: admin, i.e. the service users)
    "compute:os-server-external-events:create": "admin",
    # flavors
    "compute:flavors:index": "any",
    "compute:flavors:show": "any",
    "compute:flavors:create": "admin",
    "compute:flavors:update": "admin",
    "compute:flavors:delete": "admin",
    "compute:flavor-extra-specs:index": "any",
    "compute:flavor-extra-specs:update": "admin",
    "compute:flavor-extra-specs:delete": "admin",
    "compute:flavor-access:index": "admin",
    "compute:flavor-access:add": "admin",
    "compute:flavor-access:remove": "admin",
    # keypairs (per user)
    "compute:keypairs:index": "reader",
    "compute:keypairs:show": "reader",
    "compute:keypairs:create": "member",
    "compute:keypairs:delete": "member",
    "compute:keypairs:other_user": "admin",
    # limits and quotas
    "compute:limits": "reader",
    "compute:quotas:show": "reader",
    "compute:quotas:defaults": "reader",
    "compute:quotas:show:other_project": "admin",
    "compute:quotas:update": "admin",
    "compute:quotas:delete": "admin",
    # hosts
    "compute:availability-zone:index": "reader",
    "compute:availability-zone:detail": "admin",
    "compute:services:index": "admin",
    "compute:services:update": "admin",
    "compute:services:delete": "admin",
    "compute:hypervisors:index": "admin",
    "compute:hypervisors:show": "admin",
    "compute:hypervisors:statistics": "admin",
    "compute:aggregates:index": "admin",
    # host aggregates (Nova: admin only, every call)
    "compute:aggregates:show": "admin",
    "compute:aggregates:create": "admin",
    "compute:aggregates:update": "admin",
    "compute:aggregates:delete": "admin",
    "compute:aggregates:add_host": "admin",
    "compute:aggregates:remove_host": "admin",
    "compute:aggregates:set_metadata": "admin",
    # a server's security groups and interfaces
    "compute:os-security-groups:list": "reader",
    "compute:os-security-groups:add": "member",
    "compute:os-security-groups:remove": "member",
    "compute:os-attach-interfaces:list": "reader",
    "compute:os-attach-interfaces:show": "reader",
    "compute:os-attach-interfaces:create": "member",
    "compute:os-attach-interfaces:delete": "member",
    # server groups (per project; all_projects is admin)
    "compute:os-server-groups:index": "reader",
    "compute:os-server-groups:index:all_projects": "admin",
    "compute:os-server-groups:show": "reader",
    "compute:os-server-groups:create": "member",
    "compute:os-server-groups:delete": "member",
    # usage and inspection
    "compute:os-simple-tenant-usage:list": "admin",
    "compute:os-simple-tenant-usage:show": "reader",
    "compute:os-simple-tenant-usage:show:other_project": "admin",
    "compute:os-server-diagnostics": "admin",
    "compute:os-migrations:index": "admin",
    # Nova's os_compute_api:servers:resize/confirm_resize/revert_resize (project member)
    # and os_compute_api:os-migrate-server:migrate(_host) (admin)
    "compute:servers:resize": "member",
    "compute:servers:confirm_resize": "member",
    "compute:servers:revert_resize": "member",
    "compute:os-migrate-server:migrate": "admin",
    "compute:os-migrate-server:migrate:host": "admin",
    "compute:os-instance-usage-audit-log:list": "admin",
    "compute:os-instance-usage-audit-log:show": "admin",
    "compute:os-floating-ip-pools": "reader",
    "compute:images": "reader",  # the deprecated image proxy (api/images.py)
}

policy.register(RULES)
