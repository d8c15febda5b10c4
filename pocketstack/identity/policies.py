"""Who may call which Identity API: Keystone's current default policies, mapped onto
pocketstack's personas.

Personas: the ``admin`` role on any project or on the system is the cloud administrator,
as Keystone's ``admin_required`` (``role:admin``) makes it; the *system reader* (a reader,
member or manager with a system-scoped token: ``system_reader``, Keystone's ``role:reader
and system_scope:all``) reads everything an admin reads and changes nothing. The *domain
reader* and *domain manager* (a reader / a ``manager`` with a domain-scoped token:
``domain_reader``, ``domain_manager``) read / manage the users, projects and groups of their
token's domain, whose listings they see only (Keystone's ``token.domain.id:%(target.
domain_id)s`` branches), and the grants within it: a domain manager grants and revokes
``manager``, ``member`` and ``reader`` to users and groups of its domain on its domain and
its projects (the role assignment listing stays the admin's and system reader's). As in
Keystone, a manager of the domain
the cloud admins live in can change their passwords: give that role on other domains only.

Summary (Keystone's default, then ours):

- domains, projects, users, groups, roles, implied roles, grants (project, domain and
  system), role assignments, services, endpoints: reading is admin's and the system
  reader's, writing admin's; for users, projects, groups (and memberships) and grants also
  the domain reader's (reading) and domain manager's (writing) in their token's domain,
  except:
- a user may show itself, list its own projects and groups (``admin or owner``), and change
  only its own password, knowing the current one (``owner``; 401 for a wrong original);
  ``PATCH /v3/users/{id}`` is admin's even on oneself (Keystone's ``identity:update_user``);
- a project-scoped caller may show its token's project and that project's domain
  (Keystone: ``project_id:%(target.project.id)s``, ``token.project.domain.id:...``);
- regions and the ``/v3/auth/*`` lookups are open to any authenticated caller;
- tokens: the subject token's user or an admin may validate or revoke it (403 for others,
  404 for an invalid subject token, as Keystone);
- credentials (and OS-EC2 credentials): read by their user, an admin or the system reader,
  written by their user or an admin; the listing is open to anyone but shows a caller that
  is neither admin nor system reader only its own (Keystone filters it the same way);
- project tags: read as the project is, written by an admin;
- trusts: created by their trustor only, shown to the trustor, the trustee and admins (and
  the system reader), deleted by the trustor or an admin (checked by ``trusts.Trusts``);
- application credentials: listed, shown and deleted by their user or an admin, created by
  their user only (not even an admin creates one for someone else). A token obtained from a
  restricted application credential may not create or delete application credentials
  (checked by the manager through ``RequestContext.may_delegate``, as Keystone's API does);
- OS-OAUTH1: consumers, authorizing a request token and users' access tokens are the
  admin's (the system reader reads them), as Keystone's ``admin_required``; getting request
  and access tokens needs no token (the consumer signs the request).

A non-admin gets 403 (not 404) for what it may not see, known or not: openstackclient's
``find_project``/``find_user`` rely on it (they then use the id as given).

Where the target is enforced: rules with ``owner``/``project``/``domain`` get their target
from the path in the handler (``policy.enforce(ctx, rule, {"user_id": ...})``), except the
token rules, whose target (the subject token's user) the manager knows only after decoding
it. ``tests/unit/identity/test_policies.py`` walks every route with every persona.
"""

from __future__ import annotations

from pocketstack.common import policy

RULES = {
    # domains
    "identity:list_domains": "admin or system_reader",
    "identity:get_domain": "admin or system_reader or domain",
    "identity:create_domain": "admin",
    "identity:update_domain": "admin",
    "identity:delete_domain": "admin",
    # projects
    "identity:list_projects": "admin or system_reader or domain_reader",
    "identity:get_project": "admin or system_reader or domain_reader or project",
    "identity:create_project": "admin or domain_manager",
    "identity:update_project": "admin or domain_manager",
    "identity:delete_project": "admin or domain_manager",
    "identity:list_user_projects": "admin or system_reader or owner",
    "identity:get_project_tags": "admin or system_reader or project",
    "identity:get_project_tag": "admin or system_reader or project",
    "identity:update_project_tags": "admin",
    "identity:create_project_tag": "admin",
    "identity:delete_project_tags": "admin",
    "identity:delete_project_tag": "admin",
    # users
    "identity:list_users": "admin or system_reader or domain_reader",
    "identity:get_user": "admin or system_reader or domain_reader or owner",
    "identity:create_user": "admin or domain_manager",
    "identity:update_user": "admin or domain_manager",
    "identity:delete_user": "admin or domain_manager",
    "identity:change_password": "owner",
    "identity:list_groups_for_user": "admin or system_reader or owner",
    # groups
    "identity:list_groups": "admin or system_reader or domain_reader",
    "identity:get_group": "admin or system_reader or domain_reader",
    "identity:create_group": "admin or domain_manager",
    "identity:update_group": "admin or domain_manager",
    "identity:delete_group": "admin or domain_manager",
    "identity:list_users_in_group": "admin or system_reader or domain_reader",
    "identity:add_user_to_group": "admin or domain_manager",
    "identity:check_user_in_group": "admin or system_reader or domain_reader",
    "identity:remove_user_from_group": "admin or domain_manager",
    # roles and implied roles
    "identity:list_roles": "admin or system_reader",
    "identity:get_role": "admin or system_reader",
    "identity:create_role": "admin",
    "identity:update_role": "admin",
    "identity:delete_role": "admin",
    "identity:list_implied_roles": "admin or system_reader",
    "identity:get_implied_role": "admin or system_reader",
    "identity:check_implied_role": "admin or system_reader",
    "identity:create_implied_role": "admin",
    "identity:delete_implied_role": "admin",
    "identity:list_role_inference_rules": "admin or system_reader",
    # assignments
    "identity:list_grants": "admin or system_reader or domain_reader",
    "identity:check_grant": "admin or system_reader or domain_reader",
    "identity:create_grant": "admin or domain_manager",
    "identity:revoke_grant": "admin or domain_manager",
    "identity:list_role_assignments": "admin or system_reader",
    # system role assignments (Keystone: admin; reads also the system reader)
    "identity:list_system_grants_for_user": "admin or system_reader",
    "identity:check_system_grant_for_user": "admin or system_reader",
    "identity:create_system_grant_for_user": "admin",
    "identity:revoke_system_grant_for_user": "admin",
    "identity:list_system_grants_for_group": "admin or system_reader",
    "identity:check_system_grant_for_group": "admin or system_reader",
    "identity:create_system_grant_for_group": "admin",
    "identity:revoke_system_grant_for_group": "admin",
    # catalog
    "identity:list_regions": "any",
    "identity:get_region": "any",
    "identity:create_region": "admin",
    "identity:update_region": "admin",
    "identity:delete_region": "admin",
    "identity:list_services": "admin or system_reader",
    "identity:get_service": "admin or system_reader",
    "identity:create_service": "admin",
    "identity:update_service": "admin",
    "identity:delete_service": "admin",
    "identity:list_endpoints": "admin or system_reader",
    "identity:get_endpoint": "admin or system_reader",
    "identity:create_endpoint": "admin",
    "identity:update_endpoint": "admin",
    "identity:delete_endpoint": "admin",
    # tokens (target: the subject token's user) and the caller's own lookups
    "identity:validate_token": "admin or system_reader or owner",
    "identity:revoke_token": "admin or owner",
    "identity:get_auth_catalog": "any",
    "identity:get_auth_projects": "any",
    "identity:get_auth_domains": "any",
    "identity:get_auth_system": "any",
    # application credentials (target: the user in the path)
    "identity:list_application_credentials": "admin or system_reader or owner",
    "identity:get_application_credential": "admin or system_reader or owner",
    "identity:create_application_credential": "owner",
    "identity:delete_application_credential": "admin or owner",
    # credentials and EC2 credentials (target: the credential's user; Keystone's
    # ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER for reads, ADMIN_OR_CRED_OWNER for writes)
    "identity:list_credentials": "any",
    "identity:get_credential": "admin or system_reader or owner",
    "identity:create_credential": "admin or owner",
    "identity:update_credential": "admin or owner",
    "identity:delete_credential": "admin or owner",
    "identity:ec2_list_credentials": "admin or system_reader or owner",
    "identity:ec2_get_credential": "admin or system_reader or owner",
    "identity:ec2_create_credential": "admin or owner",
    "identity:ec2_delete_credential": "admin or owner",
    # OS-OAUTH1 (Keystone's defaults: ``admin_required`` throughout; the system reader
    # reads what the admin reads)
    "identity:list_consumers": "admin or system_reader",
    "identity:get_consumer": "admin or system_reader",
    "identity:create_consumer": "admin",
    "identity:update_consumer": "admin",
    "identity:delete_consumer": "admin",
    "identity:authorize_request_token": "admin",
    "identity:list_access_tokens": "admin or system_reader",
    "identity:get_access_token": "admin or system_reader",
    "identity:list_access_token_roles": "admin or system_reader",
    "identity:get_access_token_role": "admin or system_reader",
    "identity:delete_access_token": "admin",
    # trusts (OS-TRUST): any caller; the manager admits the trustor (create, delete), the
    # trustee (show, roles, listing filtered on itself) and admins (Keystone's checks)
    "identity:create_trust": "any",
    "identity:list_trusts": "any",
    "identity:get_trust": "any",
    "identity:delete_trust": "any",
    "identity:list_roles_for_trust": "any",
    "identity:get_role_for_trust": "any",
    # policies, OS-EP-FILTER, domain configuration (Keystone: admin writes; admin and the
    # system reader read; the default domain config is open to any caller)
    **{f"identity:{verb}_policy": "admin" for verb in ("create", "update", "delete")},
    "identity:get_policy": "admin or system_reader",
    "identity:list_policies": "admin or system_reader",
    **{
        f"identity:{name}": "admin or system_reader"
        for name in (
            "check_endpoint_in_project",
            "list_endpoints_for_project",
            "list_projects_for_endpoint",
            "list_endpoint_groups",
            "get_endpoint_group",
            "list_projects_associated_with_endpoint_group",
            "list_endpoints_associated_with_endpoint_group",
            "list_endpoint_groups_for_project",
            "get_endpoint_group_in_project",
            "get_domain_config",
        )
    },
    **{
        f"identity:{name}": "admin"
        for name in (
            "add_endpoint_to_project",
            "remove_endpoint_from_project",
            "create_endpoint_group",
            "update_endpoint_group",
            "delete_endpoint_group",
            "add_endpoint_group_to_project",
            "remove_endpoint_group_from_project",
            "create_domain_config",
            "update_domain_config",
            "delete_domain_config",
        )
    },
    "identity:get_domain_config_default": "any",
    # unified limits (Keystone: reads open, a project member's listing filtered to its
    # project; writes admin's)
    "identity:list_registered_limits": "any",
    "identity:get_registered_limit": "any",
    "identity:create_registered_limits": "admin",
    "identity:update_registered_limit": "admin",
    "identity:delete_registered_limit": "admin",
    "identity:get_limit_model": "any",
    "identity:list_limits": "any",
    "identity:get_limit": "any",
    "identity:list_all_limits": "admin or system_reader",
    "identity:create_limits": "admin",
    "identity:update_limit": "admin",
    "identity:delete_limit": "admin",
}

policy.register(RULES)
