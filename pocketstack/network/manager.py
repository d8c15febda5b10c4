"""The Network service's manager (``cloud.network``): one object per resource family plus
the functions other services call.

- ``networks`` (``networks.Networks``), ``subnets`` (``subnets.Subnets``),
  ``routers`` (``routers.Routers``), ``floating_ips`` (``floatingips.FloatingIPs``),
  ``ports`` (``ports.Ports``), ``security_groups`` and ``security_group_rules``
  (``secgroups.SecurityGroups``, ``secgroups.SecurityGroupRules``): what the Networking
  API calls, ``list``/``get``/``create``/``update``/``delete`` each, taking typed records
  and returning models or records (``network/api`` parses and renders).
- ``validate_networks``, ``allocate_for_instance``, ``deallocate_for_instance``,
  ``get_instance_network_info``, ``security_group_ids``: what Compute calls (see
  ``instances``). They keep the names of Nova's Neutron API (``nova.network.neutron``),
  the interface Compute is written against.
- ``bootstrap``: the ``public`` and ``private`` networks of a new cloud.
- ``notify_dataplane``: the ``sync`` fanout to the network agents, called by the families
  after every committed change the data plane sees (the agents then pull their host's
  state from ``agent_reports.NetworkAgentReports``, served by the controller).
- ``notify_compute``: Compute's ``os-server-external-events`` (``network-changed``...)
  for servers whose ports changed (floating IPs, fixed IPs, deletion), after the commit,
  as Neutron's Nova notifier (``compute_notifier``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.network import instances, quotas, segments, tags
from pocketstack.network import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.network.address_scopes import AddressScopes
from pocketstack.network.agents import Agents
from pocketstack.network.compute_notifier import ServerPortEvent
from pocketstack.network.floatingips import FloatingIPs
from pocketstack.network.models import Network, Subnet
from pocketstack.network.networks import NetworkCreate, Networks
from pocketstack.network.ports import Ports, has_agents
from pocketstack.network.rbac import RbacPolicies
from pocketstack.network.routers import Routers
from pocketstack.network.rpcapi import NetworkAgentClient
from pocketstack.network.secgroups import SecurityGroupRules, SecurityGroups
from pocketstack.network.segments import Segments
from pocketstack.network.subnetpools import SubnetPools
from pocketstack.network.subnets import SubnetCreate, Subnets

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)


class NetworkManager:
    """Entry point of the Network service for the API layer and other services."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.networks = Networks(cloud)
        self.agents = Agents(cloud)
        self.segments = Segments(cloud)
        self.quotas = quotas.Quotas(cloud)
        self.tags = tags.Tags(cloud)
        self.subnets = Subnets(cloud)
        self.ports = Ports(cloud)
        self.security_groups = SecurityGroups(cloud)
        self.security_group_rules = SecurityGroupRules(cloud, self.security_groups)
        self.routers = Routers(cloud)
        self.floating_ips = FloatingIPs(cloud, self.routers)
        self.rbac_policies = RbacPolicies(cloud)
        self.subnetpools = SubnetPools(cloud)
        self.address_scopes = AddressScopes(cloud)

    def validate_networks(
        self, ctx: RequestContext, requested: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Check the networks a server asks for, before anything is created.

        Args:
            requested: items ``{"uuid": net_id, "fixed_ip": optional str}`` or
                ``{"port": port_id}``; empty means "the project's only network".

        Returns:
            The normalised list (``[{"uuid": ...}]`` for an empty request).

        Raises:
            NetworkNotFound / PortNotFound (404), PortInUse (409: the port has a device),
            InvalidIpForSubnet (400), IpAddressAlreadyAllocated (409), NoNetworksAvailable
            (400), NetworkAmbiguous (409: several usable networks and none asked for).
        """
        with self.cloud.db.reader() as s:
            return instances.validate(s, ctx, requested)

    def allocate_for_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        project_id: str,
        host: str,
        requested: list[dict[str, Any]],
        security_groups: list[str],
        first_index: int = 0,
    ) -> list[dict[str, Any]]:
        """Give a server its ports: one new port per ``{"uuid"}`` item, the user's
        ``{"port"}`` items bound; all with device_id ``instance_uuid``, device_owner
        ``compute:nova``, ``binding:host_id`` ``host``, status ACTIVE (with a driver that
        has agents: DOWN until ``host``'s network agent wires them); then the agents are
        told to sync (``notify_dataplane``).

        All or nothing: on any error nothing is left and the error is raised (those of
        ``validate_networks``, SecurityGroupNotFound, IpAddressGenerationFailure...).
        ``first_index``: the NIC order of the first new port (an interface attached to a
        running server goes after its others).

        Returns:
            The server's ``network_info`` (see ``instances``).
        """
        vif = instances.vif_type(self.cloud.conf)
        agents = has_agents(self.cloud.conf)
        with self.cloud.db.transaction() as s:
            instances.allocate(
                s,
                ctx,
                instance_uuid,
                project_id,
                host,
                requested,
                security_groups,
                vif,
                agents,
                first_index=first_index,
            )
            info = instances.network_info(s, instance_uuid)
        self.notify_dataplane()
        return info

    def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the ports made for a server and unbind the user's; idempotent. The
        agents are told to sync (``notify_dataplane``)."""
        with self.cloud.db.transaction() as s:
            instances.deallocate(s, instance_uuid)
        self.notify_dataplane()

    def deallocate_port_for_instance(
        self, ctx: RequestContext, instance_uuid: str, port_id: str
    ) -> bool:
        """Take one port from a server (an interface detached): deleted when Compute made
        it, unbound otherwise; the agents are told to sync. False when the port is not the
        server's."""
        with self.cloud.db.transaction() as s:
            done = instances.deallocate_port(s, instance_uuid, port_id)
        self.notify_dataplane()
        return done

    def notify_dataplane(self) -> None:
        """Tell every network agent to pull its host's state now (a ``sync`` fanout
        without payload; docs/network-dataplane.md, "Shape"), after a change that touches
        the data plane has committed: ports, bindings, security groups and rules,
        subnets, networks, routers. Nothing with a driver without agents (``noop``). A
        bus failure is logged, never raised: the agents' periodic sync catches up."""
        if not has_agents(self.cloud.conf):
            return
        try:
            NetworkAgentClient(self.cloud.bus).sync(RequestContext.system())
        except Exception:  # a notification: the change is committed; agents resync anyway
            LOG.warning("sync fanout to the network agents failed", exc_info=True)

    def notify_compute(self, events: list[ServerPortEvent]) -> None:
        """Tell Compute that servers' ports changed (``cloud.compute.
        server_external_events.create``: Compute refreshes those servers' cached
        ``network_info``), after the change committed. Like Neutron's Nova notifier, a
        failure is logged, never raised: the change stands and the next event (or a
        rebuild of the cache) catches up. A server Compute does not know (deleted, not
        built yet) is only a debug line."""
        if not events:
            return
        from pocketstack.compute.exceptions import ServerNotFound
        from pocketstack.compute.external_events import ServerExternalEvent

        batch = [ServerExternalEvent(e.name, e.server_uuid, tag=e.port_id) for e in events]
        try:
            answered = self.cloud.compute.server_external_events.create(
                RequestContext.system(), batch
            )
        except ServerNotFound:
            LOG.debug("no server took the events %s", batch)
            return
        except Exception:  # a notification: the network change is committed
            LOG.warning("sending events %s to compute failed", batch, exc_info=True)
            return
        for event in answered:
            if event.code != 200:
                LOG.debug("compute answered %s to %s", event.code, event)

    def get_instance_network_info(
        self, ctx: RequestContext, instance_uuid: str
    ) -> list[dict[str, Any]]:
        """The current ``network_info`` of a server (``[]`` when it has no ports)."""
        with self.cloud.db.reader() as s:
            return instances.network_info(s, instance_uuid)

    def security_group_ids(
        self, ctx: RequestContext, project_id: str, names: list[str]
    ) -> list[str]:
        """Ids of the project's groups given by name or id (``default`` made if needed).

        Raises:
            SecurityGroupNotFound (404), DuplicateSecurityGroupName (409: ambiguous name).
        """
        with self.cloud.db.transaction() as s:
            return instances.group_ids(s, project_id, names)

    def bootstrap(self, admin_project_id: str, demo_project_id: str) -> dict[str, str]:
        """Create the ``public`` (external, admin's) and ``private`` (demo's) networks with
        their subnets, and both projects' default groups; idempotent.

        Returns:
            ``{"public_network_id", "private_network_id"}``.
        """
        ctx = RequestContext.system()
        public = self._ensure_network(
            ctx,
            admin_project_id,
            "public",
            True,
            SubnetCreate(
                network_id="",
                name="public-subnet",
                cidr="172.24.4.0/24",
                gateway_ip="172.24.4.1",
                enable_dhcp=False,
            ),
        )
        private = self._ensure_network(
            ctx,
            demo_project_id,
            "private",
            False,
            SubnetCreate(
                network_id="",
                name="private-subnet",
                cidr="10.0.0.0/24",
                gateway_ip="10.0.0.1",
                enable_dhcp=True,
            ),
        )
        for project_id in (admin_project_id, demo_project_id):
            self.security_groups.ensure_default(project_id)
        return {"public_network_id": public, "private_network_id": private}

    def _ensure_network(
        self,
        ctx: RequestContext,
        project_id: str,
        name: str,
        external: bool,
        subnet: SubnetCreate,
    ) -> str:
        """The id of ``project_id``'s network ``name`` with ``subnet`` (its ``network_id``
        filled in), made if missing; an ``external`` one is flat on the physical network
        ``public`` (converted if an older version made it vxlan)."""
        with self.cloud.db.reader() as s:
            network_id = s.scalar(
                sa.select(Network.id).where(Network.project_id == project_id, Network.name == name)
            )
            has_subnet = (
                network_id is not None
                and s.scalar(
                    sa.select(Subnet.id).where(
                        Subnet.network_id == network_id, Subnet.name == subnet.name
                    )
                )
                is not None
            )
        if network_id is None:
            spec = NetworkCreate(
                name=name,
                project_id=project_id,
                external=external or None,
                # the external network is flat on the physical network "public"
                network_type="flat" if external else None,
                physical_network="public" if external else None,
            )
            network_id = self.networks.create(ctx, spec).network.id
        elif external:  # made as vxlan before flat networks existed
            with self.cloud.db.transaction() as s:
                segments.make_flat(s, network_id, "public")
        if not has_subnet:
            self.subnets.create(
                ctx, dataclasses.replace(subnet, network_id=network_id, project_id=project_id)
            )
        return network_id
