"""Domain-specific configuration (Identity API v3 "Domain configuration"),
``cloud.identity.domain_configs``: per-domain overrides of the ``identity`` and ``ldap``
option groups, and the defaults they override (``/v3/domains/config/default``).

As Keystone: only the groups and options of ``ALLOWED`` may be set (others, and an empty
config, answer 403 ``InvalidDomainConfig``); sensitive options (``ldap.password``) are
stored but never returned; PUT replaces a domain's config, PATCH merges into it. pocketstack
keeps its users in SQL whatever a domain's config says (the configuration is stored and
served; no LDAP driver reads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import Forbidden, NotFound
from pocketstack.identity import exceptions as exc
from pocketstack.identity.ext_models import DomainConfig
from pocketstack.identity.models import Domain

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager

#: the options a domain may override, with Keystone's defaults (``keystone.conf``)
ALLOWED: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost",
        "user": None,
        "password": None,
        "suffix": "cn=example,cn=com",
        "query_scope": "one",
        "page_size": 0,
        "alias_dereferencing": "default",
        "debug_level": None,
        "chase_referrals": None,
        "user_tree_dn": None,
        "user_filter": None,
        "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn",
        "user_name_attribute": "sn",
        "user_description_attribute": "description",
        "user_mail_attribute": "mail",
        "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled",
        "user_enabled_invert": False,
        "user_enabled_mask": 0,
        "user_enabled_default": "True",
        "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None,
        "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None,
        "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [],
        "group_tree_dn": None,
        "group_filter": None,
        "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn",
        "group_name_attribute": "ou",
        "group_member_attribute": "member",
        "group_members_are_ids": False,
        "group_desc_attribute": "description",
        "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [],
        "tls_cacertfile": None,
        "tls_cacertdir": None,
        "use_tls": False,
        "tls_req_cert": "demand",
        "use_pool": True,
        "pool_size": 10,
        "use_auth_pool": True,
        "auth_pool_size": 100,
        "connection_timeout": -1,
    },
}
#: stored, never returned (Keystone's ``sensitive_options``)
SENSITIVE = {("ldap", "password")}


class InvalidDomainConfig(Forbidden):
    """403 (Keystone's ``InvalidDomainConfig``): an unsupported group or option, or none."""


class DomainConfigNotFound(NotFound):
    """404: the domain has no config, or not this group or option."""


def _invalid(reason: str) -> InvalidDomainConfig:
    return InvalidDomainConfig(f"Invalid domain specific configuration: {reason}.")


def check_config(config: Any) -> dict[str, dict[str, Any]]:
    """``{group: {option: value}}`` with allowed groups and options only; else 403."""
    if not isinstance(config, dict) or not config:
        raise _invalid("No options specified")
    for group, options in config.items():
        if group not in ALLOWED:
            raise _invalid(f"Group {group} is not supported for domain specific configurations")
        if not isinstance(options, dict) or not options:
            raise _invalid(f"No options specified in group {group}")
        for option in options:
            if option not in ALLOWED[group]:
                raise _invalid(
                    f"Option {option} in group {group} is not supported for domain "
                    "specific configurations"
                )
    return config


def check_group(group: str, option: str | None = None) -> None:
    """403 for a group (or option) a domain may not configure."""
    check_config({group: {option or next(iter(ALLOWED.get(group, {"-": 0}))): None}})


class DomainConfigs:
    """Domain configurations (``cloud.identity.domain_configs``)."""

    def __init__(self, identity: IdentityManager):
        self.db = identity.db

    def get(
        self,
        ctx: RequestContext,
        domain_id: str,
        group: str | None = None,
        option: str | None = None,
    ) -> dict[str, Any]:
        """The domain's config (``{group: {option: value}}``), one group's
        (``{group: {...}}``) or one option's (``{option: value}``), sensitive options left
        out. Raises DomainNotFound; DomainConfigNotFound; InvalidDomainConfig (403) for an
        unsupported group or option."""
        if group is not None:
            check_group(group, option)
        with self.db.reader() as s:
            config = _load(s, domain_id, sensitive=False)
        return _pick(config, domain_id, group, option)

    def default(self, group: str | None = None, option: str | None = None) -> dict[str, Any]:
        """Keystone's defaults of the options a domain may set (sensitive ones left out),
        shaped as ``get``; InvalidDomainConfig (403) for an unsupported group or option."""
        if group is not None:
            check_group(group, option)
        config = {
            g: {o: v for o, v in opts.items() if (g, o) not in SENSITIVE}
            for g, opts in ALLOWED.items()
        }
        return _pick(config, "default", group, option)

    def create(self, ctx: RequestContext, domain_id: str, config: Any) -> tuple[bool, dict]:
        """PUT: replace the domain's whole config. Returns (created: no config before, the
        new config as ``get`` shows it)."""
        config = check_config(config)
        with self.db.transaction() as s:
            existed = bool(_load(s, domain_id, sensitive=True))
            s.execute(sa.delete(DomainConfig).where(DomainConfig.domain_id == domain_id))
            _write(s, domain_id, config)
        return not existed, self.get(ctx, domain_id)

    def update(
        self,
        ctx: RequestContext,
        domain_id: str,
        config: Any,
        group: str | None = None,
        option: str | None = None,
    ) -> dict[str, Any]:
        """PATCH: merge ``config`` into the domain's (the path's ``group``/``option``, when
        given, must be the only ones the body names: ``{group: {...}}`` for a group,
        ``{option: value}`` for an option, as Keystone). Returns the whole new config.
        Raises DomainConfigNotFound when the domain (or that group/option) has none."""
        if option is not None and group is not None:
            if not isinstance(config, dict) or set(config) != {option}:
                raise _invalid(
                    f"Trying to update option {option} in group {group}, so that, "
                    "and only that, option must be specified in the config"
                )
            config = {group: config}
        elif group is not None and (not isinstance(config, dict) or set(config) != {group}):
            raise _invalid(
                f"Trying to update group {group}, so that, and only that, group "
                "must be specified in the config"
            )
        config = check_config(config)
        with self.db.transaction() as s:
            current = _load(s, domain_id, sensitive=True)
            if group is not None:
                _pick(current, domain_id, group, option)
            elif not current:
                raise DomainConfigNotFound(f"Could not find config for domain {domain_id}.")
            _write(s, domain_id, config)
        return self.get(ctx, domain_id)

    def delete(
        self,
        ctx: RequestContext,
        domain_id: str,
        group: str | None = None,
        option: str | None = None,
    ) -> None:
        """DELETE the domain's config, one group or one option; raises as ``get``."""
        if group is not None:
            check_group(group, option)
        with self.db.transaction() as s:
            _pick(_load(s, domain_id, sensitive=True), domain_id, group, option)
            q = sa.delete(DomainConfig).where(DomainConfig.domain_id == domain_id)
            if group is not None:
                q = q.where(DomainConfig.group == group)
            if option is not None:
                q = q.where(DomainConfig.option == option)
            s.execute(q)


def _load(s: Session, domain_id: str, sensitive: bool) -> dict[str, dict[str, Any]]:
    if s.get(Domain, domain_id) is None:
        raise exc.DomainNotFound(f"Could not find domain: {domain_id}.")
    config: dict[str, dict[str, Any]] = {}
    rows = s.scalars(sa.select(DomainConfig).where(DomainConfig.domain_id == domain_id))
    for row in rows:
        if sensitive or not row.sensitive:
            config.setdefault(row.group, {})[row.option] = row.value
    return config


def _write(s: Session, domain_id: str, config: dict[str, dict[str, Any]]) -> None:
    for group, options in config.items():
        for option, value in options.items():
            row = s.get(DomainConfig, (domain_id, group, option))
            if row is None:
                s.add(
                    DomainConfig(
                        domain_id=domain_id,
                        group=group,
                        option=option,
                        value=value,
                        sensitive=(group, option) in SENSITIVE,
                    )
                )
            else:
                row.value = value
    s.flush()


def _pick(
    config: dict[str, dict[str, Any]], domain_id: str, group: str | None, option: str | None
) -> dict[str, Any]:
    if not config:
        raise DomainConfigNotFound(f"Could not find config for domain {domain_id}.")
    if group is None:
        return config
    if group not in config:
        raise DomainConfigNotFound(
            f"Could not find {group} in domain configuration for domain {domain_id}."
        )
    if option is None:
        return {group: config[group]}
    if option not in config[group]:
        raise DomainConfigNotFound(
            f"Could not find {group}:{option} in domain configuration for domain {domain_id}."
        )
    return {option: config[group][option]}
