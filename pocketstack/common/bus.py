"""The message bus: the only path between controllers and agents.

Three verbs, on a *target* ``topic`` or ``topic.host`` (``compute.node1``, ``conductor``):

- ``call(ctx, target, message, **args)``: send and wait for the result (RPC).
- ``cast(ctx, target, message, **args)``: fire and forget.
- ``fanout(ctx, topic, message, **args)``: a cast to every server of ``topic``, on any host.

The bus carries only *declared* messages. Every server kind declares one ``MessageTable``
(in its service's ``rpcapi.py``): each ``Message`` has a name, a kind (``call`` or
``cast``), a timeout for calls and a payload version. The sender's typed client sends the
table's ``Message``; the receiver registers ``serve(target, endpoint, table)`` and a message
runs ``endpoint.<name>(ctx, **args)`` (``ctx`` is the sender's ``RequestContext``) only when
the table declares that name, with that kind and payload version. Anything else is refused
with ``MessageRefused`` (a call's sender gets it raised; a refused cast is logged). So the
same operation name appears in the client, the table and the endpoint, and no other public
method of an endpoint is reachable over the bus. Payloads are JSON::

    {"v": 1, "method": "build_and_run_instance", "version": 1, "args": {...},
     "context": {...}}

(``v`` is the envelope's format, ``version`` the payload version of that message.) The
verbs take ``ctx``, ``target`` and ``message`` positionally only, so a payload argument may
have any name.

Errors raised by the endpoint travel back to a ``call``er as the same ``PocketError`` class
when it is one (``RemoteError`` otherwise).

Backends: ``InProcessBus`` (``memory://``; embedded mode, one process) and
``pocketstack.common.bus_kombu.KombuBus`` (``amqp://``: RabbitMQ through kombu; or
``filesystem:///<dir>``: kombu's filesystem transport, several processes of one machine).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Literal

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext

LOG = logging.getLogger(__name__)

VERSION = 1
DEFAULT_TIMEOUT = 60.0


class RemoteError(errors.PocketError):
    """An endpoint failed with an exception that is not a ``PocketError``."""

    status = 500
    title = "Remote Error"


class MessagingTimeout(errors.ServiceUnavailable):
    """A ``call`` got no answer within its timeout (the peer is down or busy)."""


class MessageRefused(RemoteError):
    """The receiver does not declare the message: unknown name, wrong kind (a call of a
    cast or the reverse) or a payload version it does not speak."""


CALL: Literal["call"] = "call"
CAST: Literal["cast"] = "cast"


@dataclass(frozen=True)
class Message:
    """One declared bus message.

    Attributes:
        name: the operation, also the name of the typed client's method and of the
            endpoint's method that handles it.
        kind: ``CALL`` (the sender waits for the result) or ``CAST`` (fire and forget;
            also what ``fanout`` sends).
        timeout: seconds a ``call`` waits before ``MessagingTimeout``; unused for casts.
        version: the payload version; bump it when the arguments change meaning, and the
            receiver refuses any other version.
        lane: the pool of handler threads that runs it ("": the table's lane, else the
            shared pool); on RabbitMQ also its queue (``bus_kombu``). Short, frequent
            messages (an agent's heartbeats and reports) get a lane of their own, so they
            never wait behind long workflows (1,000 queued builds kept heartbeats from
            being written: hosts looked down). Messages of one lane from one sender to one
            target start in the order sent; across lanes there is no order.
    """

    name: str
    kind: Literal["call", "cast"]
    timeout: float = DEFAULT_TIMEOUT
    version: int = 1
    lane: str = ""


class MessageTable:
    """The messages one server kind (a bus topic) accepts: the single declaration used by
    the sender's typed client (``table["name"]``) and the receiver's dispatch (``serve``).

    Args:
        topic: the topic its servers serve (``compute``, ``conductor``), named in errors.
        messages: the declared messages; names must be unique.
        lane: the lane of the messages that name none (``Message.lane``).

    Raises:
        ValueError: a name declared twice, or a private name (starting with ``_``).
    """

    def __init__(self, topic: str, messages: Iterable[Message], lane: str = ""):
        self.topic = topic
        self._messages: dict[str, Message] = {}
        for message in messages:
            if message.name in self._messages or message.name.startswith("_"):
                raise ValueError(f"{topic}: bad or duplicate message name {message.name!r}")
            if not message.lane and lane:
                message = dataclasses.replace(message, lane=lane)
            self._messages[message.name] = message

    def __getitem__(self, name: str) -> Message:
        """The declared message ``name``; raises KeyError when it is not declared."""
        return self._messages[name]

    def __contains__(self, name: object) -> bool:
        return name in self._messages

    def __iter__(self) -> Iterator[Message]:
        return iter(self._messages.values())

    def __len__(self) -> int:
        return len(self._messages)

    def check_endpoint(self, endpoint: Any) -> None:
        """Raise TypeError unless ``endpoint`` has a method for every declared message."""
        missing = [m.name for m in self if not callable(getattr(endpoint, m.name, None))]
        if missing:
            raise TypeError(
                f"{type(endpoint).__name__} does not handle {self.topic} messages {missing}"
            )

    def accept(self, name: str, kind: str, version: int | None) -> Message:
        """The declared message a received ``name`` stands for.

        Raises:
            MessageRefused: ``name`` is not declared, or is declared with another kind or
                payload version.
        """
        message = self._messages.get(name)
        if message is None:
            raise MessageRefused(f"{self.topic} does not accept the message {name!r}.")
        if message.kind != kind:
            raise MessageRefused(
                f"{self.topic} message {name!r} is a {message.kind}, not a {kind}."
            )
        if version != message.version:
            raise MessageRefused(
                f"{self.topic} message {name!r} has payload version {message.version}, "
                f"not {version!r}."
            )
        return message


def encode(message: Message, ctx: RequestContext, args: dict[str, Any]) -> str:
    """Serialize a message; raises TypeError for a payload that is not JSON-safe."""
    return json.dumps(
        {
            "v": VERSION,
            "method": message.name,
            "version": message.version,
            "args": args,
            "context": ctx.to_dict(),
        }
    )


def decode(raw: str | bytes) -> tuple[str, int | None, RequestContext, dict[str, Any]]:
    """Parse a message into ``(name, payload version, ctx, args)``.

    Raises:
        ValueError: malformed JSON, or an envelope format other than ``VERSION``.
    """
    data = json.loads(raw)
    if data.get("v") != VERSION:
        raise ValueError(f"unsupported message version {data.get('v')!r}")
    ctx = RequestContext.from_dict(data.get("context") or {})
    return data["method"], data.get("version"), ctx, data["args"]


def dispatch(endpoint: Any, table: MessageTable, raw: str | bytes, kind: str) -> Any:
    """Decode ``raw`` and run ``endpoint.<name>(ctx, **args)`` if ``table`` declares it.

    Args:
        kind: how it arrived: ``CALL`` (an answer is awaited) or ``CAST``.

    Raises:
        MessageRefused: see ``MessageTable.accept``; ValueError: a malformed message;
        whatever the endpoint raises.
    """
    name, version, ctx, args = decode(raw)
    message = table.accept(name, kind, version)
    return getattr(endpoint, message.name)(ctx, **args)


def require_kind(message: Message, kind: str) -> None:
    """Raise ValueError unless ``message`` is declared with ``kind`` (a sender's check)."""
    if message.kind != kind:
        raise ValueError(f"{message.name!r} is declared as a {message.kind}, not a {kind}")


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """A failure as JSON: the ``PocketError`` class name, status and message."""
    if isinstance(exc, errors.PocketError):
        return {"class": type(exc).__name__, "status": exc.status, "message": exc.message}
    return {"class": "RemoteError", "status": 500, "message": f"{type(exc).__name__}: {exc}"}


def error_from_wire(data: dict[str, Any]) -> errors.PocketError:
    """Rebuild a failure: the same class when it is a known ``PocketError``."""
    cls = _find_error_class(data.get("class", ""))
    err = cls(data.get("message"))
    err.status = data.get("status", err.status)
    return err


def _find_error_class(name: str) -> type[errors.PocketError]:
    stack: list[type[errors.PocketError]] = [errors.PocketError]
    while stack:
        cls = stack.pop()
        if cls.__name__ == name:
            return cls
        stack.extend(cls.__subclasses__())
    return RemoteError


class Bus(ABC):
    """A message bus backend (see the module docstring for the semantics)."""

    @abstractmethod
    def call(self, ctx: RequestContext, target: str, message: Message, /, **args: Any) -> Any:
        """Send and wait up to ``message.timeout``; returns the endpoint's JSON-safe result.

        Raises:
            ValueError: ``message`` is declared as a cast.
            MessagingTimeout: no answer in time (or no server for target).
            MessageRefused: the receiver does not declare the message.
            PocketError: the endpoint's own error, rebuilt.
        """

    @abstractmethod
    def cast(self, ctx: RequestContext, target: str, message: Message, /, **args: Any) -> None:
        """Send without waiting. A message to a target with no server is queued (AMQP) or
        dropped with a warning (in-process, where no server can appear later).

        Raises:
            ValueError: ``message`` is declared as a call.
        """

    @abstractmethod
    def fanout(self, ctx: RequestContext, topic: str, message: Message, /, **args: Any) -> None:
        """Cast to every server of ``topic`` (all hosts).

        Raises:
            ValueError: ``message`` is declared as a call.
        """

    @abstractmethod
    def serve(self, target: str, endpoint: Any, table: MessageTable) -> None:
        """Deliver the messages ``table`` declares for ``target`` (``topic`` or
        ``topic.host``) to ``endpoint``'s methods of the same names; refuse all others.

        A server of ``compute.node1`` also receives ``fanout("compute", ...)``.

        Raises:
            TypeError: ``endpoint`` lacks a method for a declared message.
        """

    @abstractmethod
    def unserve(self, target: str) -> None:
        """Stop delivering messages for ``target`` in this process (no-op when not served).
        Casts sent afterwards wait in the target's queue (AMQP) or are dropped
        (in-process)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop consuming and release connections; waits for running handlers briefly."""

    def send(self, ctx: RequestContext, target: str, message: Message, /, **args: Any) -> Any:
        """``call`` or ``cast`` as ``message`` is declared; a cast returns None."""
        if message.kind == CALL:
            return self.call(ctx, target, message, **args)
        self.cast(ctx, target, message, **args)
        return None


class InProcessBus(Bus):
    """The embedded bus: targets map to endpoint objects in this process.

    Messages still go through JSON (``encode``/``dispatch``) so that what works here works
    on RabbitMQ. Handlers run on a thread pool of ``workers`` threads, one pool per lane
    (``Message.lane``): the conductor's workflows, the agents' operations and the agents'
    reports do not queue behind one another. A ``call`` made by a
    handler (the compute agent asking the conductor while it handles a cast) runs in the
    handler's own thread instead: handlers waiting on calls queued behind them would
    otherwise exhaust the pool and deadlock. Such a nested call is not bounded by its
    timeout (the callee is in this process and cannot be "down").
    """

    def __init__(self, workers: int = 32):
        self._endpoints: dict[str, tuple[Any, MessageTable]] = {}
        self._lock = threading.Lock()
        #: ``worker`` is set in this bus's pool threads: a ``call`` made there is nested
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="bus", initializer=self._mark_worker
        )
        #: a pool of ``workers`` threads per named lane (``Message.lane``), made on use
        self._workers = workers
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._stopped = False

    def _pool_of(self, server: tuple[Any, MessageTable], name: str) -> ThreadPoolExecutor:
        """The pool that runs message ``name`` of ``server``'s table: its lane's, or the
        shared one."""
        lane = server[1][name].lane if name in server[1] else ""
        if not lane:
            return self._pool
        with self._lock:
            pool = self._lanes.get(lane)
            if pool is None:
                pool = self._lanes[lane] = ThreadPoolExecutor(
                    max_workers=self._workers,
                    thread_name_prefix=f"bus-{lane}",
                    initializer=self._mark_worker,
                )
            return pool

    def _mark_worker(self) -> None:
        """Pool thread initializer: mark the thread as one that runs this bus's handlers."""
        self._local.worker = True

    def serve(self, target: str, endpoint: Any, table: MessageTable) -> None:
        table.check_endpoint(endpoint)
        with self._lock:
            self._endpoints[target] = (endpoint, table)

    def unserve(self, target: str) -> None:
        with self._lock:
            self._endpoints.pop(target, None)

    def _server(self, target: str) -> tuple[Any, MessageTable] | None:
        with self._lock:
            return self._endpoints.get(target)

    @staticmethod
    def _run(raw: str, server: tuple[Any, MessageTable], kind: str) -> Any:
        endpoint, table = server
        return json.loads(json.dumps(dispatch(endpoint, table, raw, kind)))

    def call(self, ctx: RequestContext, target: str, message: Message, /, **args: Any) -> Any:
        require_kind(message, CALL)
        raw = encode(message, ctx, args)
        server = self._server(target)
        if server is None or self._stopped:
            raise MessagingTimeout(f"No server for {target} answered {message.name}.")
        try:
            if getattr(self._local, "worker", False):  # a handler's call: run it here
                return self._run(raw, server, CALL)
            pool = self._pool_of(server, message.name)
            return pool.submit(self._run, raw, server, CALL).result(timeout=message.timeout)
        except FutureTimeout:
            raise MessagingTimeout(
                f"Timed out after {message.timeout}s waiting for {target} to answer {message.name}."
            ) from None
        except errors.PocketError:
            raise
        except Exception as exc:
            # A bug in the endpoint: its traceback is logged here, where it happened (the
            # caller only gets a RemoteError, as it would from another process).
            LOG.error("%s on %s failed", message.name, target, exc_info=exc)
            raise error_from_wire(error_to_wire(exc)) from exc

    def cast(self, ctx: RequestContext, target: str, message: Message, /, **args: Any) -> None:
        require_kind(message, CAST)
        raw = encode(message, ctx, args)
        server = self._server(target)
        if server is None or self._stopped:
            LOG.warning("cast %s to %s dropped: no server", message.name, target)
            return
        self._pool_of(server, message.name).submit(self._logged, raw, server, target)

    def fanout(self, ctx: RequestContext, topic: str, message: Message, /, **args: Any) -> None:
        require_kind(message, CAST)
        raw = encode(message, ctx, args)
        with self._lock:
            targets = [
                (t, server)
                for t, server in self._endpoints.items()
                if t == topic or t.startswith(topic + ".")
            ]
        for target, server in targets:
            self._pool_of(server, message.name).submit(self._logged, raw, server, target)

    def _logged(self, raw: str, server: tuple[Any, MessageTable], target: str) -> None:
        try:
            self._run(raw, server, CAST)
        except Exception:
            LOG.exception("cast to %s failed", target)

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            lanes = list(self._lanes.values())
        for pool in [self._pool, *lanes]:
            pool.shutdown(wait=True, cancel_futures=True)


def connect(url: str) -> Bus:
    """The bus for a transport URL: ``memory://``, ``amqp://...`` or ``filesystem:///<dir>``.

    Raises:
        ValueError: an unknown scheme.
    """
    if url.startswith("memory:"):
        return InProcessBus()
    if url.startswith(("amqp:", "pyamqp:", "filesystem:")):
        from pocketstack.common.bus_kombu import KombuBus

        return KombuBus(url)
    raise ValueError(f"unknown transport {url!r}: use memory://, amqp:// or filesystem:///<dir>")
