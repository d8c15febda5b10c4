"""Who may call which Identity API (roughly Keystone's defaults).

- admin manages domains, projects, users, groups, roles, assignments, regions, services and
  endpoints;
- any authenticated user may show and update itself, change its own password, list its own
  projects (``/v3/users/{id}/projects``, ``/v3/auth/projects``) and groups, and manage its
  own application credentials;
- reader (and member) may read roles, regions, services, endpoints, its own domain and the
  projects it has a role on;
- as Keystone's defaults, a non-admin gets 403 (not 404) for listing projects or users and
  for showing a domain, project or user it may not see: clients rely on it
  (openstackclient's ``find_project``/``find_user`` then use the id as given).
"""

from __future__ import annotations

from pocketstack.common import policy

RULES = {
    # domains
    "identity:list_domains": "reader",
    "identity:get_domain": "reader",
    "identity:create_domain": "admin",
    "identity:update_domain": "admin",
    "identity:delete_domain": "admin",
    # projects
    "identity:list_projects": "admin",
    "identity:get_project": "reader",
    "identity:create_project": "admin",
    "identity:update_project": "admin",
    "identity:delete_project": "admin",
    "identity:list_user_projects": "any",
    # users
    "identity:list_users": "admin",
    "identity:get_user": "any",
    "identity:create_user": "admin",
    "identity:update_user": "any",
    "identity:delete_user": "admin",
    "identity:change_password": "any",
    "identity:list_groups_for_user": "any",
    # groups
    "identity:list_groups": "admin",
    "identity:get_group": "admin",
    "identity:create_group": "admin",
    "identity:update_group": "admin",
    "identity:delete_group": "admin",
    "identity:list_users_in_group": "admin",
    "identity:add_user_to_group": "admin",
    "identity:check_user_in_group": "admin",
    "identity:remove_user_from_group": "admin",
    # roles and implied roles
    "identity:list_roles": "reader",
    "identity:get_role": "reader",
    "identity:create_role": "admin",
    "identity:update_role": "admin",
    "identity:delete_role": "admin",
    "identity:list_implied_roles": "reader",
    "identity:get_implied_role": "reader",
    "identity:create_implied_role": "admin",
    "identity:delete_implied_role": "admin",
    "identity:list_role_inference_rules": "reader",
    # assignments
    "identity:list_grants": "admin",
    "identity:check_grant": "admin",
    "identity:create_grant": "admin",
    "identity:revoke_grant": "admin",
    "identity:list_role_assignments": "any",
    # catalog
    "identity:list_regions": "reader",
    "identity:get_region": "reader",
    "identity:create_region": "admin",
    "identity:update_region": "admin",
    "identity:delete_region": "admin",
    "identity:list_services": "reader",
    "identity:get_service": "reader",
    "identity:create_service": "admin",
    "identity:update_service": "admin",
    "identity:delete_service": "admin",
    "identity:list_endpoints": "reader",
    "identity:get_endpoint": "reader",
    "identity:create_endpoint": "admin",
    "identity:update_endpoint": "admin",
    "identity:delete_endpoint": "admin",
    # tokens and application credentials
    "identity:validate_token": "any",
    "identity:revoke_token": "any",
    "identity:get_auth_catalog": "any",
    "identity:get_auth_projects": "any",
    "identity:get_auth_domains": "any",
    "identity:list_application_credentials": "any",
    "identity:get_application_credential": "any",
    "identity:create_application_credential": "any",
    "identity:delete_application_credential": "any",
}

policy.register(RULES)
