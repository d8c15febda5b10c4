"""A server's security groups (API reference "Servers Security Groups (servers,
os-security-groups)" and the ``addSecurityGroup``/``removeSecurityGroup`` actions).

``cloud.compute.server_security_groups`` (``ServerSecurityGroups``) works, as Nova with
Neutron does, on the server's ports through the Network service: the groups of a server are
the union of its ports' groups; adding a group adds it to every port, removing takes it
from every port that has it. The server row keeps the groups' names (what the server view
shows under ``security_groups``), refreshed after each change.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute.models import Instance
from pocketstack.network.ports import PortRecord, PortUpdate
from pocketstack.network.secgroups import SecurityGroupRecord

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class SecurityGroupNotOnServer(errors.BadRequest):
    """400: removing a group the server's ports do not have (Nova's
    ``SecurityGroupNotExistsForInstance``)."""


class ServerSecurityGroups:
    """``cloud.compute.server_security_groups``: list, add, remove."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def _ports(self, ctx: RequestContext, server: Instance) -> builtins.list[PortRecord]:
        admin = ctx.elevated()
        info = self.cloud.network.get_instance_network_info(admin, server.uuid)
        return [self.cloud.network.ports.get(admin, p["port_id"]) for p in info]

    def list(self, ctx: RequestContext, server_id: str) -> builtins.list[SecurityGroupRecord]:
        """The groups of a visible server's ports, in the order first met (``[]`` without
        ports).

        Raises:
            ServerNotFound (404).
        """
        server = self.cloud.compute.servers.get(ctx, server_id)
        ids: dict[str, None] = {}
        for port in self._ports(ctx, server):
            ids.update(dict.fromkeys(port.security_group_ids))
        admin = ctx.elevated()
        return [self.cloud.network.security_groups.get(admin, g) for g in ids]

    def _resolve(self, ctx: RequestContext, server: Instance, name: str) -> str:
        return self.cloud.network.security_group_ids(ctx, server.project_id, [name])[0]

    def add(self, ctx: RequestContext, server_id: str, name: str) -> None:
        """Add the server's project's group ``name`` (a name or an id) to each of the
        server's ports (``addSecurityGroup``); a port that has it already keeps it.

        Raises:
            ServerNotFound (404); SecurityGroupNotFound (404); DuplicateSecurityGroupName
            (409); errors.NotFound (404: the server has no ports, as Nova); errors.BadRequest
            (400: a port without port security).
        """
        server = self.cloud.compute.servers.get(ctx, server_id)
        group_id = self._resolve(ctx, server, name)
        ports = self._ports(ctx, server)
        if not ports:
            raise errors.NotFound(
                f"instance_id {server.uuid} could not be found as device id on any ports"
            )
        if any(not p.port.port_security_enabled for p in ports):
            raise errors.BadRequest(
                "Network requires port_security_enabled and subnet associated in order to "
                "apply security groups."
            )
        admin = ctx.elevated()
        for port in ports:
            if group_id not in port.security_group_ids:
                groups = [*port.security_group_ids, group_id]
                self.cloud.network.ports.update(
                    admin, port.port.id, PortUpdate(security_groups=groups)
                )
        self._refresh_names(ctx, server)

    def remove(self, ctx: RequestContext, server_id: str, name: str) -> None:
        """Take the group ``name`` (a name or an id) from every port of the server that
        has it (``removeSecurityGroup``).

        Raises:
            ServerNotFound (404); SecurityGroupNotFound (404); SecurityGroupNotOnServer
            (400: no port of the server has it).
        """
        server = self.cloud.compute.servers.get(ctx, server_id)
        group_id = self._resolve(ctx, server, name)
        admin = ctx.elevated()
        found = False
        for port in self._ports(ctx, server):
            if group_id in port.security_group_ids:
                found = True
                groups = [g for g in port.security_group_ids if g != group_id]
                self.cloud.network.ports.update(
                    admin, port.port.id, PortUpdate(security_groups=groups)
                )
        if not found:
            raise SecurityGroupNotOnServer(
                f"Security group {name} not associated with the instance {server.uuid}"
            )
        self._refresh_names(ctx, server)

    def _refresh_names(self, ctx: RequestContext, server: Instance) -> None:
        """Keep the names of the server's groups on its row (the server view's)."""
        names = [g.group.name for g in self.list(ctx, server.uuid)]
        with self.cloud.db.transaction() as s:
            s.execute(
                sa.update(Instance)
                .where(Instance.uuid == server.uuid)
                .values(security_groups=names)
            )

    def names(
        self, ctx: RequestContext, project_id: str, groups: builtins.list[str]
    ) -> builtins.list[str]:
        """The names of the project's groups given by name or id (a server's create asks
        for ``--security-group <uuid>``; Nova shows the group's name), in request order.

        Raises:
            SecurityGroupNotFound (404), DuplicateSecurityGroupName (409).
        """
        admin = ctx.elevated()
        ids = self.cloud.network.security_group_ids(ctx, project_id, groups)
        return list(
            dict.fromkeys(self.cloud.network.security_groups.get(admin, g).group.name for g in ids)
        )
