"""One contract suite for every bus backend: in-process, and RabbitMQ through kombu."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import uuid

import pytest

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import (
    CALL,
    CAST,
    InProcessBus,
    Message,
    MessageRefused,
    MessageTable,
    MessagingTimeout,
    RemoteError,
)
from tests.helpers import AMQP_URL, backend_unavailable


class Echo:
    """A test endpoint recording what it received."""

    def __init__(self):
        self.casts: list[tuple[str, dict]] = []
        self.event = threading.Event()
        self.release = threading.Event()

    def echo(self, ctx, value):
        return {"value": value, "project_id": ctx.project_id, "request_id": ctx.request_id}

    def missing(self, ctx, name):
        raise errors.NotFound(f"{name} could not be found.")

    def boom(self, ctx):
        raise ValueError("broken")

    def slow(self, ctx, seconds):
        """Answers only once the test lets it (``release``), or after ``seconds``."""
        self.release.wait(seconds)
        return "late"

    def remember(self, ctx, item):
        self.casts.append((ctx.user_id, item))
        self.event.set()

    def undeclared(self, ctx):
        """Public, but not in the table: the bus must never run it."""
        raise AssertionError("an undeclared method ran")


TABLE = MessageTable(
    "compute",
    [
        Message("echo", CALL, timeout=10),
        Message("missing", CALL, timeout=10),
        Message("boom", CALL, timeout=10),
        Message("slow", CALL, timeout=0.5),
        Message("remember", CAST),
    ],
)
ECHO, MISSING, BOOM, SLOW, REMEMBER = (
    TABLE[n] for n in ("echo", "missing", "boom", "slow", "remember")
)


def _vhost():
    name = f"pstest_bus_{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(
            ["rabbitmqctl", "add_vhost", name], check=True, capture_output=True, timeout=60
        )
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        backend_unavailable("RabbitMQ", exc)
    return name


@contextlib.contextmanager
def _pair(kind, tmp_path, workers=None):
    """(server bus, client bus) of backend ``kind``, the server with ``workers`` handler
    threads a lane (None: 4 in-process, kombu's default): the same object in-process; two
    connections on AMQP (a vhost of the test's own) and on kombu's filesystem transport (a
    bus directory of the test's own)."""
    if kind == "memory":
        bus = InProcessBus(workers=workers or 4)
        try:
            yield bus, bus
        finally:
            bus.stop()
        return
    from pocketstack.common.bus_kombu import KombuBus

    vhost = None
    if kind == "filesystem":
        from kombu.transport.filesystem import Transport

        # kombu remembers bindings per process, not per folder: forget the last test's
        Transport.global_state.clear()
        url = f"filesystem://{tmp_path}/bus"
    else:
        vhost = _vhost()
        url = f"{AMQP_URL}/{vhost}"
    server = KombuBus(url, workers=workers) if workers else KombuBus(url)
    try:
        client = KombuBus(url)
        try:
            yield server, client
        finally:
            client.stop()
    finally:
        server.stop()
        if vhost:
            subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture(params=["memory", "amqp", "filesystem"])
def bus_pair(request, tmp_path):
    """(server bus, client bus) on each backend (``_pair``)."""
    with _pair(request.param, tmp_path) as pair:
        yield pair


CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


def _served(server, target="compute.node1"):
    endpoint = Echo()
    server.serve(target, endpoint, TABLE)
    return endpoint


def test_call_returns_result_and_carries_context(bus_pair):
    server, client = bus_pair
    _served(server)
    result = client.call(CTX, "compute.node1", ECHO, value=[1, "two"])
    assert result == {"value": [1, "two"], "project_id": "p1", "request_id": CTX.request_id}


def test_call_reraises_project_errors_as_their_class(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(errors.NotFound, match="vm1 could not be found"):
        client.call(CTX, "compute.node1", MISSING, name="vm1")


def test_unexpected_errors_become_remote_errors(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(RemoteError, match="ValueError: broken"):
        client.call(CTX, "compute.node1", BOOM)


def test_a_bug_behind_a_call_is_logged_once_with_its_traceback_where_it_happened(bus_pair, caplog):
    server, client = bus_pair
    _served(server)
    with caplog.at_level(logging.INFO, logger="pocketstack.common"):
        with pytest.raises(RemoteError):
            client.call(CTX, "compute.node1", BOOM)
        with pytest.raises(errors.NotFound):  # an expected error: the caller's to report
            client.call(CTX, "compute.node1", MISSING, name="vm1")
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert "ValueError: broken" in caplog.text


def test_only_declared_messages_are_dispatched(bus_pair):
    server, client = bus_pair
    endpoint = _served(server)
    for name in ("undeclared", "_served", "nope"):  # public, private, absent
        with pytest.raises(MessageRefused, match="does not accept"):
            client.call(CTX, "compute.node1", Message(name, CALL, timeout=10))
    client.cast(CTX, "compute.node1", Message("undeclared", CAST))  # refused, logged
    assert client.call(CTX, "compute.node1", ECHO, value=1)["value"] == 1  # declared: runs
    assert endpoint.casts == []


def test_a_message_must_have_its_declared_kind_and_version(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(MessageRefused, match="is a cast, not a call"):
        client.call(CTX, "compute.node1", Message("remember", CALL, timeout=10), item="x")
    with pytest.raises(MessageRefused, match="payload version 1, not 2"):
        client.call(CTX, "compute.node1", Message("echo", CALL, timeout=10, version=2), value=1)
    with pytest.raises(ValueError):  # the sender checks the kind before sending
        client.cast(CTX, "compute.node1", ECHO, value=1)


def test_serve_refuses_an_endpoint_missing_a_declared_message(bus_pair):
    server, _client = bus_pair
    with pytest.raises(TypeError, match="remember"):
        server.serve("compute.node1", object(), MessageTable("compute", [REMEMBER]))


def test_unserve_stops_delivery_and_serve_resumes_it(bus_pair):
    server, client = bus_pair
    _served(server)
    server.unserve("compute.node1")
    with pytest.raises(MessagingTimeout):
        client.call(CTX, "compute.node1", Message("echo", CALL, timeout=1), value=1)
    server.unserve("compute.node1")  # not served: no-op
    _served(server)
    assert client.call(CTX, "compute.node1", ECHO, value=2)["value"] == 2


def test_payload_arguments_may_have_any_name(bus_pair):
    server, client = bus_pair
    _served(server)
    table = MessageTable("compute", [Message("echo", CALL, timeout=10)])
    # ``message`` goes to the endpoint (which does not take it), not to the bus verb
    with pytest.raises(RemoteError, match="unexpected keyword argument 'message'"):
        client.call(CTX, "compute.node1", table["echo"], value=1, message="m")


def test_call_times_out(bus_pair):
    server, client = bus_pair
    endpoint = _served(server)
    try:
        with pytest.raises(MessagingTimeout):
            client.call(CTX, "compute.node1", SLOW, seconds=30)
    finally:
        endpoint.release.set()  # the answer comes only after the caller gave up


def test_call_to_nobody_times_out(bus_pair):
    _server, client = bus_pair
    with pytest.raises(MessagingTimeout):
        client.call(CTX, "compute.nowhere", Message("echo", CALL, timeout=1), value=1)


def test_cast_is_delivered(bus_pair):
    server, client = bus_pair
    endpoint = _served(server)
    client.cast(CTX, "compute.node1", REMEMBER, item="x")
    assert endpoint.event.wait(10)
    assert endpoint.casts == [("u1", "x")]


def test_fanout_reaches_every_host_of_a_topic(bus_pair):
    server, client = bus_pair
    one = _served(server, "compute.node1")
    two = _served(server, "compute.node2")
    client.fanout(CTX, "compute", REMEMBER, item="all")
    assert one.event.wait(10) and two.event.wait(10)
    assert one.casts == [("u1", "all")] and two.casts == [("u1", "all")]


def test_payload_must_be_json(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(TypeError):
        client.cast(CTX, "compute.node1", REMEMBER, item=object())


class _Relay:
    """Handles each cast by calling ``echo`` on another target (as the compute agent calls
    the conductor while it handles a cast)."""

    def __init__(self, bus, count):
        self.bus = bus
        self.answers: list[int] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.count = count
        self.hold = threading.Barrier(count, timeout=10)

    def relay(self, ctx, value):
        self.hold.wait()  # every worker is busy in a handler before any of them calls
        answer = self.bus.call(ctx, "conductor", ECHO, value=value)["value"]
        with self.lock:
            self.answers.append(answer)
            if len(self.answers) == self.count:
                self.done.set()


def test_handlers_calling_while_every_worker_is_busy_do_not_deadlock():
    bus = InProcessBus(workers=4)
    try:
        relay = _Relay(bus, 4)
        bus.serve("conductor", Echo(), TABLE)
        bus.serve("compute.node1", relay, MessageTable("compute", [Message("relay", CAST)]))
        for value in range(4):
            bus.cast(CTX, "compute.node1", Message("relay", CAST), value=value)
        assert relay.done.wait(10), relay.answers
        assert sorted(relay.answers) == [0, 1, 2, 3]
    finally:
        bus.stop()


class _Workflows:
    """A long workflow that holds its worker until released, and a short report."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.busy = threading.Event()
        self.reported = threading.Event()

    def build(self, ctx) -> None:
        self.busy.set()
        self.release.wait(10)

    def report(self, ctx) -> None:
        self.reported.set()


def test_a_message_of_another_lane_is_handled_while_every_shared_worker_is_busy():
    """1,000 queued builds must not keep heartbeats waiting (Message.lane)."""
    bus = InProcessBus(workers=1)
    build, report = Message("build", CAST), Message("report", CAST, lane="reports")
    table = MessageTable("conductor", [build, report])
    handler = _Workflows()
    try:
        bus.serve("conductor", handler, table)
        bus.cast(CTX, "conductor", build)
        assert handler.busy.wait(10)
        bus.cast(CTX, "conductor", build)  # queued behind the first
        bus.cast(CTX, "conductor", report)
        assert handler.reported.wait(10), "the report waited behind the builds"
    finally:
        handler.release.set()
        bus.stop()


def test_a_table_lane_applies_to_its_messages_that_name_none():
    table = MessageTable(
        "compute", [Message("spawn", CAST), Message("beat", CAST, lane="reports")], lane="agents"
    )
    assert (table["spawn"].lane, table["beat"].lane) == ("agents", "reports")
    assert MessageTable("conductor", [Message("build", CAST)])["build"].lane == ""


REPORT_TABLE = MessageTable(
    "conductor",
    [
        Message("build", CAST),
        Message("report", CAST, lane="reports"),
        Message("ping", CALL, timeout=10, lane="reports"),
    ],
)


class _Conductor(_Workflows):
    """``_Workflows`` recording its reports, answering pings."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[str] = []

    def report(self, ctx, host="") -> None:
        self.reports.append(host)
        super().report(ctx)

    def ping(self, ctx) -> str:
        return "pong"


@pytest.mark.parametrize("kind", ["memory", "amqp", "filesystem"])
def test_a_report_is_handled_while_every_operation_worker_is_busy(kind, tmp_path):
    """On RabbitMQ too, heartbeats of 1,000 hosts must not queue behind builds
    (``Message.lane``: a queue and handler threads of the lane's own)."""
    with _pair(kind, tmp_path, workers=1) as (server, client):
        handler = _Conductor()
        server.serve("conductor", handler, REPORT_TABLE)
        try:
            client.cast(CTX, "conductor", REPORT_TABLE["build"])
            assert handler.busy.wait(10)
            for _ in range(3):  # queued behind the first, whose worker is held
                client.cast(CTX, "conductor", REPORT_TABLE["build"])
            client.cast(CTX, "conductor", REPORT_TABLE["report"], host="node1")
            assert handler.reported.wait(10), "the report waited behind the builds"
            assert client.call(CTX, "conductor", REPORT_TABLE["ping"]) == "pong"
        finally:
            handler.release.set()


@pytest.mark.parametrize("kind", ["amqp", "filesystem"])
def test_reports_cast_before_any_server_or_across_its_restart_are_handled(kind, tmp_path):
    """A cast declares its lane's durable queue: sent before the conductor ever ran, or
    while it restarts, a report waits for it (the exchange alone dropped the first)."""
    from pocketstack.common.bus_kombu import KombuBus

    with _pair(kind, tmp_path) as (first, client):
        client.cast(CTX, "conductor", REPORT_TABLE["report"], host="before")
        client.cast(CTX, "conductor", REPORT_TABLE["build"])
        handler = _Conductor()
        first.serve("conductor", handler, REPORT_TABLE)
        try:
            assert handler.reported.wait(10), "the report sent before any server was lost"
            assert handler.busy.wait(10), "the build sent before any server was lost"
        finally:
            handler.release.set()
        first.stop()  # the conductor's process restarts
        client.cast(CTX, "conductor", REPORT_TABLE["report"], host="during")
        restarted = KombuBus(first.url)
        try:
            again = _Conductor()
            restarted.serve("conductor", again, REPORT_TABLE)
            assert again.reported.wait(10), "the report queued during the restart was lost"
            assert again.reports == ["during"]
        finally:
            restarted.stop()
