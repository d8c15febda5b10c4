"""A server's interfaces (API reference "Port interfaces (servers, os-interface)").

``cloud.compute.interfaces`` (``Interfaces``): list, get, attach, detach. Attach runs in the
controller, as Nova's: the Network service makes a port on the network asked for (or binds
the user's port) on the server's host, after the server's other NICs; the server's agent
plugs a NIC for it into the guest (a call; QEMU hot-plugs a virtio-net device); on a failure
there the port is taken back. Detach unplugs the NIC, then the Network service deletes the
port Compute made (a user's port is unbound). After each, the server's ``network_info`` and
its spec (what a power cycle boots with) hold the new NICs.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import states
from pocketstack.compute.exceptions import InstanceInvalidState, InstanceNotReady
from pocketstack.compute.models import Instance
from pocketstack.compute.rpcapi import ComputeAgentClient
from pocketstack.compute.server_actions import check_lock
from pocketstack.network.ports import PortRecord

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: the vm_states an interface may be attached or detached in (Nova's, with no task)
_STATES = frozenset({states.ACTIVE, states.STOPPED, states.PAUSED})


class PortNotAttached(errors.NotFound):
    """404: the port is not one of the server's interfaces."""

    @classmethod
    def for_port(cls, port_id: str, server_id: str) -> PortNotAttached:
        """The error with Nova's message."""
        return cls(f"Port {port_id} is not attached to {server_id}")


class Interfaces:
    """``cloud.compute.interfaces``: list, get, attach, detach."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = ComputeAgentClient(cloud.bus)

    def _ports(self, server: Instance) -> builtins.list[PortRecord]:
        admin = RequestContext.system()
        info = self.cloud.network.get_instance_network_info(admin, server.uuid)
        return [self.cloud.network.ports.get(admin, vif["port_id"]) for vif in info]

    def list(self, ctx: RequestContext, server_id: str) -> builtins.list[PortRecord]:
        """The ports of a visible server, in NIC order. Raises ServerNotFound (404)."""
        return self._ports(self.cloud.compute.servers.get(ctx, server_id))

    def get(self, ctx: RequestContext, server_id: str, port_id: str) -> PortRecord:
        """One port of a visible server.

        Raises:
            ServerNotFound (404); PortNotAttached (404).
        """
        server = self.cloud.compute.servers.get(ctx, server_id)
        for port in self._ports(server):
            if port.port.id == port_id:
                return port
        raise PortNotAttached.for_port(port_id, server_id)

    def _server_for(self, ctx: RequestContext, server_id: str, action: str) -> Instance:
        """The server, when Nova would let ``action`` run now: active, stopped or paused
        with no task (as volume attach and detach)."""
        server = self.cloud.compute.servers.get(ctx, server_id)
        check_lock(ctx, server)  # Nova's check_instance_lock
        if server.vm_state not in _STATES:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {server.uuid} while it is in vm_state "
                f"{server.vm_state}"
            )
        if server.task_state is not None:
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {server.uuid} while it is in task_state "
                f"{server.task_state}"
            )
        if not server.host:
            raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
        return server

    def attach(
        self,
        ctx: RequestContext,
        server_id: str,
        *,
        port_id: str | None = None,
        network_id: str | None = None,
        fixed_ip: str | None = None,
        tag: str | None = None,
    ) -> PortRecord:
        """Give the server a new interface: the user's port ``port_id``, or a new port on
        ``network_id`` (with ``fixed_ip`` when given), or on the project's only network;
        ``tag``: its device tag (2.49), kept in the server's spec (``device_tags``).

        Raises:
            ServerNotFound (404); InstanceInvalidState (409: not active, stopped or
            paused, or busy); the Network service's errors (PortNotFound/NetworkNotFound
            404, PortInUse 409, IpAddressAlreadyAllocated 409, NetworkAmbiguous 409...);
            DriverError (500: the host could not plug it; the port is taken back).
        """
        server = self._server_for(ctx, server_id, "attach_interface")
        item: dict[str, Any] = {}
        if port_id:
            item["port"] = port_id
        elif network_id:
            item["uuid"] = network_id
            if fixed_ip:
                item["fixed_ip"] = fixed_ip
        before = {
            vif["port_id"]
            for vif in self.cloud.network.get_instance_network_info(
                RequestContext.system(), server.uuid
            )
        }
        info = self.cloud.network.allocate_for_instance(
            ctx,
            server.uuid,
            server.project_id,
            str(server.host),
            [item] if item else [],
            list(server.security_groups or ["default"]),
            first_index=len(before),
        )
        [vif] = [v for v in info if v["port_id"] not in before]
        try:
            self.agents.attach_interface(ctx, str(server.host), server.uuid, vif)
        except Exception:
            self.cloud.network.deallocate_port_for_instance(ctx, server.uuid, vif["port_id"])
            raise
        self._store(server.uuid, {vif["port_id"]: tag} if tag else None)
        return self.cloud.network.ports.get(RequestContext.system(), vif["port_id"])

    def detach(self, ctx: RequestContext, server_id: str, port_id: str) -> None:
        """Take the interface of ``port_id`` from the server: the guest loses the NIC, the
        port is deleted (made by Compute) or unbound (the user's).

        Raises:
            ServerNotFound (404); PortNotAttached (404); InstanceInvalidState (409);
            DriverError (500: the guest kept the NIC; the port stays).
        """
        server = self._server_for(ctx, server_id, "detach_interface")
        info = self.cloud.network.get_instance_network_info(RequestContext.system(), server.uuid)
        if port_id not in {vif["port_id"] for vif in info}:
            raise PortNotAttached.for_port(port_id, server_id)
        self.agents.detach_interface(ctx, str(server.host), server.uuid, port_id)
        self.cloud.network.deallocate_port_for_instance(ctx, server.uuid, port_id)
        self._store(server.uuid)

    def tags(self, server_uuid: str) -> dict[str, str]:
        """port id -> device tag of the server's tagged NICs (at create or attach)."""
        with self.cloud.db.reader() as s:
            row = s.get(Instance, server_uuid)
            spec = dict(row.spec or {}) if row is not None else {}
        found = {v["port_id"]: v["tag"] for v in spec.get("network_info") or [] if v.get("tag")}
        return {**found, **(spec.get("device_tags") or {})}

    def _store(self, server_uuid: str, new_tags: dict[str, str] | None = None) -> None:
        """The server's ``network_info`` and its spec's, read again from the network; the
        spec's VIFs keep their device tags (``device_tags``: port id -> tag)."""
        old_tags = self.tags(server_uuid)
        info = self.cloud.compute.server_external_events.refresh_network_info(server_uuid)
        with self.cloud.db.transaction() as s:
            row = s.get(Instance, server_uuid)
            if row is not None and row.spec is not None:
                tags = {**old_tags, **(new_tags or {})}
                tagged = [
                    {**v, "tag": tags[v["port_id"]]} if v["port_id"] in tags else v for v in info
                ]
                row.spec = {**row.spec, "network_info": tagged, "device_tags": tags}
