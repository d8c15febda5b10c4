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


class InvalidIpForNetwork(errors.BadRequest):
    """400: a requested address in none of the network's subnets."""

    def __init__(self, ip_address: str):
        super().__init__(
            f"IP address {ip_address} is not a valid IP for any of the subnets "
            "on the specified network."
        )


class SecurityGroupInvalidPortRange(errors.BadRequest):
    """400: port_range_min > port_range_max, or ports out of range."""


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


class TagNotFound(errors.NotFound):
    """404: the resource has no such tag (Neutron's tag extension ``TagNotFound``)."""

    def __init__(self, resource: str, resource_id: str, tag: str):
        super().__init__(f"Tag {tag} could not be found for {resource} {resource_id}.")
