"""Who may do what on an account: Keystone roles plus container ACLs.

Follows Swift's ``keystoneauth`` middleware (``swift/common/middleware/keystoneauth.py``)
and its ACL syntax (``swift/common/middleware/acl.py``):

- the account ``AUTH_<project_id>`` belongs to that project: its members read and write it,
  its readers only read; an admin may do anything on any account;
- anyone else needs a container ACL: ``X-Container-Read`` grants object GET/HEAD (and the
  container listing to named users; ``.r:<referrer>`` grants anonymous object reads and
  ``.rlistings`` anonymous listings), ``X-Container-Write`` object PUT/POST/DELETE/COPY;
  entries are ``<project>:<user>``, ``<project>:*``, ``*:<user>`` or ``*:*`` (ids or names);
- only the account's owner (or an admin) changes ACLs and container metadata; only an admin
  sets an account quota; a holder of the ``ResellerAdmin`` role (keystoneauth's
  ``reseller_admin_role``) may do anything on any account, as an admin.

A refused anonymous caller gets 401 (so clients authenticate), an authenticated one 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.objectstore.constraints import project_of

READ_METHODS = frozenset({"GET", "HEAD"})
#: Swift keystoneauth's ``reseller_admin_role`` default; bootstrap creates the role.
RESELLER_ADMIN_ROLE = "ResellerAdmin"


@dataclass(frozen=True)
class Acl:
    """A parsed container ACL: referrer rules and user entries.

    Attributes:
        referrers: ``.r:`` values (``*`` for everyone; ``-host`` denies).
        listings: ``.rlistings`` was present.
        users: ``(project, user)`` pairs, ``*`` as a wildcard.
    """

    referrers: tuple[str, ...] = ()
    listings: bool = False
    users: tuple[tuple[str, str], ...] = ()


def parse_acl(value: str | None) -> Acl:
    """Parse ``X-Container-Read``/``-Write`` (comma separated); unknown forms are ignored,
    as Swift's ``parse_acl`` keeps them as plain group names no one matches."""
    referrers: list[str] = []
    users: list[tuple[str, str]] = []
    listings = False
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith(".r:") or item.startswith(".ref:") or item.startswith(".referrer:"):
            referrers.append(item.split(":", 1)[1].strip())
        elif item in (".rlistings", ".rlisting"):
            listings = True
        elif ":" in item:
            project, _, user = item.partition(":")
            users.append((project.strip(), user.strip()))
        else:
            users.append((item, "*"))  # a bare project (Swift's tenant-only form)
    return Acl(tuple(referrers), listings, tuple(users))


def check_acl_syntax(value: str) -> None:
    """400 for an ACL Swift refuses: a referrer with nothing after ``.r:``."""
    for item in value.split(","):
        item = item.strip()
        if item.startswith(".r") and ":" in item and not item.split(":", 1)[1].strip():
            raise errors.BadRequest(f"Referrer value is empty in ACL {value!r}")


def _user_matches(ctx: RequestContext, acl: Acl) -> bool:
    if ctx.user_id is None:
        return False
    projects = {"*", ctx.project_id, ctx.project_name}
    users = {"*", ctx.user_id, ctx.user_name}
    return any(p in projects and u in users for p, u in acl.users)


def _host_matches(rule: str, host: str) -> bool:
    """``rule`` names ``host`` (``.example.com`` matches its subdomains too)."""
    if rule.startswith("."):
        return host == rule[1:] or host.endswith(rule)
    return host == rule


def _referrer_allows(acl: Acl, referrer: str | None) -> bool:
    """Anonymous access by ``.r:`` rules, read in order as Swift's ``referrer_allowed``:
    ``*`` allows everyone, ``host`` allows that ``Referer`` host, ``-host`` denies it."""
    host = urlparse(referrer).hostname or "" if referrer else ""
    allowed = False
    for rule in acl.referrers:
        if rule == "*":
            allowed = True
        elif rule.startswith("-"):
            if host and _host_matches(rule[1:], host):
                allowed = False
        elif host and _host_matches(rule, host):
            allowed = True
    return allowed


@dataclass(frozen=True)
class Access:
    """What one request asks for, to be checked by ``authorize``.

    Attributes:
        method: the HTTP method (COPY counts as a write).
        account: ``AUTH_<project_id>``.
        container: None for account requests.
        is_object: the request names an object.
        read_acl, write_acl: the container's ACL headers (None when none, or no container).
        owner_only: the request changes what only the owner may (ACLs, account quota...).
        referrer: the ``Referer`` header, for ``.r:`` rules.
        admin_only: only an admin may (``X-Account-Meta-Quota-Bytes``).
    """

    method: str
    account: str
    container: str | None = None
    is_object: bool = False
    read_acl: str | None = None
    write_acl: str | None = None
    owner_only: bool = False
    admin_only: bool = False
    referrer: str | None = None


def owns_account(ctx: RequestContext, account: str) -> bool:
    """The caller's token is scoped to the project the account belongs to."""
    project = project_of(account)
    return project is not None and ctx.project_id == project


def is_reseller_admin(ctx: RequestContext) -> bool:
    """An admin, or a holder of ``RESELLER_ADMIN_ROLE`` (keystoneauth's
    ``reseller_admin_role``): may do anything on any account, account quotas included."""
    if ctx.is_admin:
        return True
    return RESELLER_ADMIN_ROLE.lower() in {r.lower() for r in ctx.roles}


def authorize(ctx: RequestContext, access: Access) -> None:
    """Return when ``ctx`` may do ``access``; raise 401 (anonymous) or 403 otherwise."""
    if is_reseller_admin(ctx):
        return
    reading = access.method in READ_METHODS
    if access.admin_only:
        _deny(ctx)
    if owns_account(ctx, access.account) and ctx.user_id is not None:
        if reading and {"reader", "member"} & set(ctx.roles):
            return
        if ctx.can_write:
            return
        _deny(ctx)
    if access.owner_only or access.container is None:
        _deny(ctx)
    if reading:
        acl = parse_acl(access.read_acl)
        if _user_matches(ctx, acl):
            return
        if _referrer_allows(acl, access.referrer) and (access.is_object or acl.listings):
            return
    elif access.is_object and _user_matches(ctx, parse_acl(access.write_acl)):
        return
    _deny(ctx)


def _deny(ctx: RequestContext) -> None:
    if ctx.user_id is None:
        raise errors.Unauthorized("This server could not verify that you are authorized.")
    raise errors.Forbidden("Access was denied to this resource.")
