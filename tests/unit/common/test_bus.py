"""One contract suite for every bus backend: in-process, and RabbitMQ through kombu."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import InProcessBus, MessagingTimeout, RemoteError

AMQP = "amqp://guest:guest@127.0.0.1:5672"


class Echo:
    """A test endpoint recording what it received."""

    def __init__(self):
        self.casts: list[tuple[str, dict]] = []
        self.event = threading.Event()

    def echo(self, ctx, value):
        return {"value": value, "project_id": ctx.project_id, "request_id": ctx.request_id}

    def missing(self, ctx, name):
        raise errors.NotFound(f"{name} could not be found.")

    def boom(self, ctx):
        raise ValueError("broken")

    def slow(self, ctx, seconds):
        time.sleep(seconds)
        return "late"

    def remember(self, ctx, item):
        self.casts.append((ctx.user_id, item))
        self.event.set()


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
        pytest.skip(f"RabbitMQ not available: {exc}")
    return name


@pytest.fixture(params=["memory", "amqp"])
def bus_pair(request):
    """(server bus, client bus): the same object in-process; two connections on AMQP."""
    if request.param == "memory":
        bus = InProcessBus(workers=4)
        yield bus, bus
        bus.stop()
        return
    from pocketstack.common.bus_kombu import KombuBus

    vhost = _vhost()
    server, client = KombuBus(f"{AMQP}/{vhost}"), KombuBus(f"{AMQP}/{vhost}")
    yield server, client
    client.stop()
    server.stop()
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=60)


CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


def _served(server, target="compute.node1"):
    endpoint = Echo()
    server.serve(target, endpoint)
    return endpoint


def test_call_returns_result_and_carries_context(bus_pair):
    server, client = bus_pair
    _served(server)
    result = client.call(CTX, "compute.node1", "echo", value=[1, "two"])
    assert result == {"value": [1, "two"], "project_id": "p1", "request_id": CTX.request_id}


def test_call_reraises_project_errors_as_their_class(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(errors.NotFound, match="vm1 could not be found"):
        client.call(CTX, "compute.node1", "missing", name="vm1")


def test_unexpected_errors_become_remote_errors(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(RemoteError, match="ValueError: broken"):
        client.call(CTX, "compute.node1", "boom")


def test_private_and_unknown_methods_are_refused(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(RemoteError):
        client.call(CTX, "compute.node1", "_served")
    with pytest.raises(RemoteError):
        client.call(CTX, "compute.node1", "nope")


def test_call_times_out(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(MessagingTimeout):
        client.call(CTX, "compute.node1", "slow", timeout=0.5, seconds=2)


def test_call_to_nobody_times_out(bus_pair):
    _server, client = bus_pair
    with pytest.raises(MessagingTimeout):
        client.call(CTX, "compute.nowhere", "echo", timeout=1, value=1)


def test_cast_is_delivered(bus_pair):
    server, client = bus_pair
    endpoint = _served(server)
    client.cast(CTX, "compute.node1", "remember", item="x")
    assert endpoint.event.wait(10)
    assert endpoint.casts == [("u1", "x")]


def test_fanout_reaches_every_host_of_a_topic(bus_pair):
    server, client = bus_pair
    one = _served(server, "compute.node1")
    two = _served(server, "compute.node2")
    client.fanout(CTX, "compute", "remember", item="all")
    assert one.event.wait(10) and two.event.wait(10)
    assert one.casts == [("u1", "all")] and two.casts == [("u1", "all")]


def test_payload_must_be_json(bus_pair):
    server, client = bus_pair
    _served(server)
    with pytest.raises(TypeError):
        client.cast(CTX, "compute.node1", "remember", item=object())
