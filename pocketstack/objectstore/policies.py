"""Who may do what in object storage.

Swift's keystoneauth decides per account and container ACL rather than per rule: that logic
is ``pocketstack.objectstore.acl`` (the project's members read and write its account,
readers read, admins any account, others only through container ACLs). The rules here are
the persona floors ``acl`` applies to one's own account, by role level.
"""

from __future__ import annotations

from pocketstack.common import policy

RULES: dict[str, str] = {
    "object_store:read": "reader",
    "object_store:write": "member",
    "object_store:set_account_quota": "admin",
}

policy.register(RULES)
