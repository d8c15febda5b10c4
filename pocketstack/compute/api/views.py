"""The Compute API's view of every resource: model -> the 2.1 JSON of the Compute API
reference (servers, flavors, keypairs, instance actions, limits and quota sets, services,
hypervisors, availability zones).

Handlers call one manager function and pass what it returned here; nothing in this module
reads the database or calls a manager. Per-caller redaction (admin-only attributes, fault
details, event tracebacks) happens here, from ``req.ctx``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest
from pocketstack.compute.api.common import bookmark, links
from pocketstack.compute.models import (
    BlockDeviceMapping,
    ComputeNode,
    Flavor,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    KeyPair,
    Service,
)
from pocketstack.compute.states import status_of

if TYPE_CHECKING:
    from pocketstack.compute.external_events import ServerExternalEvent
    from pocketstack.compute.hypervisors import HypervisorStatistics
    from pocketstack.compute.quotas import QuotaUsage


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


# ---------------------------------------------------------------------------- servers


def host_id(project_id: str, host: str | None) -> str:
    """Nova's opaque ``hostId``: sha224 hex of project id + host, "" without a host."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def addresses(network_info: list[dict[str, Any]] | None) -> dict[str, list[dict[str, Any]]]:
    """``{network name: [{"version", "addr", "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"}]}``
    from a server's ``network_info`` (API reference "Servers IPs"): per port its fixed IPs
    (type ``fixed``), then the floating IPs mapped to them (type ``floating``, each fixed
    IP's ``floating_ips``: ``[{"address", "type": "floating", "version"}]``, Nova's
    network model), all with the port's MAC."""
    result: dict[str, list[dict[str, Any]]] = {}
    for vif in network_info or []:
        label = (
            vif.get("network_name")
            or (vif.get("network") or {}).get("label")
            or vif.get("network_id")
            or "network"
        )
        entries = result.setdefault(label, [])
        mac = vif.get("mac_address")
        fixed_ips = vif.get("fixed_ips") or []
        floating = [fip for ip in fixed_ips for fip in ip.get("floating_ips") or []]
        for ip, kind in [(ip, "fixed") for ip in fixed_ips] + [(f, "floating") for f in floating]:
            addr = ip.get("ip_address") if kind == "fixed" else ip.get("address")
            entries.append(
                {
                    "version": ip.get("version") or (6 if ":" in str(addr) else 4),
                    "addr": addr,
                    "OS-EXT-IPS:type": kind,
                    "OS-EXT-IPS-MAC:mac_addr": mac,
                }
            )
    return result


def flavor_id_of(instance: Instance) -> str:
    """The API id of the flavor snapshot a server was booted with."""
    flavor = instance.flavor or {}
    return str(flavor.get("flavorid") or flavor.get("id") or "")


def _usage_time(value: Any) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat()


def security_group_names(instance: Instance) -> list[dict[str, Any]]:
    """``[{"name": ...}]`` of the server's security groups (stored as names)."""
    groups = []
    for group in instance.security_groups or []:
        groups.append({"name": group.get("name") if isinstance(group, dict) else str(group)})
    return groups


def fault_view(fault: InstanceFault, is_admin: bool) -> dict[str, Any]:
    """``{"code", "message", "created"}`` plus ``details`` for admins."""
    view: dict[str, Any] = {
        "code": fault.code,
        "message": fault.message,
        "created": isotime(fault.created_at),
    }
    if is_admin and fault.details:
        view["details"] = fault.details
    return view


def server_summary(req: ApiRequest, instance: Instance) -> dict[str, Any]:
    """The non-detail list entry: id, name, links."""
    return {
        "id": instance.uuid,
        "name": instance.name,
        "links": links(req, "servers", instance.uuid),
    }


def flavor_embedded(req: ApiRequest, instance: Instance) -> dict[str, Any]:
    """The server's ``flavor``: ``{"id", "links"}`` until 2.46; from 2.47 the flavor it was
    booted with, embedded: ``original_name``, ``ram``, ``vcpus``, ``disk``, ``ephemeral``,
    ``swap`` (0 when none) and ``extra_specs`` (API reference "Show Server Details")."""
    if _version(req) < (2, 47):
        flavor_id = flavor_id_of(instance)
        return {"id": flavor_id, "links": bookmark(req, "flavors", flavor_id)}
    flavor = instance.flavor or {}
    return {
        "original_name": flavor.get("name", ""),
        "ram": flavor.get("ram", instance.memory_mb),
        "vcpus": flavor.get("vcpus", instance.vcpus),
        "disk": flavor.get("disk", instance.root_gb),
        "ephemeral": flavor.get("ephemeral", instance.ephemeral_gb),
        "swap": flavor.get("swap") or 0,
        "extra_specs": dict(flavor.get("extra_specs") or {}),
    }


#: the statuses whose server view carries ``progress`` (Nova's view builder leaves it out of
#: the others, e.g. SHUTOFF, and tempest's ``test_update_server_name`` checks that)
PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def server_view(
    req: ApiRequest,
    instance: Instance,
    fault: InstanceFault | None = None,
    volumes: Sequence[BlockDeviceMapping] = (),
    tags: Sequence[str] = (),
    host_status: str | None = None,
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The full server view of ``instance`` at the request's microversion for the caller of
    ``req`` (API reference "Show Server Details"); ``fault`` (the server's latest) shows on
    ERROR and DELETED servers, its ``details`` to admins only, as do the
    ``OS-EXT-SRV-ATTR`` fields; ``volumes``: its attached volumes
    (``os-extended-volumes:volumes_attached``); ``tags`` (2.26); ``host_status`` (2.16,
    admins: ``UP``/``DOWN``/``MAINTENANCE``/``UNKNOWN``/``""``); ``groups``: the server
    groups it belongs to (2.71, shown on show/update/rebuild only: ``None`` elsewhere).

    What each microversion adds: 2.3 the extended ``OS-EXT-SRV-ATTR`` attributes (admins),
    2.9 ``locked``, 2.16 ``host_status``, 2.19 ``description``, 2.26 ``tags``, 2.47 the
    embedded flavor, 2.63 ``trusted_image_certificates``, 2.71 ``server_groups``, 2.73
    ``locked_reason``, 2.90 ``OS-EXT-SRV-ATTR:hostname`` for everyone, 2.96
    ``pinned_availability_zone``.
    """
    version = _version(req)
    status = status_of(instance.vm_state, instance.task_state)
    view: dict[str, Any] = {
        **server_summary(req, instance),
        "status": status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": dict(instance.metadata_ or {}),
        "hostId": host_id(instance.project_id, instance.host),
        "image": (
            {"id": instance.image_ref, "links": bookmark(req, "images", instance.image_ref)}
            if instance.image_ref
            else ""
        ),
        "flavor": flavor_embedded(req, instance),
        "created": isotime(instance.created_at),
        "updated": isotime(instance.updated_at or instance.created_at),
        "addresses": addresses(instance.network_info),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "key_name": instance.key_name,
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": instance.availability_zone or "",
        "config_drive": "True" if instance.config_drive else "",
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:power_state": instance.power_state,
        "OS-SRV-USG:launched_at": _usage_time(instance.launched_at),
        "OS-SRV-USG:terminated_at": _usage_time(instance.terminated_at),
        "security_groups": security_group_names(instance),
        "os-extended-volumes:volumes_attached": [volume_attached(req, b) for b in volumes],
    }
    if status in PROGRESS_STATUSES:  # Nova shows progress only while it means something
        view["progress"] = 100 if status == "ACTIVE" else 0
    if fault is not None and status in ("ERROR", "DELETED"):
        view["fault"] = fault_view(fault, req.ctx.is_admin)
    if req.ctx.is_admin:
        view["OS-EXT-SRV-ATTR:host"] = instance.host
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
        view["OS-EXT-SRV-ATTR:instance_name"] = "instance-" + instance.uuid.replace("-", "")[:8]
        if version >= (2, 3):
            view.update(
                {
                    "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
                    "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
                    "OS-EXT-SRV-ATTR:kernel_id": "",
                    "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:hostname": instance.hostname,
                    "OS-EXT-SRV-ATTR:root_device_name": _root_device_name(instance),
                    "OS-EXT-SRV-ATTR:user_data": instance.user_data,
                }
            )
    if version >= (2, 90):
        view["OS-EXT-SRV-ATTR:hostname"] = instance.hostname
    if version >= (2, 9):
        view["locked"] = bool(instance.locked)
    if version >= (2, 16) and host_status is not None:
        view["host_status"] = host_status
    if version >= (2, 19):
        view["description"] = instance.description
    if version >= (2, 26):
        view["tags"] = list(tags)
    if version >= (2, 63):
        view["trusted_image_certificates"] = None
    if version >= (2, 71) and groups is not None:
        view["server_groups"] = list(groups)
    if version >= (2, 73):
        view["locked_reason"] = getattr(instance, "locked_reason", None)
    if version >= (2, 96):
        view["pinned_availability_zone"] = instance.requested_availability_zone
    return view


def _root_device_name(instance: Instance) -> str | None:
    """The guest's root device (``/dev/vda``: virtio, as the drivers attach it) once the
    server has been given a host."""
    return "/dev/vda" if instance.host else None


def server_views(
    req: ApiRequest,
    instances: list[Instance],
    faults: Mapping[str, InstanceFault],
    volumes: Mapping[str, Sequence[BlockDeviceMapping]] | None = None,
    tags: Mapping[str, Sequence[str]] | None = None,
    host_status: Mapping[str, str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """Full views of a page of servers; ``faults``: the latest fault of each server that has
    one (``cloud.compute.servers.faults``); ``volumes``: the attached volumes of each
    (``cloud.compute.volumes.attached``); ``tags`` of each (``cloud.compute.tags``);
    ``host_status``: host → status (admins, 2.16: servers without a host show ``""``);
    ``groups``: server → its server groups (show/update only, 2.71)."""
    volumes = volumes or {}
    tags = tags or {}
    return [
        server_view(
            req,
            i,
            faults.get(i.uuid),
            volumes.get(i.uuid, ()),
            tags.get(i.uuid, ()),
            None
            if host_status is None
            else host_status.get(i.host or "", "UNKNOWN" if i.host else ""),
            None if groups is None else groups.get(i.uuid, ()),
        )
        for i in instances
    ]


def _version(req: ApiRequest) -> tuple[int, int]:
    return getattr(req, "api_version", (2, 1))


def volume_attached(req: ApiRequest, bdm: BlockDeviceMapping) -> dict[str, Any]:
    """One ``os-extended-volumes:volumes_attached`` entry: ``{"id"}`` (2.1), with
    ``delete_on_termination`` from 2.3."""
    view: dict[str, Any] = {"id": bdm.volume_id}
    if _version(req) >= (2, 3):
        view["delete_on_termination"] = bdm.delete_on_termination
    return view


def volume_attachment_view(req: ApiRequest, bdm: BlockDeviceMapping) -> dict[str, Any]:
    """A ``volumeAttachment`` (API reference "Servers with volume attachments"): ``id``
    (the volume's, until 2.89), ``volumeId``, ``serverId``, ``device``; ``tag`` (2.70),
    ``delete_on_termination`` (2.79), ``attachment_id``/``bdm_uuid`` (2.89). The
    connection_info (a CHAP secret) is never shown."""
    version = _version(req)
    view: dict[str, Any] = {
        "id": bdm.volume_id,
        "volumeId": bdm.volume_id,
        "serverId": bdm.instance_uuid,
        "device": bdm.device_name,
    }
    if version >= (2, 70):
        view["tag"] = bdm.tag
    if version >= (2, 79):
        view["delete_on_termination"] = bdm.delete_on_termination
    if version >= (2, 89):
        del view["id"]
        view["attachment_id"] = bdm.attachment_id
    return view


def created_server(req: ApiRequest, instance: Instance, admin_pass: str) -> dict[str, Any]:
    """The ``server`` of a ``POST /servers`` answer: id, links, diskConfig, security
    groups and the generated ``adminPass`` (API reference "Create Server")."""
    return {
        "id": instance.uuid,
        "links": links(req, "servers", instance.uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": security_group_names(instance),
        "adminPass": admin_pass,
    }


# ---------------------------------------------------------------------------- instance actions


def server_external_event(event: ServerExternalEvent) -> dict[str, Any]:
    """One answered event of ``POST /os-server-external-events``: ``name``,
    ``server_uuid``, ``status``, ``code`` and ``tag`` when one was given."""
    view: dict[str, Any] = {
        "name": event.name,
        "server_uuid": event.server_uuid,
        "status": event.status,
        "code": event.code,
    }
    if event.tag is not None:
        view["tag"] = event.tag
    return view


def action_view(req: ApiRequest, action: InstanceAction) -> dict[str, Any]:
    """One instance action (API reference "Servers actions"); ``updated_at`` from 2.58."""
    view: dict[str, Any] = {
        "action": action.action,
        "instance_uuid": action.instance_uuid,
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": _time(action.start_time),
        "message": action.message,
    }
    if _version(req) >= (2, 58):
        view["updated_at"] = _time(action.updated_at or action.start_time)
    return view


def event_view(
    req: ApiRequest, event: InstanceActionEvent, project_id: str | None
) -> dict[str, Any]:
    """One event: name, times, result; ``traceback`` for admins only; from 2.62 the
    ``hostId`` (hashed with ``project_id``, the server's project) and, for admins, the
    ``host`` it ran on; from 2.84 its ``details`` (what the step found: the scheduler's
    filters and winner, the ports and addresses, the hypervisor)."""
    version = _version(req)
    is_admin = req.ctx.is_admin
    view: dict[str, Any] = {
        "event": event.event,
        "start_time": _time(event.start_time),
        "finish_time": _time(event.finish_time),
        "result": event.result,
    }
    if is_admin:
        view["traceback"] = event.traceback
    if version >= (2, 62):
        view["hostId"] = host_id(project_id or "", event.host)
        if is_admin:
            view["host"] = event.host or ""
    if version >= (2, 84):
        view["details"] = event.details
    return view


def action_with_events(
    req: ApiRequest, action: InstanceAction, events: list[InstanceActionEvent]
) -> dict[str, Any]:
    """``GET /servers/{id}/os-instance-actions/{request_id}``'s ``instanceAction``."""
    return {
        **action_view(req, action),
        "events": [event_view(req, e, action.project_id) for e in events],
    }


# ---------------------------------------------------------------------------- flavors


def flavor_view(req: ApiRequest, flavor: Flavor, detail: bool = True) -> dict[str, Any]:
    """One flavor (API reference "Flavors"); without ``detail`` only id, name, links (and
    ``description`` from 2.55); from 2.61 ``extra_specs``, from 2.75 ``swap`` is 0 (not
    ``""``) for none."""
    version = _version(req)
    view: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": links(req, "flavors", flavor.flavorid),
    }
    if detail:
        view.update(
            {
                "ram": flavor.memory_mb,
                "vcpus": flavor.vcpus,
                "disk": flavor.root_gb,
                "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
                "OS-FLV-DISABLED:disabled": flavor.disabled,
                "swap": flavor.swap or (0 if version >= (2, 75) else ""),
                "rxtx_factor": flavor.rxtx_factor,
                "os-flavor-access:is_public": flavor.is_public,
            }
        )
    if version >= (2, 55):
        view["description"] = flavor.description
    if detail and version >= (2, 61):
        view["extra_specs"] = dict(flavor.extra_specs or {})
    return view


def flavor_access_view(flavor_id: str, projects: list[str]) -> dict[str, Any]:
    """``{"flavor_access": [{"flavor_id", "tenant_id"}]}`` (API reference "Flavors access")."""
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


# ---------------------------------------------------------------------------- keypairs


def keypair_view(req: ApiRequest, kp: KeyPair, full: bool = False) -> dict[str, Any]:
    """name, public_key, fingerprint, ``type`` from 2.2 (+ user_id and bookkeeping fields
    when ``full``: the show answer) (API reference "Keypairs")."""
    view: dict[str, Any] = {
        "name": kp.name,
        "public_key": kp.public_key,
        "fingerprint": kp.fingerprint,
    }
    if _version(req) >= (2, 2):
        view["type"] = kp.type or "ssh"
    if full:
        view.update(
            user_id=kp.user_id,
            id=kp.id,
            deleted=False,
            created_at=isotime(kp.created_at),
            updated_at=None,
            deleted_at=None,
        )
    return view


def created_keypair(req: ApiRequest, kp: KeyPair, private_key: str | None) -> dict[str, Any]:
    """The ``keypair`` of a create answer: the view, ``user_id``, and ``private_key`` when
    the key pair was generated (shown this once)."""
    view = keypair_view(req, kp)
    view["user_id"] = kp.user_id
    if private_key is not None:
        view["private_key"] = private_key
    return view


# ---------------------------------------------------------------------------- limits, quotas


#: quota resources a microversion removed (2.36: the network proxies; 2.57: personality)
REMOVED_QUOTAS: dict[tuple[int, int], tuple[str, ...]] = {
    (2, 36): ("fixed_ips", "floating_ips", "security_groups", "security_group_rules", "networks"),
    (2, 57): ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes"),
}
#: absolute limits a microversion removed
_REMOVED_LIMITS: dict[tuple[int, int], tuple[str, ...]] = {
    (2, 36): (
        "maxSecurityGroups",
        "maxSecurityGroupRules",
        "maxTotalFloatingIps",
        "totalSecurityGroupsUsed",
        "totalFloatingIpsUsed",
    ),
    (2, 39): ("maxImageMeta",),
    (2, 57): ("maxPersonality", "maxPersonalitySize"),
}


def removed_quotas(req: ApiRequest) -> set[str]:
    """The quota resources the request's microversion no longer has (``REMOVED_QUOTAS``)."""
    version = _version(req)
    return {name for v, names in REMOVED_QUOTAS.items() if version >= v for name in names}


def absolute_limits(req: ApiRequest, usage: QuotaUsage) -> dict[str, int]:
    """The ``limits.absolute`` dict of ``GET /limits`` (API reference "Limits"): 2.1's keys,
    without the network proxies' from 2.36, ``maxImageMeta`` from 2.39 and personality's
    from 2.57."""
    q, used = usage.limits, usage.in_use
    limits = {
        "maxTotalInstances": q["instances"],
        "maxTotalCores": q["cores"],
        "maxTotalRAMSize": q["ram"],
        "maxTotalKeypairs": q["key_pairs"],
        "maxServerMeta": q["metadata_items"],
        "maxImageMeta": 128,
        "maxPersonality": q["injected_files"],
        "maxPersonalitySize": q["injected_file_content_bytes"],
        "maxServerGroups": q["server_groups"],
        "maxServerGroupMembers": q["server_group_members"],
        "maxSecurityGroups": q["security_groups"],
        "maxSecurityGroupRules": q["security_group_rules"],
        "maxTotalFloatingIps": q["floating_ips"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": 0,
        "totalSecurityGroupsUsed": 0,
        "totalFloatingIpsUsed": 0,
    }
    version = _version(req)
    for since, names in _REMOVED_LIMITS.items():
        if version >= since:
            for name in names:
                limits.pop(name, None)
    return limits


def quota_set_view(
    req: ApiRequest,
    project_id: str,
    limits: Mapping[str, int],
    in_use: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``{"id", resource: limit}``, or with ``in_use`` (the detail answer)
    ``{"id", resource: {"limit", "in_use", "reserved"}}`` (API reference "Quota sets"),
    without the resources the request's microversion removed (``REMOVED_QUOTAS``)."""
    gone = removed_quotas(req)
    kept = {name: limit for name, limit in limits.items() if name not in gone}
    if in_use is None:
        return {"id": project_id, **kept}
    return {
        "id": project_id,
        **{
            name: {"limit": limit, "in_use": in_use.get(name, 0), "reserved": 0}
            for name, limit in kept.items()
        },
    }


# ---------------------------------------------------------------------------- services, hypervisors


def service_view(req: ApiRequest, svc: Service, up: bool) -> dict[str, Any]:
    """One compute service (API reference "Compute services"): ``forced_down`` from 2.11,
    the UUID as ``id`` from 2.53."""
    version = _version(req)
    view: dict[str, Any] = {
        "id": svc.uuid if version >= (2, 53) else svc.id,
        "binary": svc.binary,
        "host": svc.host,
        "zone": svc.availability_zone,
        "status": "disabled" if svc.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": _time(svc.last_seen_up or svc.updated_at),
        "disabled_reason": svc.disabled_reason,
    }
    if version >= (2, 11):
        view["forced_down"] = bool(svc.forced_down)
    return view


def service_status_view(svc: Service, reason: str | None) -> dict[str, Any]:
    """The ``service`` of a 2.1 enable/disable answer: host, binary, status (+ the reason
    given to ``disable-log-reason``)."""
    view = {
        "host": svc.host,
        "binary": svc.binary,
        "status": "disabled" if svc.disabled else "enabled",
    }
    if reason is not None:
        view["disabled_reason"] = reason
    return view


def _cpu_info(value: str | None) -> str:
    """2.1's ``cpu_info`` is a JSON object in a string; wrap a plain driver string."""
    if not value:
        return "{}"
    try:
        if isinstance(json.loads(value), dict):
            return value
    except ValueError:
        pass
    return json.dumps({"model": value})


def hypervisor_view(
    req: ApiRequest, node: ComputeNode, svc: Service | None, up: bool, detail: bool
) -> dict[str, Any]:
    """One hypervisor (API reference "Hypervisors"): id, hostname, state, status (+
    resources when ``detail``), at the request's microversion: ``cpu_info`` an object
    from 2.28 (a JSON string before); UUID ids (the hypervisor's and its service's) from
    2.53; from 2.88 the resource counters are gone (Placement has them) and ``uptime`` is
    part of the view (null: not reported here)."""
    version = _version(req)
    uuids = version >= (2, 53)
    view: dict[str, Any] = {
        "id": node.uuid if uuids else node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if up else "down",
        "status": "disabled" if svc is not None and svc.disabled else "enabled",
    }
    if detail:
        cpu_info: Any = _cpu_info(node.cpu_info)
        view.update(
            {
                "hypervisor_type": node.hypervisor_type,
                "hypervisor_version": node.hypervisor_version,
                "host_ip": node.host_ip,
                "cpu_info": json.loads(cpu_info) if version >= (2, 28) else cpu_info,
                "service": {
                    "host": node.host,
                    "id": (svc.uuid if uuids else svc.id) if svc else None,
                    "disabled_reason": svc.disabled_reason if svc else None,
                },
            }
        )
        if version >= (2, 88):
            view["uptime"] = None
            # pocketstack's, shared vs local instance storage (compute.instance_storage):
            # only where Nova's view was reshaped (2.88) and no published schema forbids
            # extra fields; the older views stay exactly Nova's
            view["instances_path"] = node.instances_path
            view["instances_shared_storage"] = bool(node.instances_shared_storage)
        else:
            view.update(
                {
                    "vcpus": node.vcpus,
                    "vcpus_used": node.vcpus_used,
                    "memory_mb": node.memory_mb,
                    "memory_mb_used": node.memory_mb_used,
                    "free_ram_mb": node.memory_mb - node.memory_mb_used,
                    "local_gb": node.local_gb,
                    "local_gb_used": node.local_gb_used,
                    "free_disk_gb": node.local_gb - node.local_gb_used,
                    "disk_available_least": node.local_gb - node.local_gb_used,
                    "running_vms": node.running_vms,
                    "current_workload": 0,
                }
            )
    return view


def hypervisor_statistics_view(stats: HypervisorStatistics) -> dict[str, int]:
    """``hypervisor_statistics``: the sums over all hypervisors, and the free amounts."""
    return {
        **dataclasses.asdict(stats),
        "current_workload": 0,
        "free_ram_mb": stats.memory_mb - stats.memory_mb_used,
        "free_disk_gb": stats.local_gb - stats.local_gb_used,
        "disk_available_least": stats.local_gb - stats.local_gb_used,
    }


def zones_view(
    zones: Mapping[str, list[tuple[Service, bool]]], detail: bool
) -> list[dict[str, Any]]:
    """``availabilityZoneInfo`` (API reference "Availability zones"): each zone, available
    when a service in it is up; with ``detail`` its hosts' services."""
    info = []
    for name, members in sorted(zones.items()):
        entry: dict[str, Any] = {
            "zoneName": name,
            "zoneState": {"available": any(up for _s, up in members)},
            "hosts": None,
        }
        if detail and members:
            entry["hosts"] = {
                svc.host: {
                    svc.binary: {
                        "available": up,
                        "active": not svc.disabled,
                        "updated_at": _time(svc.last_seen_up),
                    }
                }
                for svc, up in members
            }
        info.append(entry)
    return info
