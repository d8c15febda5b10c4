"""What every kind of test shares: where the test servers are, a free port, waiting for a
condition with a deadline, and what to do when PostgreSQL or RabbitMQ is not there.

Plain functions (no fixtures), so bench/ can use them too.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import NoReturn, TypeVar

import pytest

#: libpq-style URL of the test PostgreSQL server (no database): ``psql`` takes it as is,
#: ``Database`` picks psycopg2 for it; plain SQLAlchemy wants ``normalize_url`` first.
PG_ADMIN_URL = os.environ.get("POCKETSTACK_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
#: the test RabbitMQ server (no virtual host)
AMQP_URL = os.environ.get("POCKETSTACK_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")

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
