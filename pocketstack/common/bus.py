"""The message bus: the only path between controllers and agents.

Three verbs, on a *target* ``topic`` or ``topic.host`` (``compute.node1``, ``conductor``):

- ``call(target, method, timeout=..., **args)``: send and wait for the result (RPC).
- ``cast(target, method, **args)``: fire and forget.
- ``fanout(topic, method, **args)``: every server of ``topic``, on any host.

A server side registers an *endpoint* object with ``serve(target, endpoint)``; a message
``method`` runs ``endpoint.<method>(ctx, **args)`` where ``ctx`` is the sender's
``RequestContext``. Payloads are JSON with a version field::

    {"v": 1, "method": "build_and_run_instance", "args": {...}, "context": {...}}

Errors raised by the endpoint travel back to a ``call``er as the same ``PocketError`` class
when it is one (``RemoteError`` otherwise). Every service declares its messages in one table
(``MESSAGES`` in its ``rpcapi.py``) with a typed client on top of this module.

Backends: ``InProcessBus`` (``memory://``; embedded mode, one process) and
``pocketstack.common.bus_kombu.KombuBus`` (``amqp://``; RabbitMQ through kombu).
"""

from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

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


def encode(method: str, ctx: RequestContext, args: dict[str, Any]) -> str:
    """Serialize a message; raises TypeError for a payload that is not JSON-safe."""
    return json.dumps({"v": VERSION, "method": method, "args": args, "context": ctx.to_dict()})


def decode(raw: str | bytes) -> tuple[str, RequestContext, dict[str, Any]]:
    """Parse a message into ``(method, ctx, args)``; raises ValueError when malformed."""
    data = json.loads(raw)
    if data.get("v") != VERSION:
        raise ValueError(f"unsupported message version {data.get('v')!r}")
    return data["method"], RequestContext.from_dict(data.get("context") or {}), data["args"]


def dispatch(endpoint: Any, method: str, ctx: RequestContext, args: dict[str, Any]) -> Any:
    """Run ``endpoint.<method>(ctx, **args)``; private names are refused."""
    if method.startswith("_") or not callable(getattr(endpoint, method, None)):
        raise RemoteError(f"unknown method {method!r} on {type(endpoint).__name__}")
    return getattr(endpoint, method)(ctx, **args)


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
    def call(
        self,
        ctx: RequestContext,
        target: str,
        method: str,
        timeout: float = DEFAULT_TIMEOUT,
        **args: Any,
    ) -> Any:
        """Send and wait; returns the endpoint's JSON-safe result.

        Raises:
            MessagingTimeout: no answer within ``timeout`` seconds (or no server for target).
            PocketError: the endpoint's own error, rebuilt.
        """

    @abstractmethod
    def cast(self, ctx: RequestContext, target: str, method: str, **args: Any) -> None:
        """Send without waiting. A message to a target with no server is queued (AMQP) or
        dropped with a warning (in-process, where no server can appear later)."""

    @abstractmethod
    def fanout(self, ctx: RequestContext, topic: str, method: str, **args: Any) -> None:
        """Send to every server of ``topic`` (all hosts)."""

    @abstractmethod
    def serve(self, target: str, endpoint: Any) -> None:
        """Deliver messages for ``target`` (``topic`` or ``topic.host``) to ``endpoint``.

        A server of ``compute.node1`` also receives ``fanout("compute", ...)``.
        """

    @abstractmethod
    def stop(self) -> None:
        """Stop consuming and release connections; waits for running handlers briefly."""


class InProcessBus(Bus):
    """The embedded bus: targets map to endpoint objects in this process.

    Messages still go through JSON (``encode``/``decode``) so that what works here works on
    RabbitMQ. Handlers run on a thread pool of ``workers`` threads.
    """

    def __init__(self, workers: int = 32):
        self._endpoints: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bus")
        self._stopped = False

    def serve(self, target: str, endpoint: Any) -> None:
        with self._lock:
            self._endpoints[target] = endpoint

    def _endpoint(self, target: str) -> Any:
        with self._lock:
            return self._endpoints.get(target)

    def _run(self, raw: str, endpoint: Any) -> Any:
        method, ctx, args = decode(raw)
        return json.loads(json.dumps(dispatch(endpoint, method, ctx, args)))

    def call(
        self,
        ctx: RequestContext,
        target: str,
        method: str,
        timeout: float = DEFAULT_TIMEOUT,
        **args: Any,
    ) -> Any:
        endpoint = self._endpoint(target)
        if endpoint is None or self._stopped:
            raise MessagingTimeout(f"No server for {target} answered {method}.")
        future = self._pool.submit(self._run, encode(method, ctx, args), endpoint)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise MessagingTimeout(
                f"Timed out after {timeout}s waiting for {target} to answer {method}."
            ) from None
        except errors.PocketError:
            raise
        except Exception as exc:
            raise error_from_wire(error_to_wire(exc)) from exc

    def cast(self, ctx: RequestContext, target: str, method: str, **args: Any) -> None:
        endpoint = self._endpoint(target)
        if endpoint is None or self._stopped:
            LOG.warning("cast %s to %s dropped: no server", method, target)
            return
        raw = encode(method, ctx, args)
        self._pool.submit(self._logged, raw, endpoint, target)

    def fanout(self, ctx: RequestContext, topic: str, method: str, **args: Any) -> None:
        raw = encode(method, ctx, args)
        with self._lock:
            targets = [
                (t, e)
                for t, e in self._endpoints.items()
                if t == topic or t.startswith(topic + ".")
            ]
        for target, endpoint in targets:
            self._pool.submit(self._logged, raw, endpoint, target)

    def _logged(self, raw: str, endpoint: Any, target: str) -> None:
        try:
            self._run(raw, endpoint)
        except Exception:
            LOG.exception("cast to %s failed", target)

    def stop(self) -> None:
        self._stopped = True
        self._pool.shutdown(wait=True, cancel_futures=True)


def connect(url: str) -> Bus:
    """The bus for a transport URL: ``memory://`` or ``amqp://...``.

    Raises:
        ValueError: an unknown scheme.
    """
    if url.startswith("memory:"):
        return InProcessBus()
    if url.startswith(("amqp:", "pyamqp:")):
        from pocketstack.common.bus_kombu import KombuBus

        return KombuBus(url)
    raise ValueError(f"unknown transport {url!r}: use memory:// or amqp://")
