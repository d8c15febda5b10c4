"""The Compute API: Nova v2.1 under ``/compute`` (OpenStack Compute API reference).

Microversions: this API serves exactly **2.1** (min 2.1, max 2.1) and implements the 2.1
shapes of every resource. That was chosen deliberately: python-openstackclient 10.5 and
openstacksdk 4.22 negotiate the highest version both sides support, and every command the
project needs (server create/list/show/delete/stop/start/reboot, console log, server events,
keypair create/import/list/show/delete, flavors with properties, hypervisors, compute
services, availability zones, limits, quotas, server add/remove volume, server volume
list, server create --boot-from-volume/--volume/--block-device) works at 2.1; what needs
more (keypair ``--type`` at 2.2, server descriptions at 2.19, tags at 2.26...) is refused
by the client itself with a clear message. A version above 2.1 is answered 406; every answer carries
``OpenStack-API-Version``, ``X-OpenStack-Nova-API-Version`` and ``Vary``.

Every body a route takes has a JSON schema (``schemas``), Nova's 2.1 one, checked before
the handler runs.

Errors use Nova's bodies (``{"itemNotFound": {"code": 404, "message": ...}}``, ``errors``) and every
response carries ``X-Compute-Request-Id`` and ``X-Openstack-Request-Id``.
"""

from __future__ import annotations

from pocketstack.common.http import ServiceAPI
from pocketstack.compute import policies  # noqa: F401  (registers the compute rules)
from pocketstack.compute.api import (
    aggregates,
    diagnostics,
    flavors,
    floating_ip_pools,
    hosts,
    images,
    interfaces,
    keypairs,
    live_migration,
    microversion,
    migrations,
    quotas,
    remote_consoles,
    schemas,
    server_actions,
    server_external_events,
    server_groups,
    server_security_groups,
    server_tags,
    servers,
    usage,
    versions,
    volume_attachments,
)
from pocketstack.compute.api.errors import RENDERERS
from pocketstack.compute.api.microversion import compute_route as r

V = "/v2.1"
S = V + "/servers/{server_id}"

ROUTES = [
    r("GET", "/", versions.list_versions, auth=False),
    r("GET", V, versions.get_version, auth=False),
    r("GET", V + "/", versions.get_version, auth=False),
    # flavors
    r("GET", V + "/flavors", flavors.list_flavors),
    r("POST", V + "/flavors", flavors.create_flavor, schema=schemas.FLAVOR_CREATE),
    r("GET", V + "/flavors/detail", flavors.list_flavors_detail),
    r("GET", V + "/flavors/{flavor_id}", flavors.get_flavor),
    r("PUT", V + "/flavors/{flavor_id}", flavors.update_flavor, schema=schemas.FLAVOR_UPDATE),
    r("DELETE", V + "/flavors/{flavor_id}", flavors.delete_flavor, status=202),
    r(
        "POST",
        V + "/flavors/{flavor_id}/action",
        flavors.run_flavor_action,
        schema=schemas.FLAVOR_ACTION,
    ),
    r("GET", V + "/flavors/{flavor_id}/os-flavor-access", flavors.list_flavor_access),
    r("GET", V + "/flavors/{flavor_id}/os-extra_specs", flavors.list_extra_specs),
    r(
        "POST",
        V + "/flavors/{flavor_id}/os-extra_specs",
        flavors.create_extra_specs,
        schema=schemas.EXTRA_SPECS_CREATE,
    ),
    r("GET", V + "/flavors/{flavor_id}/os-extra_specs/{key}", flavors.get_extra_spec),
    r(
        "PUT",
        V + "/flavors/{flavor_id}/os-extra_specs/{key}",
        flavors.update_extra_spec,
        schema=schemas.EXTRA_SPEC_UPDATE,
    ),
    r("DELETE", V + "/flavors/{flavor_id}/os-extra_specs/{key}", flavors.delete_extra_spec),
    # keypairs
    r("GET", V + "/os-keypairs", keypairs.list_keypairs),
    r("POST", V + "/os-keypairs", keypairs.create_keypair, schema=schemas.KEYPAIR_CREATE),
    r("GET", V + "/os-keypairs/{name}", keypairs.get_keypair),
    r("DELETE", V + "/os-keypairs/{name}", keypairs.delete_keypair, status=202),
    # servers
    r("GET", V + "/servers", servers.list_servers),
    r("POST", V + "/servers", servers.create_server, schema=schemas.SERVER_CREATE),
    r("GET", V + "/servers/detail", servers.list_servers_detail),
    r("GET", S, servers.get_server),
    r("PUT", S, servers.update_server, schema=schemas.SERVER_UPDATE),
    r("DELETE", S, servers.delete_server),
    # server tags (2.26)
    r("GET", S + "/tags", server_tags.list_tags),
    r("PUT", S + "/tags", server_tags.replace_tags, schema=schemas.TAGS_REPLACE),
    r("DELETE", S + "/tags", server_tags.delete_tags),
    r("GET", S + "/tags/{tag}", server_tags.check_tag),
    r("PUT", S + "/tags/{tag}", server_tags.add_tag, schema=schemas.NO_BODY),
    r("DELETE", S + "/tags/{tag}", server_tags.delete_tag),
    r("POST", S + "/action", server_actions.run_server_action, schema=schemas.SERVER_ACTION),
    r("GET", S + "/metadata", server_actions.list_metadata),
    r("POST", S + "/metadata", server_actions.update_metadata, schema=schemas.METADATA_SET),
    r("PUT", S + "/metadata", server_actions.replace_metadata, schema=schemas.METADATA_SET),
    r("GET", S + "/metadata/{key}", server_actions.get_metadata_item),
    r(
        "PUT",
        S + "/metadata/{key}",
        server_actions.set_metadata_item,
        schema=schemas.METADATA_ITEM,
    ),
    r("DELETE", S + "/metadata/{key}", server_actions.delete_metadata_item),
    r("GET", S + "/ips", server_actions.list_ips),
    r("GET", S + "/ips/{network}", server_actions.get_ips),
    r("GET", S + "/os-volume_attachments", volume_attachments.list_volume_attachments),
    r(
        "POST",
        S + "/os-volume_attachments",
        volume_attachments.create_volume_attachment,
        schema=schemas.VOLUME_ATTACHMENT_CREATE,
    ),
    r("GET", S + "/os-volume_attachments/{volume_id}", volume_attachments.get_volume_attachment),
    r(
        "DELETE",
        S + "/os-volume_attachments/{volume_id}",
        volume_attachments.delete_volume_attachment,
        status=202,
    ),
    r(
        "GET",
        S + "/os-security-groups",
        server_security_groups.list_server_security_groups,
    ),
    r("GET", S + "/os-interface", interfaces.list_interfaces),
    r(
        "POST",
        S + "/os-interface",
        interfaces.create_interface,
        schema=schemas.INTERFACE_ATTACHMENT_CREATE,
    ),
    r("GET", S + "/os-interface/{port_id}", interfaces.get_interface),
    r("DELETE", S + "/os-interface/{port_id}", interfaces.delete_interface, status=202),
    r("GET", S + "/diagnostics", diagnostics.get_server_diagnostics),
    r(
        "POST",
        S + "/remote-consoles",
        remote_consoles.create_remote_console,
        schema=schemas.REMOTE_CONSOLE_CREATE,
    ),
    r("GET", S + "/os-instance-actions", server_actions.list_instance_actions),
    r("GET", S + "/os-instance-actions/{request_id}", server_actions.get_instance_action),
    r(
        "POST",
        V + "/os-server-external-events",
        server_external_events.create_server_external_events,
        schema=schemas.SERVER_EXTERNAL_EVENTS_CREATE,
    ),
    # hosts
    r("GET", V + "/os-services", hosts.list_services),
    r(
        "PUT",
        V + "/os-services/{service_id}",
        hosts.update_service,
        schema=schemas.SERVICE_UPDATE,
    ),
    r("DELETE", V + "/os-services/{service_id}", hosts.delete_service),
    r("GET", V + "/os-hypervisors", hosts.list_hypervisors),
    r("GET", V + "/os-hypervisors/detail", hosts.list_hypervisors_detail),
    r("GET", V + "/os-hypervisors/statistics", hosts.get_hypervisor_statistics),
    r("GET", V + "/os-hypervisors/{pattern}/search", hosts.search_hypervisors),
    r("GET", V + "/os-hypervisors/{hypervisor_id}", hosts.get_hypervisor),
    r("GET", V + "/os-hypervisors/{hypervisor_id}/uptime", hosts.get_hypervisor_uptime),
    # host aggregates, server groups, usage, migrations (admin rules in compute.policies)
    r("GET", V + "/os-aggregates", aggregates.list_aggregates),
    r("POST", V + "/os-aggregates", aggregates.create_aggregate, schema=schemas.AGGREGATE_CREATE),
    r("GET", V + "/os-aggregates/{aggregate_id}", aggregates.get_aggregate),
    r(
        "PUT",
        V + "/os-aggregates/{aggregate_id}",
        aggregates.update_aggregate,
        schema=schemas.AGGREGATE_UPDATE,
    ),
    r("DELETE", V + "/os-aggregates/{aggregate_id}", aggregates.delete_aggregate),
    r(
        "POST",
        V + "/os-aggregates/{aggregate_id}/action",
        aggregates.run_aggregate_action,
        schema=schemas.AGGREGATE_ACTION,
    ),
    r("GET", V + "/os-server-groups", server_groups.list_server_groups),
    r(
        "POST",
        V + "/os-server-groups",
        server_groups.create_server_group,
        schema=schemas.SERVER_GROUP_CREATE,
    ),
    r("GET", V + "/os-server-groups/{group_id}", server_groups.get_server_group),
    r("DELETE", V + "/os-server-groups/{group_id}", server_groups.delete_server_group, status=204),
    r("GET", V + "/os-simple-tenant-usage", usage.list_tenant_usages),
    r("GET", V + "/os-simple-tenant-usage/{tenant_id}", usage.get_tenant_usage),
    r("GET", V + "/os-instance-usage-audit-log", usage.list_usage_audit_logs),
    r("GET", V + "/os-instance-usage-audit-log/{before_timestamp}", usage.get_usage_audit_log),
    r("GET", V + "/os-migrations", migrations.list_migrations),
    r(
        "GET",
        V + "/os-console-auth-tokens/{console_token}",
        remote_consoles.show_console_auth_token,
    ),
    r("GET", S + "/migrations", migrations.list_server_migrations),
    r("GET", S + "/migrations/{migration_id}", migrations.get_server_migration),
    r("DELETE", S + "/migrations/{migration_id}", live_migration.abort_server_migration),
    r(
        "POST",
        S + "/migrations/{migration_id}/action",
        live_migration.run_server_migration_action,
        schema=live_migration.MIGRATION_ACTION,
    ),
    r("GET", V + "/os-floating-ip-pools", floating_ip_pools.list_floating_ip_pools),
    # the deprecated image proxy (up to 2.35)
    r("GET", V + "/images/{image_id}", images.get_image),
    r("DELETE", V + "/images/{image_id}", images.delete_image, status=204),
    r("GET", V + "/os-availability-zone", hosts.list_availability_zones),
    r("GET", V + "/os-availability-zone/detail", hosts.list_availability_zones_detail),
    # limits and quotas
    r("GET", V + "/limits", quotas.get_limits),
    r("GET", V + "/os-quota-sets/{project_id}", quotas.get_quota_set),
    r(
        "PUT",
        V + "/os-quota-sets/{project_id}",
        quotas.update_quota_set,
        schema=schemas.QUOTA_SET_UPDATE,
    ),
    r("DELETE", V + "/os-quota-sets/{project_id}", quotas.delete_quota_set, status=202),
    r("GET", V + "/os-quota-sets/{project_id}/defaults", quotas.get_quota_set_defaults),
    r("GET", V + "/os-quota-sets/{project_id}/detail", quotas.get_quota_set_detail),
]

API = ServiceAPI(
    "compute",
    "/compute",
    RENDERERS,
    ROUTES,
    request_id_headers=("X-Compute-Request-Id", "X-Openstack-Request-Id"),
    # Nova reads a text/plain body as JSON too; any other type is 415.
    content_types=("application/json", "text/plain"),
    response_headers=microversion.response_headers,
)
