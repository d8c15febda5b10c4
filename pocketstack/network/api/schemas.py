"""Request-body schemas of the Networking API v2.0 (Neutron), one per body a route takes.

Each is given to its route (``api/__init__.py``) and checked by the HTTP layer
before the handler runs: a body that does not match is a 400 in Neutron's error shape
(``{"NeutronError": {"type": "HTTPBadRequest", ...}}``) and nothing is written.

What they follow, from Neutron's resource attribute maps (neutron-lib ``api/definitions``
and the extensions this cloud lists in ``/v2.0/extensions``):

- Only the attributes Neutron lets a client set are accepted: anything else, including a
  read-only attribute (``id``, ``status``) and one that may only be set at create
  (``network_id``, ``ip_version``, ``cidr``, ``project_id``...) in an update, is a 400
  where Neutron answers "Unrecognized attribute(s)" or "Cannot update read-only attribute"
  (the message is the HTTP layer's, naming the attribute). The envelope
  (``{"port": {...}}``) takes nothing else either.
- Types and lengths as Neutron's validators: names and descriptions 255 characters,
  ``device_id``/``device_owner``/``binding:host_id`` 255, tags 255. Project ids are at
  most 64 characters (Neutron takes 255, our column holds 64).
- ``null`` only where Neutron takes it: ``gateway_ip``, ``dns_nameservers``,
  ``host_routes``, a port's ``security_groups``, ``allowed_address_pairs``,
  ``extra_dhcp_opts``, ``binding:profile``, ``binding:host_id``, ``qos_policy_id``, and a
  rule's ``protocol``, ports, ``remote_*``. Never for a name or a boolean.
- Booleans are JSON booleans or the strings ``true``/``false``/``1``/``0`` in any case (what
  the handlers have always taken; Neutron's ``convert_to_boolean`` takes these too).
  Integers Neutron converts with ``convert_to_int`` (``mtu``, ``ip_version``, segmentation
  ids, rule ports) may be decimal strings.
- Lists Neutron bounds by default are bounded the same: 5 DNS nameservers, 20 host routes,
  10 allowed address pairs.
- Enums: ``ip_version`` 4/6, ``direction`` ingress/egress, ``ethertype`` IPv4/IPv6 (any
  case), ``protocol`` a name (any case), ``any`` or a number 0-255, rule ports 0-65535.

Semantic checks stay with the logic (``networks``, ``subnets``, ``ports``, ``secgroups``):
a CIDR or an address that parses, a gateway inside its subnet, a port range that suits the
protocol, an MTU the overlay allows, admin-only attributes.

Sections of the Networking API v2.0 reference are named on each schema.
"""

from __future__ import annotations

from pocketstack.common import schema_types as t
from pocketstack.network.quotas import DEFAULTS as QUOTA_DEFAULTS
from pocketstack.network.secgroups import PROTOCOLS

Schema = t.Schema


def _any_case(word: str) -> str:
    """A regular-expression fragment matching ``word`` in any letter case (written with
    character classes, not an inline flag, so the pattern stays ECMA-262 compatible)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else _escape(c) for c in word)


def _escape(char: str) -> str:
    return "\\" + char if char in ".^$*+?()[]{}|\\" else char


def _words(*words: str, extra: str = "") -> Schema:
    """A string that is one of ``words`` in any case (or matches the ``extra`` alternative)."""
    alternatives = [_any_case(w) for w in words] + ([extra] if extra else [])
    return t.string(64, 1, pattern="^(" + "|".join(alternatives) + ")$")


def _int_like(minimum: int, maximum: int) -> Schema:
    """An integer Neutron converts with ``convert_to_int``: a JSON integer within the bounds,
    or a string of ASCII digits (the logic converts and range-checks it). Stricter than
    ``schema_types.integer_like``, whose ``\\s`` admits characters ``int()`` refuses."""
    return {"anyOf": [t.integer(minimum, maximum), t.string(20, 1, pattern="^[0-9]+$")]}


# -- building blocks ----------------------------------------------------------------------
#: Names of every resource (Neutron: ``type:string`` 255; empty is allowed).
NAME: Schema = t.string(255)
#: ``description`` (standard-attr-description: 255).
DESCRIPTION: Schema = t.string(255)
#: Neutron's booleans as the handlers read them (``common.want_bool``).
BOOLEAN: Schema = {"anyOf": [t.BOOLEAN, _words("true", "false", "1", "0")]}
#: A resource id (``type:uuid``).
UUID: Schema = t.UUID
#: ``project_id``/``tenant_id`` of a new resource (only an admin may name another project).
PROJECT_ID: Schema = t.ID
#: Tags set with the resource (standard-attr-tag: unique strings of 255 characters).
TAGS: Schema = t.array(t.string(255), unique=True)
#: An IP address (the logic parses it); 64 characters as Neutron's columns.
IP_ADDRESS: Schema = t.string(64, 1)
#: A CIDR, or an address taken as one (the logic parses it).
CIDR: Schema = t.string(64, 1)
#: A MAC address (the logic checks its form and that it is unicast).
MAC_ADDRESS: Schema = t.string(32, 1)
#: A non-negative integer Neutron converts with ``convert_to_int`` (a number or a string).
NON_NEGATIVE: Schema = _int_like(0, 2**31 - 1)
#: ``port_range_min``/``port_range_max``: any integer here; the logic answers a port outside
#: 1-65535 (an ICMP type or code outside 0-255) with Neutron's "Invalid value for port N".
RULE_PORT: Schema = t.nullable(_int_like(-(2**31), 2**31 - 1))
#: ``protocol``: a name, ``any`` or a number 0-255 (``convert_to_protocol``), or null.
PROTOCOL: Schema = t.nullable(
    {
        "anyOf": [
            t.integer(0, 255),
            _words("any", *sorted(PROTOCOLS), extra="25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]"),
        ]
    }
)
#: ``ip_version`` (``type:values [4, 6]`` after ``convert_to_int``).
IP_VERSION: Schema = t.enum(4, 6, "4", "6")

#: Attributes every resource but a rule takes at create.
_COMMON_CREATE: dict[str, Schema] = {
    "name": NAME,
    "description": DESCRIPTION,
    "tenant_id": PROJECT_ID,
    "project_id": PROJECT_ID,
    "tags": TAGS,
}
#: Attributes every resource but a rule takes in an update (the project is fixed).
_COMMON_UPDATE: dict[str, Schema] = {
    "name": NAME,
    "description": DESCRIPTION,
    "tags": TAGS,
}


def _body(key: str, properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """``{"<key>": {...}}`` whose object takes only ``properties``."""
    return t.wrapped(key, t.obj(properties, required=required))


# -- networks -----------------------------------------------------------------------------
_NETWORK_MUTABLE: dict[str, Schema] = {
    "admin_state_up": BOOLEAN,
    "shared": BOOLEAN,
    "router:external": BOOLEAN,
    "mtu": NON_NEGATIVE,
    "port_security_enabled": BOOLEAN,
    "is_default": BOOLEAN,
    "qos_policy_id": t.nullable(UUID),
}

#: Networks > Create network (``POST /v2.0/networks``).
NETWORK_CREATE: Schema = _body(
    "network",
    {
        **_COMMON_CREATE,
        **_NETWORK_MUTABLE,
        "provider:network_type": t.string(32),
        "provider:physical_network": t.string(64),
        "provider:segmentation_id": NON_NEGATIVE,
        "availability_zone_hints": t.array(t.string(255)),
        "dns_domain": t.string(255),
    },
)
#: Networks > Update network (``PUT /v2.0/networks/{network_id}``).
NETWORK_UPDATE: Schema = _body("network", {**_COMMON_UPDATE, **_NETWORK_MUTABLE})

# -- subnets ------------------------------------------------------------------------------
_ALLOCATION_POOLS = t.array(
    t.obj({"start": IP_ADDRESS, "end": IP_ADDRESS}, required=("start", "end"))
)
#: Neutron's default ``max_subnet_host_routes``.
MAX_HOST_ROUTES = 20
#: Neutron's default ``max_dns_nameservers``.
MAX_DNS_NAMESERVERS = 5
#: Neutron's default ``max_allowed_address_pair``.
MAX_ADDRESS_PAIRS = 10
_HOST_ROUTES = t.nullable(
    t.array(
        t.obj({"destination": CIDR, "nexthop": IP_ADDRESS}, required=("destination", "nexthop")),
        max_items=MAX_HOST_ROUTES,
    )
)
_SUBNET_MUTABLE: dict[str, Schema] = {
    "gateway_ip": t.nullable(IP_ADDRESS),
    "allocation_pools": _ALLOCATION_POOLS,
    "enable_dhcp": BOOLEAN,
    "dns_nameservers": t.nullable(t.array(IP_ADDRESS, max_items=MAX_DNS_NAMESERVERS)),
    "host_routes": _HOST_ROUTES,
    "service_types": t.array(t.string(255)),
}
_IPV6_MODE = t.enum("dhcpv6-stateful", "dhcpv6-stateless", "slaac")

#: Subnets > Create subnet (``POST /v2.0/subnets``).
SUBNET_CREATE: Schema = _body(
    "subnet",
    {
        **_COMMON_CREATE,
        **_SUBNET_MUTABLE,
        "network_id": UUID,
        "ip_version": IP_VERSION,
        "cidr": t.nullable(CIDR),
        "subnetpool_id": t.nullable(t.string(36)),
        "use_default_subnetpool": BOOLEAN,
        "prefixlen": NON_NEGATIVE,
        "ipv6_ra_mode": _IPV6_MODE,
        "ipv6_address_mode": _IPV6_MODE,
        "segment_id": t.nullable(UUID),
        "dns_publish_fixed_ip": BOOLEAN,
    },
    required=("network_id",),
)
#: Subnets > Update subnet (``PUT /v2.0/subnets/{subnet_id}``).
SUBNET_UPDATE: Schema = _body("subnet", {**_COMMON_UPDATE, **_SUBNET_MUTABLE})

# -- ports --------------------------------------------------------------------------------
#: One ``fixed_ips`` entry: a subnet, an address or both, never null (``type:fixed_ips``).
FIXED_IP: Schema = t.obj({"subnet_id": UUID, "ip_address": IP_ADDRESS}, minProperties=1)
_ADDRESS_PAIR = t.obj({"ip_address": CIDR, "mac_address": MAC_ADDRESS}, required=("ip_address",))
_EXTRA_DHCP_OPT = t.obj(
    {
        "opt_name": t.string(64, 1),
        "opt_value": t.nullable(t.string(255)),
        "ip_version": IP_VERSION,
    },
    required=("opt_name", "opt_value"),
)
_VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "accelerator-direct",
    "accelerator-direct-physical",
    "remote-managed",
)
_PORT_MUTABLE: dict[str, Schema] = {
    "admin_state_up": BOOLEAN,
    "mac_address": MAC_ADDRESS,
    "fixed_ips": t.array(FIXED_IP),
    "device_id": t.string(255),
    "device_owner": t.string(255),
    "binding:host_id": t.nullable(t.string(255)),
    "binding:vnic_type": t.enum(*_VNIC_TYPES),
    "binding:profile": t.nullable({"type": "object"}),
    "security_groups": t.nullable(t.array(UUID)),
    "port_security_enabled": BOOLEAN,
    "allowed_address_pairs": t.nullable(t.array(_ADDRESS_PAIR, max_items=MAX_ADDRESS_PAIRS)),
    "extra_dhcp_opts": t.nullable(t.array(_EXTRA_DHCP_OPT)),
    "dns_name": t.string(255),
    "dns_domain": t.string(255),
    "qos_policy_id": t.nullable(UUID),
    "propagate_uplink_status": BOOLEAN,
    "numa_affinity_policy": t.nullable(t.enum("legacy", "preferred", "required", "socket")),
}

_PORT: Schema = t.obj(
    {**_COMMON_CREATE, **_PORT_MUTABLE, "network_id": UUID}, required=("network_id",)
)
#: the most ports one bulk create takes
MAX_BULK_PORTS = 100
#: Ports > Create port (``{"port": {...}}``) or Bulk create ports, all or none
#: (``{"ports": [{...}, ...]}``), told apart by the key.
PORT_CREATE: Schema = {
    "if": {"type": "object", "required": ["ports"]},
    "then": t.wrapped("ports", {**t.array(_PORT, max_items=MAX_BULK_PORTS), "minItems": 1}),
    "else": t.wrapped("port", _PORT),
}
#: Ports > Update port (``PUT /v2.0/ports/{port_id}``).
PORT_UPDATE: Schema = _body("port", {**_COMMON_UPDATE, **_PORT_MUTABLE})

# -- agents -------------------------------------------------------------------------------
#: Networking Agents > Update agent (``PUT /v2.0/agents/{agent_id}``): an admin changes
#: only these two; agents are made by their heartbeats.
AGENT_UPDATE: Schema = _body("agent", {"admin_state_up": BOOLEAN, "description": DESCRIPTION})

# -- segments -----------------------------------------------------------------------------
#: Segments > Create segment (``POST /v2.0/segments``).
SEGMENT_CREATE: Schema = _body(
    "segment",
    {
        "network_id": UUID,
        "name": t.nullable(NAME),
        "description": DESCRIPTION,
        "network_type": t.string(32),
        "physical_network": t.nullable(t.string(64)),
        "segmentation_id": t.nullable(NON_NEGATIVE),
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
    },
    required=("network_id", "network_type"),
)
#: Segments > Update segment (``PUT /v2.0/segments/{segment_id}``): name and description.
SEGMENT_UPDATE: Schema = _body("segment", {"name": t.nullable(NAME), "description": DESCRIPTION})

# -- RBAC policies -------------------------------------------------------------------------
#: RBAC Policies > Create RBAC policy (``POST /v2.0/rbac-policies``); the type and action are
#: checked by the logic (400 InvalidInput, as Neutron's ``type:values`` message).
RBAC_POLICY_CREATE: Schema = _body(
    "rbac_policy",
    {
        "object_type": t.string(255, 1),
        "object_id": UUID,
        "action": t.string(255, 1),
        "target_tenant": t.string(255, 1),
        "target_project_id": t.string(255, 1),
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
    },
    required=("object_type", "object_id", "action"),
)
#: RBAC Policies > Update RBAC policy: only the target changes.
RBAC_POLICY_UPDATE: Schema = _body(
    "rbac_policy", {"target_tenant": t.string(255, 1), "target_project_id": t.string(255, 1)}
)

# -- subnet pools and address scopes ------------------------------------------------------
_SUBNETPOOL_MUTABLE: dict[str, Schema] = {
    "prefixes": t.array(CIDR),
    "min_prefixlen": NON_NEGATIVE,
    "max_prefixlen": NON_NEGATIVE,
    "default_prefixlen": NON_NEGATIVE,
    "is_default": BOOLEAN,
    "default_quota": t.nullable(NON_NEGATIVE),
    "address_scope_id": t.nullable(UUID),
}
#: Subnet pools > Create subnet pool (``POST /v2.0/subnetpools``).
SUBNETPOOL_CREATE: Schema = _body(
    "subnetpool",
    {**_COMMON_CREATE, **_SUBNETPOOL_MUTABLE, "shared": BOOLEAN},
    required=("prefixes",),
)
#: Subnet pools > Update subnet pool (``PUT /v2.0/subnetpools/{subnetpool_id}``).
SUBNETPOOL_UPDATE: Schema = _body("subnetpool", {**_COMMON_UPDATE, **_SUBNETPOOL_MUTABLE})
#: Address scopes > Create an address scope (``POST /v2.0/address-scopes``).
ADDRESS_SCOPE_CREATE: Schema = _body(
    "address_scope",
    {
        "name": NAME,
        "ip_version": IP_VERSION,
        "shared": BOOLEAN,
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
    },
    required=("name", "ip_version"),
)
#: Address scopes > Update an address scope: its name, and (admin) ``shared``.
ADDRESS_SCOPE_UPDATE: Schema = _body("address_scope", {"name": NAME, "shared": BOOLEAN})

# -- quotas -------------------------------------------------------------------------------
#: A quota limit (``convert_to_int``, range -1..): an integer or a string of digits.
_QUOTA_LIMIT: Schema = {"anyOf": [t.integer(-1, 2**31 - 1), t.string(20, 1, pattern="^-?[0-9]+$")]}
#: Quotas extension > Update quota for a project (``PUT /v2.0/quotas/{project_id}``): the
#: counted resources, and the ``force``/``check_limit`` flags ``openstack quota set`` sends.
QUOTA_UPDATE: Schema = _body(
    "quota",
    {
        **dict.fromkeys(QUOTA_DEFAULTS, _QUOTA_LIMIT),
        "force": BOOLEAN,
        "check_limit": BOOLEAN,
    },
)

# -- tags ---------------------------------------------------------------------------------
#: Tag extension > Replace all tags (``PUT /v2.0/{resources}/{id}/tags``).
TAGS_UPDATE: Schema = t.obj({"tags": TAGS}, required=("tags",))
#: Tag extension > Add a tag (``PUT /v2.0/{resources}/{id}/tags/{tag}``): no body (an empty
#: object is taken too).
NO_BODY: Schema = {"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}]}

# -- security groups and rules ------------------------------------------------------------
#: Security groups (security-groups) > Create security group.
SECURITY_GROUP_CREATE: Schema = _body("security_group", {**_COMMON_CREATE, "stateful": BOOLEAN})
#: Security groups (security-groups) > Update security group.
SECURITY_GROUP_UPDATE: Schema = _body("security_group", {**_COMMON_UPDATE, "stateful": BOOLEAN})
#: a rule's attributes (rules have no name or tags, and no update)
_RULE_PROPERTIES: dict[str, Schema] = {
    "security_group_id": UUID,
    "direction": t.enum("ingress", "egress"),
    "ethertype": _words("IPv4", "IPv6"),
    "protocol": PROTOCOL,
    "port_range_min": RULE_PORT,
    "port_range_max": RULE_PORT,
    "remote_ip_prefix": t.nullable(CIDR),
    # any string: a group that does not exist (whatever its form) is 404, as in Neutron
    "remote_group_id": t.nullable(t.string(255)),
    "remote_address_group_id": t.nullable(UUID),
    "description": DESCRIPTION,
    "tenant_id": PROJECT_ID,
    "project_id": PROJECT_ID,
}
_RULE: Schema = t.obj(_RULE_PROPERTIES, required=("security_group_id", "direction"))
#: the most rules one bulk create takes
MAX_BULK_RULES = 100
#: Security group rules (security-group-rules) > Create security group rule
#: (``{"security_group_rule": {...}}``), or Neutron's bulk create of several at once,
#: all or none (``{"security_group_rules": [{...}, ...]}``), told apart by the key so a
#: single rule's errors stay as they were.
SECURITY_GROUP_RULE_CREATE: Schema = {
    "if": {"type": "object", "required": ["security_group_rules"]},
    "then": t.wrapped(
        "security_group_rules", {**t.array(_RULE, max_items=MAX_BULK_RULES), "minItems": 1}
    ),
    "else": t.wrapped("security_group_rule", _RULE),
}

# -- routers and floating IPs -------------------------------------------------------------
#: ``external_gateway_info`` (``ext-gw-mode``): ``{}`` or null clears the gateway.
_GATEWAY_INFO: Schema = t.nullable(
    t.obj(
        {
            "network_id": UUID,
            "enable_snat": BOOLEAN,
            "external_fixed_ips": t.array(FIXED_IP),
            "qos_policy_id": t.nullable(UUID),
        }
    )
)
#: ``routes`` (``extraroute``); their number is the logic's (RoutesExhausted past 30).
_ROUTE_LIST: Schema = t.array(
    t.obj({"destination": CIDR, "nexthop": IP_ADDRESS}, required=("destination", "nexthop"))
)
_ROUTES: Schema = t.nullable(_ROUTE_LIST)
_ROUTER_MUTABLE: dict[str, Schema] = {
    "admin_state_up": BOOLEAN,
    "external_gateway_info": _GATEWAY_INFO,
    "distributed": BOOLEAN,
    "ha": BOOLEAN,
}
#: Routers > Create router (``POST /v2.0/routers``).
ROUTER_CREATE: Schema = _body(
    "router",
    {
        **_COMMON_CREATE,
        **_ROUTER_MUTABLE,
        "availability_zone_hints": t.array(t.string(255)),
        "flavor_id": t.nullable(UUID),
    },
)
#: Routers > Update router (``PUT /v2.0/routers/{router_id}``).
ROUTER_UPDATE: Schema = _body("router", {**_COMMON_UPDATE, **_ROUTER_MUTABLE, "routes": _ROUTES})
#: Routers > Add / Remove interface (``PUT /v2.0/routers/{router_id}/add_router_interface``,
#: ``remove_router_interface``): a bare ``{"subnet_id"}`` or ``{"port_id"}``.
ROUTER_INTERFACE: Schema = t.obj({"subnet_id": UUID, "port_id": UUID})
#: Routers > Add / Remove extra routes (``PUT /v2.0/routers/{router_id}/add_extraroutes``,
#: ``remove_extraroutes``, ``extraroute-atomic``).
ROUTER_EXTRAROUTES: Schema = _body("router", {"routes": _ROUTE_LIST}, required=("routes",))
_FLOATINGIP_COMMON: dict[str, Schema] = {
    "description": DESCRIPTION,
    "tags": TAGS,
    "port_id": t.nullable(UUID),
    "fixed_ip_address": t.nullable(IP_ADDRESS),
    "qos_policy_id": t.nullable(UUID),
}
#: Floating IPs > Create floating IP (``POST /v2.0/floatingips``); floating IPs have no name.
FLOATINGIP_CREATE: Schema = _body(
    "floatingip",
    {
        **_FLOATINGIP_COMMON,
        "floating_network_id": UUID,
        "floating_ip_address": IP_ADDRESS,
        "subnet_id": t.nullable(UUID),
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
        "dns_name": t.string(255),
        "dns_domain": t.string(255),
    },
    required=("floating_network_id",),
)
#: Floating IPs > Update floating IP (``PUT /v2.0/floatingips/{floatingip_id}``).
FLOATINGIP_UPDATE: Schema = _body("floatingip", _FLOATINGIP_COMMON)
