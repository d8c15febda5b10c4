"""What every kind of test shares: where the test servers are, a free port, waiting for a
condition with a deadline, a fresh PostgreSQL database, and what to do when PostgreSQL or
RabbitMQ is not there.

Plain functions (no fixtures), so bench/ can use them too.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.config import Config
from pocketstack.common.db import Base, Database, import_all_models, normalize_url
from pocketstack.common.http import ServiceAPI

#: libpq-style URL of the test PostgreSQL server (no database): ``psql`` takes it as is,
#: ``Database`` picks psycopg2 for it; plain SQLAlchemy wants ``normalize_url`` first.
PG_ADMIN_URL = os.environ.get("POCKETSTACK_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
#: the test RabbitMQ server (no virtual host)
AMQP_URL = os.environ.get("POCKETSTACK_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")

#: bcrypt's lowest cost for the tests' clouds and configs: every CLI command and token issue
#: checks a password, every bootstrap hashes three (50-400 ms each at the default cost 10 on
#: a busy machine, ~1 ms at 4); the default cost itself is tested in
#: tests/unit/identity/test_lockout.py
FAST_HASHES = {"password_hash_rounds": 4}

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    detail: Callable[[], str] | None = None,
) -> T:
    """Call ``predicate`` until it returns something true, and return that.

    Fails the test (``AssertionError``) after ``timeout`` seconds with ``what`` (what did not
    happen), the last value seen and ``detail()`` (e.g. the cloud's log). The deadline is a
    bound on a condition, not a measurement: a test asserts what happened, never how long
    it took.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for: {what} (last: {value!r}){extra}"
            )
        time.sleep(interval)


def wait_hypervisor_up(cloud: object, host: str, timeout: float = 10.0) -> None:
    """Wait until ``host`` is a hypervisor whose compute service is up in ``cloud`` (a
    ``pocketstack.service.Cloud``), as a user waits for ``openstack hypervisor list`` before
    booting: ``ComputeAgent.start`` reports its host with a cast and does not wait for the
    conductor to write it, so a boot sent at once may rightly find no valid host."""
    admin = RequestContext(user_id="admin", project_id="admin", roles=("admin",))
    hypervisors = cloud.compute.hypervisors  # type: ignore[attr-defined]
    wait_until(
        lambda: any(node.host == host and up for node, _, up in hypervisors.list(admin)),
        timeout,
        f"{host} to be a hypervisor that is up",
        interval=0.02,
    )


def backend_unavailable(what: str, why: object) -> NoReturn:
    """A test server (PostgreSQL, RabbitMQ) the test needs is not reachable.

    In CI (``CI`` set, as CI services set it) that is a failure: the suite must not pass
    green without the tests it could not run. Elsewhere (a laptop without the servers) the
    test is skipped with the reason.
    """
    message = f"{what} is not reachable: {why}"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{message} (CI is set: the test servers must be running)", pytrace=False)
    pytest.skip(f"{message} (set CI=true to make this a failure)")


@contextmanager
def pg_database(prefix: str, tables: sa.MetaData | None = None) -> Iterator[Database]:
    """A ``Database`` on a PostgreSQL database created for this use, dropped (forcibly, open
    sessions and all) on exit.

    Args:
        prefix: start of the database's name (a random suffix follows), e.g. ``"image_test"``.
        tables: the tables to create (``create_all``); by default every pocketstack model's.

    When the server at ``PG_ADMIN_URL`` is unreachable: ``backend_unavailable`` (fails in CI,
    skips elsewhere).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        normalize_url(PG_ADMIN_URL + "/postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server here"
        admin.dispose()
        backend_unavailable(f"PostgreSQL at {PG_ADMIN_URL}", exc.__class__.__name__)
    if tables is None:
        import_all_models()
        tables = Base.metadata
    database = Database(f"{PG_ADMIN_URL}/{name}")
    try:
        tables.create_all(database.engine)
        yield database
    finally:
        database.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def distributed_backends(name: str) -> Callable[[], None]:
    """Create the PostgreSQL database ``name`` and the RabbitMQ virtual host ``name`` (the
    guest user allowed everything on it), for a cloud run in distributed mode.

    Returns a function that removes both (the database dropped with its open sessions, the
    virtual host deleted); it may be called more than once and after a partial creation.

    Raises:
        subprocess.CalledProcessError: ``psql`` or ``rabbitmqctl`` failed (server down); what
            was created before the failure is removed first.
    """

    def remove() -> None:
        drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        subprocess.run(["psql", PG_ADMIN_URL + "/postgres", "-c", drop], capture_output=True)
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)

    try:
        for command in (
            ["psql", PG_ADMIN_URL + "/postgres", "-c", f"CREATE DATABASE {name}"],
            ["rabbitmqctl", "add_vhost", name],
            ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        ):
            subprocess.run(command, check=True, capture_output=True, timeout=60)
    except subprocess.CalledProcessError:
        remove()
        raise
    return remove


class FixedTokens:
    """A token validator for an API driven in-process: each known token string stands for
    a fixed caller; any other is 401, as Keystone would answer.

    Args:
        callers: token string -> the ``RequestContext`` it stands for.
    """

    def __init__(self, callers: Mapping[str, RequestContext]):
        self.callers = dict(callers)

    def validate(self, token: str) -> RequestContext:
        """The caller of ``token``; raises ``errors.Unauthorized`` for an unknown one."""
        if token not in self.callers:
            raise errors.Unauthorized()
        return self.callers[token]


def service_app(api: ServiceAPI, conf: Config, cloud: object, tokens: FixedTokens) -> Starlette:
    """One service's ``ServiceAPI`` mounted alone on a Starlette app, callers fixed by
    ``tokens`` (for a ``TestClient``)."""
    state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=tokens)
    return Starlette(routes=[api.mount(state)])


#: user_data of the shelve tests (issue 10): write and sync a mark on the root filesystem,
#: and a line in rcS printing it at every boot (user_data runs once per instance: the guest
#: remembers it on that filesystem too)
SHELVE_SCRIPT = r"""#!/bin/sh
echo "written-by-$(hostname)" >/root/shelve-test-mark
echo 'echo "SHELVETEST-FILE $(cat /root/shelve-test-mark)"' >>/etc/init.d/rcS
sync
echo "SHELVETEST-WROTE $(cat /root/shelve-test-mark)"
"""


def wait_console(
    cloud: object,
    server: str,
    pattern: str,
    timeout: float = 150,
    *,
    as_cloud: str = "pocketstack-demo",
) -> str:
    """Wait until ``openstack console log show <server>`` (as ``as_cloud``) matches the
    regular expression ``pattern``; return the matched text (``AssertionError`` with the log's
    tail after ``timeout`` seconds). ``cloud`` is a running cloud of ``tests.conftest``."""
    import re

    log = ""

    def shown() -> re.Match[str] | None:
        nonlocal log
        log = cloud.openstack(  # type: ignore[attr-defined]
            "console", "log", "show", server, cloud=as_cloud, json_output=False
        )
        return re.search(pattern, log)

    match = wait_until(
        shown, timeout, f"{pattern!r} on {server}'s console", detail=lambda: log[-2000:]
    )
    return match.group(0)


def netns_of(pid: int) -> str:
    """The name of the network namespace process ``pid`` runs in ("" for the root one)."""
    out = subprocess.run(
        ["ip", "netns", "identify", str(pid)], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()
