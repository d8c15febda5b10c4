"""Security groups and rules (Neutron v2.0 ``/security-groups``, ``/security-group-rules``).

Each project has a ``default`` group, made on first need (listing or showing groups, creating
a port, booting a server): egress IPv4 and IPv6 to anywhere, ingress IPv4 and IPv6 from
members of the group itself. A new group gets the two egress rules. Groups and their rules
are visible to their project only (and admins); others get 404.
"""

from __future__ import annotations

import builtins
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import common, lists, quotas
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


@dataclass(frozen=True)
class SecurityGroupCreate:
    """A new group (``POST /v2.0/security-groups``, parsed by ``api/security_groups.py``)."""

    name: str = ""
    description: str = ""
    project_id: str | None = None
    stateful: bool = True
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SecurityGroupUpdate:
    """The changes of ``PUT /v2.0/security-groups/{id}``; ``None`` leaves one as it is."""

    name: str | None = None
    description: str | None = None
    stateful: bool | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class SecurityGroupRuleCreate:
    """A new rule (``POST /v2.0/security-group-rules``, parsed by
    ``api/security_group_rules.py``): values as given, typed; ``check_rule`` checks and
    normalises them (protocol names, port ranges, prefixes)."""

    security_group_id: str
    direction: str | None = None
    ethertype: str | None = None
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: str | None = None
    description: str = ""


@dataclass(frozen=True)
class SecurityGroupRecord:
    """A group with its rules (oldest first) and whether it is its project's default."""

    group: SecurityGroup
    rules: list[SecurityGroupRule]
    is_default: bool


@dataclass(frozen=True)
class SecurityGroupRuleRecord:
    """A rule and whether its group is its project's default (``belongs_to_default_sg``)."""

    rule: SecurityGroupRule
    in_default_group: bool


def _is_default_group(group_id: Any) -> Any:
    return sa.exists().where(DefaultSecurityGroup.security_group_id == group_id)


#: API attribute -> the column a list both filters and sorts on.
_GROUP_COLUMNS: dict[str, Any] = {
    "id": SecurityGroup.id,
    "name": SecurityGroup.name,
    "description": SecurityGroup.description,
    "project_id": SecurityGroup.project_id,
    "tenant_id": SecurityGroup.project_id,
    "stateful": SecurityGroup.stateful,
    "revision_number": SecurityGroup.revision_number,
}
#: API attribute -> what a list of groups filters it on (see ``lists``).
GROUP_FILTERS: dict[str, Any] = {
    **_GROUP_COLUMNS,
    "shared": sa.literal(False),
    "is_default": lists.bool_filter(_is_default_group(SecurityGroup.id)),
}
GROUP_SORT = lists.sort_spec(_GROUP_COLUMNS, SecurityGroup)
#: API attribute -> the column a list of rules both filters and sorts on.
_RULE_COLUMNS: dict[str, Any] = {
    "id": SecurityGroupRule.id,
    "project_id": SecurityGroupRule.project_id,
    "tenant_id": SecurityGroupRule.project_id,
    "security_group_id": SecurityGroupRule.security_group_id,
    "direction": SecurityGroupRule.direction,
    "ethertype": SecurityGroupRule.ethertype,
    "protocol": SecurityGroupRule.protocol,
    "port_range_min": SecurityGroupRule.port_range_min,
    "port_range_max": SecurityGroupRule.port_range_max,
    "remote_ip_prefix": SecurityGroupRule.remote_ip_prefix,
    "remote_group_id": SecurityGroupRule.remote_group_id,
    "description": SecurityGroupRule.description,
    "revision_number": SecurityGroupRule.revision_number,
}
#: API attribute -> what a list of rules filters it on (see ``lists``).
RULE_FILTERS: dict[str, Any] = {
    **_RULE_COLUMNS,
    "normalized_cidr": SecurityGroupRule.remote_ip_prefix,
    "remote_address_group_id": sa.null(),
    "belongs_to_default_sg": lists.bool_filter(
        _is_default_group(SecurityGroupRule.security_group_id)
    ),
}
RULE_SORT = lists.sort_spec(_RULE_COLUMNS, SecurityGroupRule)


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


def _group_records(session: Session, groups: list[SecurityGroup]) -> list[SecurityGroupRecord]:
    rules = _rules_of(session, [g.id for g in groups])
    defaults = _default_ids(session)
    return [SecurityGroupRecord(g, rules[g.id], g.id in defaults) for g in groups]


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
    return common.load_scoped(session, ctx, SecurityGroup, group_id, exc.SecurityGroupNotFound)


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


def _ports(number: int | None, low: int | None, high: int | None) -> tuple[int | None, int | None]:
    if low is None and high is None:
        return None, None
    if number is None:
        raise exc.SecurityGroupInvalidPortRange(
            "Must also specify protocol if port range is given."
        )
    if number in _ICMP_PROTOCOLS:
        if low is None:
            raise exc.SecurityGroupInvalidPortRange(
                f"ICMP type (port-range-min) is missing for ICMP code (port-range-max) {high}."
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
    for port in (low, high):  # Neutron's SecurityGroupInvalidPortValue, checked first
        if port is not None and not 1 <= port <= 65535:
            raise exc.SecurityGroupInvalidPortValue(port)
    high = low if high is None else high
    if low is None or high is None or low > high:
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


def check_rule(spec: SecurityGroupRuleCreate) -> dict[str, Any]:
    """Check a rule and normalise it into column values (without the group).

    Raises:
        InvalidInput, SecurityGroupRuleInvalidProtocol, SecurityGroupInvalidPortRange,
        SecurityGroupInvalidPortValue,
        SecurityGroupRuleParameterConflict (all 400).
    """
    direction = spec.direction
    if direction not in ("ingress", "egress"):
        raise exc.InvalidInput(f"'{direction}' is not in ['ingress', 'egress'] (direction).")
    ethertype = {"ipv4": "IPv4", "ipv6": "IPv6"}.get(str(spec.ethertype or "IPv4").lower())
    if ethertype is None:
        raise exc.InvalidInput(f"'{spec.ethertype}' is not in ['IPv4', 'IPv6'].")
    protocol, number = _protocol(spec.protocol)
    low, high = _ports(number, spec.port_range_min, spec.port_range_max)
    if spec.remote_ip_prefix and spec.remote_group_id:
        raise exc.SecurityGroupRuleParameterConflict(
            "Only remote_ip_prefix or remote_group_id may be provided."
        )
    if spec.remote_address_group_id:
        raise exc.InvalidInput("Address groups are not supported.")
    return dict(
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=low,
        port_range_max=high,
        remote_ip_prefix=_prefix(spec.remote_ip_prefix, ethertype),
        remote_group_id=spec.remote_group_id or None,
        description=spec.description,
    )


class SecurityGroups:
    """The security groups of ``cloud.network`` (``cloud.network.security_groups``);
    Networking API v2.0 reference, "Security groups (security-groups)". Every method
    returns ``SecurityGroupRecord``s (rendered by ``api/views.py``)."""

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

    def create(self, ctx: RequestContext, spec: SecurityGroupCreate) -> SecurityGroupRecord:
        """Create a group with the two egress rules.

        Raises:
            SecurityGroupDefaultAlreadyExists (409: named ``default``), NotAuthorized (403:
            another project).
        """
        project_id = common.owner_project(ctx, spec.project_id)
        if spec.name == "default":  # Neutron's SecurityGroupDefaultAlreadyExists
            raise exc.SecurityGroupDefaultAlreadyExists()
        with self.cloud.db.transaction() as s:
            if ctx.project_id:
                create_default(s, project_id)
            quotas.check(s, project_id, "security_group")
            group = SecurityGroup(
                project_id=project_id,
                name=spec.name,
                description=spec.description,
                stateful=spec.stateful,
                tags=list(spec.tags),
            )
            s.add(group)
            s.flush()
            rules = _egress_rules(group)
            s.add_all(rules)
            s.flush()
            return SecurityGroupRecord(group, rules, False)

    def get(self, ctx: RequestContext, group_id: str) -> SecurityGroupRecord:
        """One group with its rules. Raises SecurityGroupNotFound (404)."""
        if ctx.project_id:
            self.ensure_default(ctx.project_id)
        with self.cloud.db.reader() as s:
            return _group_records(s, [load_group(s, ctx, group_id)])[0]

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[SecurityGroupRecord]:
        """The caller's groups (every project's for an admin asking ``all_projects``),
        filtered, sorted and paged in SQL; the caller's default group is made first.

        Raises:
            InvalidInput (400: sort key or direction), SecurityGroupNotFound (404: marker).
        """
        if ctx.project_id:
            self.ensure_default(ctx.project_id)
        with self.cloud.db.reader() as s:
            page = lists.fetch_owned(
                s, ctx, SecurityGroup, GROUP_FILTERS, GROUP_SORT, query, exc.SecurityGroupNotFound
            )
            return lists.Page(_group_records(s, page.items), page.more)

    def update(
        self, ctx: RequestContext, group_id: str, changes: SecurityGroupUpdate
    ) -> SecurityGroupRecord:
        """Rename or describe a group.

        Raises:
            SecurityGroupNotFound (404), Conflict (409: renaming the default group).
        """
        with self.cloud.db.transaction() as s:
            group = load_group(s, ctx, group_id)
            is_default = group.id in _default_ids(s)
            if changes.name is not None and is_default and changes.name != "default":
                raise exc.errors.Conflict("Updating default security group name not allowed.")
            common.set_given(group, changes, ("name", "description", "stateful", "tags"))
            common.touch(group)
            s.flush()
            return SecurityGroupRecord(group, _rules_of(s, [group.id])[group.id], is_default)

    def delete(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group and its rules.

        Raises:
            SecurityGroupNotFound (404), SecurityGroupCannotRemoveDefault (409: the
            project's default group, unless an admin asks; the project gets a new one on
            next need), SecurityGroupInUse (409: ports use it).
        """
        with self.cloud.db.transaction() as s:
            group = load_group(s, ctx, group_id)
            if group.id in _default_ids(s) and not ctx.is_admin:  # Neutron lets an admin
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
        self.cloud.network.notify_dataplane()  # rules naming it as remote group went


class SecurityGroupRules:
    """The rules of ``cloud.network`` (``cloud.network.security_group_rules``); Networking
    API v2.0 reference, "Security group rules (security-group-rules)". No update: rules are
    immutable. Every method returns ``SecurityGroupRuleRecord``s."""

    def __init__(self, cloud: Cloud, groups: SecurityGroups):
        self.cloud = cloud
        self.groups = groups

    def create(self, ctx: RequestContext, spec: SecurityGroupRuleCreate) -> SecurityGroupRuleRecord:
        """Add a rule to a group.

        Raises:
            SecurityGroupNotFound (404: the group or the remote group), the 400s of
            ``check_rule``, SecurityGroupRuleExists (409).
        """
        return self.create_many(ctx, [spec])[0]

    def create_many(
        self, ctx: RequestContext, specs: builtins.list[SecurityGroupRuleCreate]
    ) -> builtins.list[SecurityGroupRuleRecord]:
        """Add several rules at once, all or none (Neutron's bulk create of
        ``security_group_rules``), in the order given; each is checked as ``create``
        checks one, against the rules before it too.

        Raises:
            The errors of ``create`` for the first rule that fails; then no rule is added.
        """
        checked = [(spec, check_rule(spec)) for spec in specs]
        with self.cloud.db.transaction() as s:
            rules = [self._add(s, ctx, spec, values) for spec, values in checked]
            defaults = _default_ids(s)
            records = [SecurityGroupRuleRecord(r, r.security_group_id in defaults) for r in rules]
        self.cloud.network.notify_dataplane()
        return records

    def _add(
        self,
        s: Session,
        ctx: RequestContext,
        spec: SecurityGroupRuleCreate,
        values: dict[str, Any],
    ) -> SecurityGroupRule:
        group = load_group(s, ctx, spec.security_group_id)
        quotas.check(s, group.project_id, "security_group_rule")
        if values["remote_group_id"]:
            load_group(s, ctx, values["remote_group_id"])
        rule = SecurityGroupRule(project_id=group.project_id, security_group_id=group.id, **values)
        for other in _rules_of(s, [group.id])[group.id]:
            if _rule_key(other) == _rule_key(rule):
                raise exc.SecurityGroupRuleExists(other.id)
        s.add(rule)
        common.touch(group)
        s.flush()
        return rule

    def get(self, ctx: RequestContext, rule_id: str) -> SecurityGroupRuleRecord:
        """One rule. Raises SecurityGroupRuleNotFound (404)."""
        with self.cloud.db.reader() as s:
            rule = common.load_scoped(
                s, ctx, SecurityGroupRule, rule_id, exc.SecurityGroupRuleNotFound
            )
            return SecurityGroupRuleRecord(rule, rule.security_group_id in _default_ids(s))

    def list(
        self, ctx: RequestContext, query: lists.ListQuery
    ) -> lists.Page[SecurityGroupRuleRecord]:
        """Rules of the caller's groups (every project's for an admin asking
        ``all_projects``), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort key or direction), SecurityGroupRuleNotFound (404:
            the marker).
        """
        if ctx.project_id:
            self.groups.ensure_default(ctx.project_id)
        with self.cloud.db.reader() as s:
            select = sa.select(SecurityGroupRule).where(lists.filter_condition(RULE_FILTERS, query))
            if not (query.all_projects and ctx.is_admin):
                select = select.where(SecurityGroupRule.project_id == ctx.project_id)
            page = lists.fetch(s, select, RULE_SORT, query, exc.SecurityGroupRuleNotFound)
            defaults = _default_ids(s)
            return lists.Page(
                [SecurityGroupRuleRecord(r, r.security_group_id in defaults) for r in page.items],
                page.more,
            )

    def delete(self, ctx: RequestContext, rule_id: str) -> None:
        """Remove a rule. Raises SecurityGroupRuleNotFound (404)."""
        with self.cloud.db.transaction() as s:
            rule = common.load_scoped(
                s, ctx, SecurityGroupRule, rule_id, exc.SecurityGroupRuleNotFound
            )
            s.delete(rule)
        self.cloud.network.notify_dataplane()
