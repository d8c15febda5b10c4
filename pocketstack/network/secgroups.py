"""Security groups and rules (Neutron v2.0 ``/security-groups``, ``/security-group-rules``).

Each project has a ``default`` group, made on first need (listing or showing groups, creating
a port, booting a server): egress IPv4 and IPv6 to anywhere, ingress IPv4 and IPv6 from
members of the group itself. A new group gets the two egress rules. Groups and their rules
are visible to their project only (and admins); others get 404.
"""

from __future__ import annotations

import builtins
import ipaddress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import isotime, utcnow
from pocketstack.network import common
from pocketstack.network import exceptions as exc
from pocketstack.network.models import (
    DefaultSecurityGroup,
    PortSecurityGroup,
    SecurityGroup,
    SecurityGroupRule,
)

if TYPE_CHECKING:
    from pocketstack.service import Cloud

PROTOCOLS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "icmp": 1,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
_PORT_PROTOCOLS = {6, 17, 33, 132, 136}
_ICMP_PROTOCOLS = {1, 58}
_GROUP_ATTRS = {"stateful"}
_RULE_ATTRS = {
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "remote_address_group_id",
}


def render_rule(rule: SecurityGroupRule, default_ids: set[str] | None = None) -> dict[str, Any]:
    """The Neutron view of a rule."""
    return {
        "id": rule.id,
        "project_id": rule.project_id,
        "tenant_id": rule.project_id,
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "normalized_cidr": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None,
        "description": rule.description or "",
        "revision_number": rule.revision_number,
        "created_at": isotime(rule.created_at),
        "updated_at": isotime(rule.updated_at or rule.created_at),
        "belongs_to_default_sg": rule.security_group_id in (default_ids or set()),
    }


def render_group(
    group: SecurityGroup, rules: list[SecurityGroupRule], default_ids: set[str]
) -> dict[str, Any]:
    """The Neutron view of a group with its rules."""
    data = common.standard_attrs(group)
    data.update(
        {
            "stateful": group.stateful,
            "shared": False,
            "is_default": group.id in default_ids,
            "security_group_rules": [render_rule(r, default_ids) for r in rules],
        }
    )
    return data


def _default_ids(session: Session) -> set[str]:
    return set(session.scalars(sa.select(DefaultSecurityGroup.security_group_id)))


def _rules_of(session: Session, group_ids: list[str]) -> dict[str, list[SecurityGroupRule]]:
    result: dict[str, list[SecurityGroupRule]] = {g: [] for g in group_ids}
    if group_ids:
        query = (
            sa.select(SecurityGroupRule)
            .where(SecurityGroupRule.security_group_id.in_(group_ids))
            .order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)
        )
        for rule in session.scalars(query):
            result[rule.security_group_id].append(rule)
    return result


def _egress_rules(group: SecurityGroup) -> list[SecurityGroupRule]:
    return [
        SecurityGroupRule(
            project_id=group.project_id,
            security_group_id=group.id,
            direction="egress",
            ethertype=eth,
        )
        for eth in ("IPv4", "IPv6")
    ]


def create_default(session: Session, project_id: str) -> str:
    """The project's default group id, creating it (with its four rules) if missing.

    Safe under concurrency: the loser of a race re-reads the winner's group.
    """
    row = session.get(DefaultSecurityGroup, project_id)
    if row is not None:
        return row.security_group_id
    try:
        with session.begin_nested():
            group = SecurityGroup(
                project_id=project_id, name="default", description="Default security group"
            )
            session.add(group)
            session.flush()
            session.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
            session.add_all(
                _egress_rules(group)
                + [
                    SecurityGroupRule(
                        project_id=project_id,
                        security_group_id=group.id,
                        direction="ingress",
                        ethertype=eth,
                        remote_group_id=group.id,
                    )
                    for eth in ("IPv4", "IPv6")
                ]
            )
            session.flush()
        return group.id
    except IntegrityError:
        row = session.get(DefaultSecurityGroup, project_id, populate_existing=True)
        assert row is not None
        return row.security_group_id


def load_group(session: Session, ctx: RequestContext, group_id: str) -> SecurityGroup:
    """A group of the caller's project (any for admin). Raises SecurityGroupNotFound."""
    group = session.get(SecurityGroup, group_id)
    if group is None or not common.check_project_scope(ctx, group.project_id):
        raise exc.SecurityGroupNotFound(group_id)
    return group


def _protocol(value: Any) -> tuple[str | None, int | None]:
    """(stored protocol, its number) from a name, a number, ``any`` or None."""
    if value is None or str(value).lower() in ("any", ""):
        return None, None
    text = str(value).lower()
    if text in PROTOCOLS:
        return text, PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text, int(text)
    raise exc.SecurityGroupRuleInvalidProtocol(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported."
    )


def _port(value: Any, name: str) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise exc.InvalidInput(f"'{str(value)[:64]}' is not an integer for {name}.")
    return int(text)


def _ports(number: int | None, body: dict[str, Any]) -> tuple[int | None, int | None]:
    low = _port(body.get("port_range_min"), "port_range_min")
    high = _port(body.get("port_range_max"), "port_range_max")
    if low is None and high is None:
        return None, None
    if number is None:
        raise exc.SecurityGroupInvalidPortRange(
            "Must also specify protocol if port range is given."
        )
    if number in _ICMP_PROTOCOLS:
        if low is None:
            raise exc.SecurityGroupInvalidPortRange(
                "ICMP code (port-range-max) is given without an ICMP type (port-range-min)."
            )
        for value, what in ((low, "type"), (high, "code")):
            if value is not None and not 0 <= value <= 255:
                raise exc.SecurityGroupInvalidPortRange(
                    f"Invalid value for ICMP {what}: {value}; it must be 0 to 255."
                )
        return low, high
    if number not in _PORT_PROTOCOLS:
        raise exc.SecurityGroupInvalidPortRange(
            f"Invalid protocol {number} for port range: only TCP, UDP, SCTP, DCCP and "
            "UDP-Lite rules take ports."
        )
    if low is None:
        raise exc.SecurityGroupInvalidPortRange("port_range_max is given without port_range_min.")
    high = low if high is None else high
    if not (1 <= low <= 65535 and 1 <= high <= 65535):
        raise exc.SecurityGroupInvalidPortRange(
            "Invalid port range: ports must be integers from 1 to 65535."
        )
    if low > high:
        raise exc.SecurityGroupInvalidPortRange(
            "For TCP/UDP protocols, port_range_min must be <= port_range_max"
        )
    return low, high


def _prefix(value: Any, ethertype: str) -> str | None:
    if value is None:
        return None
    try:
        net = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise exc.InvalidInput(f"'{value}' is not a valid IP prefix.") from None
    if f"IPv{net.version}" != ethertype:
        raise exc.SecurityGroupRuleParameterConflict(
            f"Conflicting value ethertype {ethertype} for CIDR {value}"
        )
    return str(net)


def _rule_key(rule: SecurityGroupRule) -> tuple[Any, ...]:
    prefix = rule.remote_ip_prefix
    if prefix in ("0.0.0.0/0", "::/0"):
        prefix = None
    number = _protocol(rule.protocol)[1]
    return (
        rule.direction,
        rule.ethertype,
        number,
        rule.port_range_min,
        rule.port_range_max,
        prefix,
        rule.remote_group_id,
    )


def parse_rule(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a rule body into column values (without the group).

    Raises:
        InvalidInput, SecurityGroupRuleInvalidProtocol, SecurityGroupInvalidPortRange,
        SecurityGroupRuleParameterConflict (all 400).
    """
    common.check_attrs(body, _RULE_ATTRS)
    direction = body.get("direction")
    if direction not in ("ingress", "egress"):
        raise exc.InvalidInput(f"'{direction}' is not in ['ingress', 'egress'] (direction).")
    ethertype = body.get("ethertype") or "IPv4"
    ethertype = {"ipv4": "IPv4", "ipv6": "IPv6"}.get(str(ethertype).lower())
    if ethertype is None:
        raise exc.InvalidInput(f"'{body.get('ethertype')}' is not in ['IPv4', 'IPv6'].")
    protocol, number = _protocol(body.get("protocol"))
    low, high = _ports(number, body)
    if body.get("remote_ip_prefix") and body.get("remote_group_id"):
        raise exc.SecurityGroupRuleParameterConflict(
            "Only remote_ip_prefix or remote_group_id may be provided."
        )
    if body.get("remote_address_group_id"):
        raise exc.InvalidInput("Address groups are not supported.")
    return dict(
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=low,
        port_range_max=high,
        remote_ip_prefix=_prefix(body.get("remote_ip_prefix"), ethertype),
        remote_group_id=body.get("remote_group_id") or None,
        description=common.want_str(body, "description"),
    )


class SecurityGroupFamily:
    """Security groups and rules of ``cloud.network`` (``cloud.network.security_groups``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def ensure_default(self, project_id: str) -> str:
        """The id of the project's default group, created on first need."""
        with self.cloud.db.reader() as s:
            row = s.get(DefaultSecurityGroup, project_id)
            if row is not None:
                return row.security_group_id
        with self.cloud.db.transaction() as s:
            return create_default(s, project_id)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Create a group with the two egress rules. Raises InvalidInput (400)."""
        common.check_attrs(body, _GROUP_ATTRS)
        project_id = common.owner_project(ctx, body)
        name = common.want_str(body, "name")
        if name == "default":
            raise exc.InvalidInput(
                "Default security group 'default' already exists; choose another name."
            )
        with self.cloud.db.transaction() as s:
            if ctx.project_id:
                create_default(s, project_id)
            group = SecurityGroup(
                project_id=project_id,
                name=name,
                description=common.want_str(body, "description"),
                stateful=common.want_bool(body, "stateful", True),
            )
            s.add(group)
            s.flush()
            rules = _egress_rules(group)
            s.add_all(rules)
            s.flush()
            return render_group(group, rules, set())

    def get(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        """One group with its rules. Raises SecurityGroupNotFound (404)."""
        if ctx.project_id:
            self.ensure_default(ctx.project_id)
        with self.cloud.db.reader() as s:
            group = load_group(s, ctx, group_id)
            return render_group(group, _rules_of(s, [group.id])[group.id], _default_ids(s))

    def list(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        """The caller's groups (all projects' for an admin asking ``all_projects``)."""
        if ctx.project_id:
            self.ensure_default(ctx.project_id)
        with self.cloud.db.reader() as s:
            query = sa.select(SecurityGroup).order_by(SecurityGroup.created_at, SecurityGroup.id)
            if not (all_projects and ctx.is_admin):
                query = query.where(SecurityGroup.project_id == ctx.project_id)
            groups = list(s.scalars(query))
            rules = _rules_of(s, [g.id for g in groups])
            defaults = _default_ids(s)
            return [render_group(g, rules[g.id], defaults) for g in groups]

    def update(self, ctx: RequestContext, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Rename or describe a group. Raises SecurityGroupNotFound, InvalidInput, Conflict."""
        common.check_attrs(body, _GROUP_ATTRS)
        with self.cloud.db.transaction() as s:
            group = load_group(s, ctx, group_id)
            defaults = _default_ids(s)
            if "name" in body and group.id in defaults and body["name"] != "default":
                raise exc.errors.Conflict("Updating default security group name not allowed.")
            for key in ("name", "description"):
                if key in body:
                    setattr(group, key, common.want_str(body, key))
            if "stateful" in body:
                group.stateful = common.want_bool(body, "stateful", True)
            if "tags" in body:
                group.tags = [str(t) for t in common.want_list(body, "tags")]
            common.touch(group)
            group.updated_at = utcnow()
            s.flush()
            return render_group(group, _rules_of(s, [group.id])[group.id], defaults)

    def delete(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group and its rules.

        Raises:
            SecurityGroupNotFound (404), SecurityGroupCannotRemoveDefault (409),
            SecurityGroupInUse (409: ports use it).
        """
        with self.cloud.db.transaction() as s:
            group = load_group(s, ctx, group_id)
            if group.id in _default_ids(s):
                raise exc.SecurityGroupCannotRemoveDefault()
            if s.scalar(
                sa.select(PortSecurityGroup.port_id)
                .where(PortSecurityGroup.security_group_id == group.id)
                .limit(1)
            ):
                raise exc.SecurityGroupInUse(group_id)
            s.execute(
                sa.delete(SecurityGroupRule).where(
                    sa.or_(
                        SecurityGroupRule.security_group_id == group.id,
                        SecurityGroupRule.remote_group_id == group.id,
                    )
                )
            )
            s.delete(group)

    def create_rule(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Add a rule to a group (``POST /v2.0/security-group-rules``).

        Raises:
            SecurityGroupNotFound (404: the group or the remote group), the 400s of
            ``parse_rule``, SecurityGroupRuleExists (409).
        """
        fields = parse_rule(body)
        with self.cloud.db.transaction() as s:
            group = load_group(s, ctx, str(body.get("security_group_id") or ""))
            if fields["remote_group_id"]:
                load_group(s, ctx, fields["remote_group_id"])
            rule = SecurityGroupRule(
                project_id=group.project_id, security_group_id=group.id, **fields
            )
            for other in _rules_of(s, [group.id])[group.id]:
                if _rule_key(other) == _rule_key(rule):
                    raise exc.SecurityGroupRuleExists(other.id)
            s.add(rule)
            common.touch(group)
            s.flush()
            return render_rule(rule, _default_ids(s))

    def get_rule(self, ctx: RequestContext, rule_id: str) -> dict[str, Any]:
        """One rule. Raises SecurityGroupRuleNotFound (404)."""
        with self.cloud.db.reader() as s:
            rule = s.get(SecurityGroupRule, rule_id)
            if rule is None or not common.check_project_scope(ctx, rule.project_id):
                raise exc.SecurityGroupRuleNotFound(rule_id)
            return render_rule(rule, _default_ids(s))

    def list_rules(
        self, ctx: RequestContext, all_projects: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Rules of the caller's groups (all projects' for an admin asking ``all_projects``)."""
        if ctx.project_id:
            self.ensure_default(ctx.project_id)
        with self.cloud.db.reader() as s:
            query = sa.select(SecurityGroupRule).order_by(
                SecurityGroupRule.created_at, SecurityGroupRule.id
            )
            if not (all_projects and ctx.is_admin):
                query = query.where(SecurityGroupRule.project_id == ctx.project_id)
            defaults = _default_ids(s)
            return [render_rule(r, defaults) for r in s.scalars(query)]

    def delete_rule(self, ctx: RequestContext, rule_id: str) -> None:
        """Remove a rule. Raises SecurityGroupRuleNotFound (404)."""
        with self.cloud.db.transaction() as s:
            rule = s.get(SecurityGroupRule, rule_id)
            if rule is None or not common.check_project_scope(ctx, rule.project_id):
                raise exc.SecurityGroupRuleNotFound(rule_id)
            s.delete(rule)


class SecurityGroupRuleFamily:
    """The rules of ``cloud.network`` (``cloud.network.security_group_rules``), with the
    same function names as the other families (no update: rules are immutable)."""

    def __init__(self, groups: SecurityGroupFamily):
        self.groups = groups

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """See ``SecurityGroupFamily.create_rule``."""
        return self.groups.create_rule(ctx, body)

    def get(self, ctx: RequestContext, rule_id: str) -> dict[str, Any]:
        """See ``SecurityGroupFamily.get_rule``."""
        return self.groups.get_rule(ctx, rule_id)

    def list(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        """See ``SecurityGroupFamily.list_rules``."""
        return self.groups.list_rules(ctx, all_projects)

    def delete(self, ctx: RequestContext, rule_id: str) -> None:
        """See ``SecurityGroupFamily.delete_rule``."""
        self.groups.delete_rule(ctx, rule_id)
