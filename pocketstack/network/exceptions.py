"""Network errors, named like Neutron's exceptions (the ``type`` of a ``NeutronError`` body)."""

from __future__ import annotations

from pocketstack.common import errors


class NetworkNotFound(errors.NotFound):
    """404: no network with that id visible to the caller."""

    def __init__(self, network_id: str):
        super().__init__(f"Network {network_id} could not be found.")


class SubnetNotFound(errors.NotFound):
    """404: no subnet with that id visible to the caller."""

    def __init__(self, subnet_id: str):
        super().__init__(f"Subnet {subnet_id} could not be found.")


class PortNotFound(errors.NotFound):
    """404: no port with that id visible to the caller."""

    def __init__(self, port_id: str):
        super().__init__(f"Port {port_id} could not be found.")


class SecurityGroupNotFound(errors.NotFound):
    """404: no security group with that id (or name) visible to the caller."""

    def __init__(self, group_id: str):
        super().__init__(f"Security group {group_id} does not exist")


class SecurityGroupRuleNotFound(errors.NotFound):
    """404: no security group rule with that id visible to the caller."""

    def __init__(self, rule_id: str):
        super().__init__(f"Security group rule {rule_id} does not exist")


class SegmentNotFound(errors.NotFound):
    """404: no segment with that id (segments are an admin's only)."""

    def __init__(self, segment_id: str):
        super().__init__(f"Segment {segment_id} could not be found.")


class SegmentInUse(errors.Conflict):
    """409: a network's only segment cannot be deleted while the network exists."""

    def __init__(self, segment_id: str, network_id: str):
        super().__init__(
            f"Segment '{segment_id}' cannot be deleted: it is the only segment of "
            f"network {network_id}."
        )


class SegmentsUnsupported(errors.BadRequest):
    """400: segments are not created or changed on their own here (one per network)."""

    def __init__(self, reason: str):
        super().__init__(f"Multi-segment networks are not supported: {reason}.")


class ExtensionNotFound(errors.NotFound):
    """404: an extension alias this cloud does not implement."""

    def __init__(self, alias: str):
        super().__init__(f"Extension with alias {alias} does not exist")


class InvalidInput(errors.BadRequest):
    """400: a malformed or invalid attribute (Neutron's generic input error)."""

    def __init__(self, message: str):
        super().__init__(f"Invalid input for operation: {message}")


class InvalidAllocationPool(errors.BadRequest):
    """400: an allocation pool outside the cidr, inverted or overlapping another."""


class InvalidIpForSubnet(errors.BadRequest):
    """400: a requested address outside the subnet or reserved (network, broadcast, gateway)."""

    def __init__(self, ip_address: str):
        super().__init__(f"IP address {ip_address} is not a valid IP for the specified subnet.")


class AllocationOnAutoAddressSubnet(errors.BadRequest):
    """400: a port asked for a given address on a SLAAC or DHCPv6-stateless subnet, where
    its address is its EUI-64 one (Neutron's ``ipam.exceptions.AllocationOnAutoAddressSubnet``)."""

    def __init__(self, ip_address: str, subnet_id: str):
        super().__init__(
            f"IPv6 address {ip_address} cannot be directly assigned to a port on subnet "
            f"{subnet_id} as the subnet is configured for automatic addresses"
        )


class InvalidIpForNetwork(errors.BadRequest):
    """400: a requested address in none of the network's subnets."""

    def __init__(self, ip_address: str):
        super().__init__(
            f"IP address {ip_address} is not a valid IP for any of the subnets "
            "on the specified network."
        )


class SecurityGroupInvalidPortRange(errors.BadRequest):
    """400: port_range_min > port_range_max, or ports out of range."""


class SecurityGroupInvalidPortValue(errors.BadRequest):
    """400: a TCP/UDP port outside 1-65535 ("Invalid value for port N", Neutron's words)."""

    def __init__(self, port: int):
        super().__init__(f"Invalid value for port {port}")


class SecurityGroupRuleInvalidProtocol(errors.BadRequest):
    """400: an unknown protocol name or number."""


class SecurityGroupRuleParameterConflict(errors.BadRequest):
    """400: rule fields that contradict each other (ethertype vs prefix, prefix and group)."""


class IpAddressAlreadyAllocated(errors.Conflict):
    """409: the requested address is in use on that subnet."""

    def __init__(self, ip_address: str, subnet_id: str):
        super().__init__(f"IP address {ip_address} already allocated in subnet {subnet_id}")


class IpAddressGenerationFailure(errors.Conflict):
    """409: no free address is left in the network's (or subnet's) pools."""

    def __init__(self, network_id: str):
        super().__init__(f"No more IP addresses available on network {network_id}.")


class MacAddressInUse(errors.Conflict):
    """409: the requested MAC address is in use on that network."""

    def __init__(self, mac: str, network_id: str):
        super().__init__(
            f"Unable to complete operation for network {network_id}. "
            f"The mac address {mac} is in use."
        )


class NetworkInUse(errors.InUse):
    """409: the network has ports that belong to servers (or other owners)."""

    def __init__(self, network_id: str):
        super().__init__(
            f"Unable to complete operation on network {network_id}. "
            "There are one or more ports still in use on the network."
        )


class SubnetInUse(errors.InUse):
    """409: addresses of the subnet are allocated to ports."""

    def __init__(self, subnet_id: str):
        super().__init__(
            f"Unable to complete operation on subnet {subnet_id}: "
            "One or more ports have an IP allocation from this subnet."
        )


class PortInUse(errors.InUse):
    """409: the port is already attached to a device."""

    def __init__(self, port_id: str, device_id: str):
        super().__init__(
            f"Unable to complete operation on port {port_id}. "
            f"The port is already in use by device {device_id}."
        )


class SecurityGroupInUse(errors.InUse):
    """409: ports still use the group."""

    def __init__(self, group_id: str):
        super().__init__(f"Security Group {group_id} in use.")


class SecurityGroupCannotRemoveDefault(errors.Conflict):
    """409: the default group of a project cannot be deleted."""

    def __init__(self) -> None:
        super().__init__("Insufficient rights for removing default security group.")


class SecurityGroupRuleExists(errors.Conflict):
    """409: an identical rule exists in the group."""

    def __init__(self, rule_id: str):
        super().__init__(f"Security group rule already exists. Rule id is {rule_id}.")


class SecurityGroupDefaultAlreadyExists(errors.Conflict):
    """409: a group created with the name ``default`` (each project has one already)."""

    def __init__(self) -> None:
        super().__init__("Default security group already exists.")


class DuplicateSecurityGroupName(errors.Conflict):
    """409: a name given as a group reference matches several groups."""


class NoNetworksAvailable(errors.BadRequest):
    """400: a server asked for no network and the project can use none (Nova's wording)."""

    def __init__(self) -> None:
        super().__init__("No networks available for this project.")


class NetworkAmbiguous(errors.Conflict):
    """409: a server asked for no network and the project can use several."""

    def __init__(self) -> None:
        super().__init__("Multiple possible networks found, use a Network ID to be more specific.")


class NotAuthorized(errors.Forbidden):
    """403: a visible resource the caller may not change (e.g. another's shared network)."""


class TunnelIdInUse(errors.Conflict):
    """409: the requested VXLAN VNI (provider:segmentation_id) belongs to another network."""

    def __init__(self, vni: int):
        super().__init__(f"Unable to create the network. The tunnel ID {vni} is in use.")


# -- agents, quotas and tags ----------------------------------------------------------------
class AgentNotFound(errors.NotFound):
    """404: no agent with that id (agents are an admin's only)."""

    def __init__(self, agent_id: str):
        super().__init__(f"Agent {agent_id} could not be found.")


class OverQuota(errors.Conflict):
    """409: creating would take the project past its quota of ``resources`` (Neutron's
    ``OverQuota``, "Quota exceeded for resources: ['network'].")."""

    def __init__(self, resources: list[str]):
        super().__init__(f"Quota exceeded for resources: {sorted(resources)}.")


class QuotaResourceUnknown(errors.NotFound):
    """404: a quota key this cloud does not count (Neutron's ``QuotaResourceUnknown``)."""

    def __init__(self, resources: list[str]):
        super().__init__(f"Unknown quota resources {sorted(resources)}.")


class InvalidQuotaValue(errors.Conflict):
    """409: a limit below what the project already uses, asked with ``check_limit``
    (Neutron's ``InvalidQuotaValue``)."""

    def __init__(self, resources: list[str]):
        message = "Change would make usage less than 0 for the following resources"
        super().__init__(f"{message}: {sorted(resources)}.")


class FlatNetworkInUse(errors.Conflict):
    """409: the physical network already carries a flat network."""

    def __init__(self, physical_network: str):
        super().__init__(
            f"Unable to create the flat network. Physical network {physical_network} is in use."
        )


class NoNetworkAvailable(errors.ServiceUnavailable):
    """503: every VNI of ``[network] vni_ranges`` is taken."""

    def __init__(self) -> None:
        super().__init__(
            "Unable to create the network. No tenant network is available for allocation."
        )


class TagNotFound(errors.NotFound):
    """404: the resource has no such tag (Neutron's tag extension ``TagNotFound``)."""

    def __init__(self, resource: str, resource_id: str, tag: str):
        super().__init__(f"Tag {tag} could not be found for {resource} {resource_id}.")


# -- routers and floating IPs (Neutron's l3 exceptions) ------------------------------------
class BadRequest(errors.BadRequest):
    """400: Neutron's generic ``BadRequest`` ("Bad <resource> request: <why>.")."""

    def __init__(self, resource: str, message: str):
        super().__init__(f"Bad {resource} request: {message}")


class RouterNotFound(errors.NotFound):
    """404: no router with that id visible to the caller."""

    def __init__(self, router_id: str):
        super().__init__(f"Router {router_id} could not be found")


class RouterInUse(errors.InUse):
    """409: the router still has interfaces (delete them first)."""

    def __init__(self, router_id: str):
        super().__init__(f"Router {router_id} still has ports")


class RouterInterfaceNotFound(errors.NotFound):
    """404: remove_router_interface names a port that is not an interface of the router."""

    def __init__(self, router_id: str, port_id: str):
        super().__init__(f"Router {router_id} does not have an interface with id {port_id}")


class RouterInterfaceNotFoundForSubnet(errors.NotFound):
    """404: remove_router_interface names a subnet the router has no interface on."""

    def __init__(self, router_id: str, subnet_id: str):
        super().__init__(f"Router {router_id} has no interface on subnet {subnet_id}")


class RouterInterfaceInUseByFloatingIP(errors.InUse):
    """409: floating IPs reach their fixed IPs through this interface."""

    def __init__(self, router_id: str, subnet_id: str):
        super().__init__(
            f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
            "deleted, as it is required by one or more floating IPs."
        )


class RouterInterfaceInUseByRoute(errors.InUse):
    """409: an extra route of the router has its next hop on this interface's subnet."""

    def __init__(self, router_id: str, subnet_id: str):
        super().__init__(
            f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
            "deleted, as it is required by one or more routes."
        )


class RouterExternalGatewayInUseByFloatingIp(errors.InUse):
    """409: the gateway cannot be removed or moved while floating IPs use it."""

    def __init__(self, router_id: str, net_id: str):
        super().__init__(
            f"Gateway cannot be updated for router {router_id}, since a gateway to external "
            f"network {net_id} is required by one or more floating IPs."
        )


class InvalidRoutes(errors.BadRequest):
    """400: an extra route that is malformed or whose next hop the router cannot reach."""

    def __init__(self, routes: object, reason: str):
        super().__init__(f"Invalid format for routes: {routes}, {reason}")


class RoutesExhausted(errors.BadRequest):
    """400: more extra routes than ``max_routes`` (30, Neutron's default)."""

    def __init__(self, router_id: str, quota: int):
        super().__init__(
            f"Unable to complete operation for {router_id}. "
            f"The number of routes exceeds the maximum {quota}."
        )


class ServicePortInUse(errors.InUse):
    """409: a router's or floating IP's port deleted through ``/ports``."""

    def __init__(self, port_id: str, reason: str):
        super().__init__(f"Port {port_id} cannot be deleted directly via the port API: {reason}")


class FloatingIPNotFound(errors.NotFound):
    """404: no floating IP with that id visible to the caller."""

    def __init__(self, floatingip_id: str):
        super().__init__(f"Floating IP {floatingip_id} could not be found")


class ExternalGatewayForFloatingIPNotFound(errors.NotFound):
    """404: no router with a gateway on the floating IP's network has an interface on the
    fixed port's subnet."""

    def __init__(self, external_network_id: str, subnet_id: str, port_id: str):
        super().__init__(
            f"External network {external_network_id} is not reachable from subnet "
            f"{subnet_id}.  Therefore, cannot associate Port {port_id} with a Floating IP."
        )


class FloatingIPPortAlreadyAssociated(errors.InUse):
    """409: that fixed IP of that port already has a floating IP on the same network."""

    def __init__(self, fip_address: str, fip_id: str, port_id: str, fixed_ip: str, net_id: str):
        super().__init__(
            f"Cannot associate floating IP {fip_address} ({fip_id}) with port {port_id} using "
            f"fixed IP {fixed_ip}, as that fixed IP already has a floating IP on external "
            f"network {net_id}."
        )


class SubnetMismatchForPort(errors.BadRequest):
    """400: remove_router_interface names a port and a subnet the port has no address on."""

    def __init__(self, port_id: str, subnet_id: str):
        super().__init__(
            f"Subnet on port {port_id} does not match the requested subnet {subnet_id}"
        )


class RbacPolicyNotFound(errors.NotFound):
    """404: no RBAC policy with that id visible to the caller."""

    def __init__(self, policy_id: str):
        super().__init__(f"RBAC policy of type network with ID {policy_id} not found")


class DuplicateRbacPolicy(errors.Conflict):
    """409: an RBAC policy with the same object, action and target exists."""

    def __init__(self) -> None:
        super().__init__("An RBAC policy already exists with those values.")


class RbacPolicyInUse(errors.InUse):
    """409: the target project still uses the network the policy shares (its ports)."""

    def __init__(self, object_id: str, details: str):
        super().__init__(
            f"RBAC policy on object {object_id} cannot be removed because other objects "
            f"depend on it.\nDetails: {details}"
        )


class InvalidSharedSetting(errors.Conflict):
    """409: a network stops being shared while other projects have ports on it."""

    def __init__(self, network_id: str):
        super().__init__(
            f"Unable to reconfigure sharing settings for network {network_id}. "
            "Multiple tenants are using it."
        )


class SubnetPoolNotFound(errors.NotFound):
    """404: no subnet pool with that id visible to the caller."""

    def __init__(self, pool_id: str):
        super().__init__(f"Subnet pool {pool_id} could not be found.")


class AddressScopeNotFound(errors.NotFound):
    """404: no address scope with that id visible to the caller."""

    def __init__(self, scope_id: str):
        super().__init__(f"Address scope {scope_id} could not be found.")


class SubnetPoolInUse(errors.InUse):
    """409: subnets were allocated from the pool."""

    def __init__(self, pool_id: str, reason: str):
        super().__init__(f"Unable to complete operation on subnet pool {pool_id}. {reason}")


class AddressScopeInUse(errors.InUse):
    """409: subnet pools belong to the address scope."""

    def __init__(self, scope_id: str):
        super().__init__(
            f"Unable to complete operation on address scope {scope_id}. There are one or "
            "more subnet pools in use on the address scope"
        )


class IllegalSubnetPoolPrefixBounds(errors.BadRequest):
    """400: ``min_prefixlen`` <= ``default_prefixlen`` <= ``max_prefixlen`` broken, or a
    prefix longer than the maximum."""

    def __init__(self, prefix_type: str, prefixlen: int, base_type: str, base_prefixlen: int):
        super().__init__(
            f"Illegal prefix bounds: {prefix_type}={prefixlen}, {base_type}={base_prefixlen}."
        )


class IllegalSubnetPoolPrefixUpdate(errors.BadRequest):
    """400: an update of ``prefixes`` that drops one."""

    def __init__(self, msg: str):
        super().__init__(f"Illegal update to prefixes: {msg}")


class PrefixLengthNotAllowed(errors.BadRequest):
    """400: a subnet's prefix length outside its pool's bounds (Neutron's
    ``MinPrefixSubnetAllocationError``/``MaxPrefixSubnetAllocationError``)."""

    def __init__(self, prefixlen: int, bound: str, value: int):
        super().__init__(
            f"Unable to allocate subnet with prefix length {prefixlen}, {bound} allowed "
            f"prefix is {value}."
        )


class SubnetAllocationError(errors.Conflict):
    """409: no free block of the asked size is left in the pool, or the asked CIDR is
    taken."""

    def __init__(self, reason: str):
        super().__init__(f"Failed to allocate subnet: {reason}")


class AddressScopePrefixConflict(errors.BadRequest):
    """400: two subnet pools of one address scope would overlap."""

    def __init__(self) -> None:
        super().__init__(
            "Failed to associate address scope: subnetpools within an address scope must "
            "have unique prefixes."
        )
