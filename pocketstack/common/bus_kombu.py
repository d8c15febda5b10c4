"""The bus on RabbitMQ (AMQP 0-9-1), through kombu.

Topology (all names prefixed ``pocketstack``):

- one direct exchange ``pocketstack``; a server of target ``compute.node1`` consumes the
  durable queue ``pocketstack.compute.node1`` bound with that routing key. Several servers
  of one target (e.g. two controllers serving ``conductor``) share its queue: each message
  goes to one of them. A cast to a host whose agent is restarting waits in its queue.
- a message of a lane (``Message.lane``, e.g. the agents' ``reports`` to the conductor)
  goes to the target's durable queue of that lane, ``pocketstack.conductor:reports``
  (routing key ``conductor:reports``; ``:`` is in no host name), which a server consumes
  beside its target's queue for every lane its table names, and runs on that lane's own
  handler threads: a burst of builds neither fills the lane's queue nor holds its
  workers, as Nova's separate topics and oslo.messaging's executors keep reports apart.
  Messages of one lane keep their queue's order; messages of two lanes have none.
- a cast declares its queue (durable, idempotent, as ``serve`` does) before publishing:
  a cast to a target never served yet waits for its server instead of being dropped by
  the exchange for want of a bound queue.
- one fanout exchange per topic, ``pocketstack.fanout.<topic>``, each server binding an
  exclusive auto-delete queue to it.
- ``call`` replies go to this bus's exclusive reply queue (``reply_to`` + ``correlation_id``);
  the request carries an expiration of the call's timeout so that a late request is dropped
  instead of run after the caller gave up.

``filesystem:///<dir>`` runs the same topology on kombu's filesystem transport: messages are
files in ``<dir>/data``, exchange bindings files in ``<dir>/control`` (so direct routing and
fanout work across the processes of one machine with no broker; ``pocketstack up --hosts N``
uses it for its lab hosts' agents). Consumers poll every ``FILESYSTEM_POLL`` seconds. Its
queues are never exclusive, so ``stop`` unbinds this bus's fanout queues itself (a
``kill -9``'d process leaves its fanout queue bound: later fanouts leave files nobody reads).

Delivery is at most once (acknowledged on receipt), as with oslo.messaging's casts. One
consumer thread owns the consuming connection; publishing goes through a second connection
under a lock (kombu channels are not thread-safe). Handlers run on a thread pool per lane.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils import json as kombu_json

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import (
    CALL,
    CAST,
    Bus,
    Message,
    MessageTable,
    MessagingTimeout,
    dispatch,
    encode,
    error_from_wire,
    error_to_wire,
    require_kind,
)

LOG = logging.getLogger(__name__)
PREFIX = "pocketstack"
#: Between a target and a lane in a lane's routing key and queue name (in no host name).
LANE_SEPARATOR = ":"
#: Seconds between two polls of the filesystem transport's message folder.
FILESYSTEM_POLL = 0.05


class _FilesystemChannel(filesystem.Channel):
    """kombu's filesystem channel, with its files appearing only once complete.

    kombu creates a message file, and an exchange's binding file, by opening it for writing
    (empty) and only then locking and filling it, while readers list the folder and read
    without that lock: a consumer took a message file before its content was there (a JSON
    error, the message lost and the consumer's connection dropped), and a process binding
    at the moment a binding file appeared read it empty or overwrote the other's binding.
    Here a message is written to a temporary name and renamed into place, and a binding file
    appears with ``[]`` in it (a hard link of a filled temporary file), so every reader and
    writer then takes kombu's locked read-modify-write path on a valid table.
    """

    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = self.data_folder_out
        tmp = os.path.join(folder, f".{uuid.uuid4().hex}.tmp")  # never a queue's name
        try:
            with open(tmp, "wb") as f:
                f.write(kombu_json.dumps(message).encode())
            os.rename(tmp, os.path.join(folder, name))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise ChannelError(f"Cannot add a message to {folder}: {exc}") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        path = self._exchange_file(exchange)
        if not path.exists():
            self.control_folder.mkdir(exist_ok=True)
            tmp = path.with_name(f".{uuid.uuid4().hex}.tmp")
            tmp.write_text("[]")
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            tmp.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)


class _FilesystemTransport(filesystem.Transport):
    """kombu's filesystem transport on ``_FilesystemChannel``."""

    Channel = _FilesystemChannel


def routing_key(target: str, lane: str = "") -> str:
    """The direct exchange's routing key of ``target``'s messages of ``lane``
    (``Message.lane``): ``target`` itself for the shared lane, else ``target:lane``."""
    return f"{target}{LANE_SEPARATOR}{lane}" if lane else target


def connection_args(url: str) -> tuple[str, dict[str, Any]]:
    """kombu's URL and transport options for a bus URL.

    ``filesystem:///<dir>`` becomes kombu's ``filesystem://`` with ``data_folder_in`` and
    ``data_folder_out`` at ``<dir>/data`` and ``control_folder`` at ``<dir>/control``
    (created, mode 0700); any other URL is kombu's as it is, without options.

    Raises:
        ValueError: a ``filesystem://`` URL without an absolute directory.
    """
    if not url.startswith("filesystem:"):
        return url, {}
    folder = url.removeprefix("filesystem:").removeprefix("//")
    if not folder.startswith("/"):
        raise ValueError(f"{url!r}: give the bus directory as filesystem:///absolute/path")
    data, control = os.path.join(folder, "data"), os.path.join(folder, "control")
    for path in (data, control):
        os.makedirs(path, mode=0o700, exist_ok=True)
    options = {
        "data_folder_in": data,
        "data_folder_out": data,
        "control_folder": control,
        "polling_interval": FILESYSTEM_POLL,
    }
    return "filesystem://", options


class KombuBus(Bus):
    """``Bus`` over AMQP.

    Args:
        url: ``amqp://user:password@host:5672/vhost`` or ``filesystem:///<dir>``.
        workers: handler threads of each lane (``Message.lane``).
    """

    def __init__(self, url: str, workers: int = 32):
        self.url = url
        self._kombu_url, self._options = connection_args(url)
        self._filesystem = url.startswith("filesystem:")
        self._direct = Exchange(PREFIX, type="direct", durable=True)
        self._workers = workers
        # lane -> its handler threads ("": the shared pool); made on use, under _pools_lock
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()
        self._publish_conn = self._connection()
        self._publish_lock = threading.Lock()
        self._producer: Producer | None = None
        self._reply_queue = Queue(
            f"{PREFIX}.reply.{uuid.uuid4().hex}", exclusive=True, auto_delete=True, durable=False
        )
        self._pending: dict[str, Future] = {}
        self._pending_lock = threading.Lock()
        # queue name -> (endpoint, table); target -> its queues (guarded by _serve_lock)
        self._endpoints: dict[str, tuple[Any, MessageTable]] = {}
        self._served: dict[str, list[Queue]] = {}
        self._serve_lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._attached = threading.Event()
        self._thread = threading.Thread(
            target=self._consume_forever, name="amqp-consumer", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise errors.ServiceUnavailable(f"Could not connect to the message bus {url}.")

    def _direct_queue(self, target: str, lane: str = "") -> Queue:
        """The durable queue of ``target``'s messages of ``lane``; the same declaration on
        both sides, so declaring it again is a no-op."""
        key = routing_key(target, lane)
        return Queue(f"{PREFIX}.{key}", self._direct, routing_key=key, durable=True)

    def _pool(self, lane: str) -> ThreadPoolExecutor:
        """The handler threads of ``lane`` (made on first use).

        Raises:
            RuntimeError: the bus is stopping (its pools are shut down, or about to be).
        """
        if self._stopping.is_set():
            raise RuntimeError("the message bus is stopping")
        with self._pools_lock:
            pool = self._pools.get(lane)
            if pool is None:
                prefix = f"amqp-{lane}" if lane else "amqp"
                pool = self._pools[lane] = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix=prefix
                )
            return pool

    def _connection(self) -> Connection:
        if self._filesystem:
            return Connection(transport=_FilesystemTransport, transport_options=self._options)
        return Connection(self._kombu_url, transport_options=self._options)

    # -- publishing -------------------------------------------------------------------

    def _publish(
        self, body: str, exchange: Exchange | str, routing_key: str, **properties: Any
    ) -> None:
        with self._publish_lock:
            self._publish_conn.ensure_connection(max_retries=5)
            if self._producer is None or self._producer.channel is None:
                self._producer = Producer(self._publish_conn.channel())
            publish = self._publish_conn.ensure(
                self._producer, self._producer.publish, max_retries=3
            )
            publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                serializer=None,
                retry=True,
                **properties,
            )

    def call(self, ctx: RequestContext, target: str, message: Message, /, **args: Any) -> Any:
        require_kind(message, CALL)
        body = encode(message, ctx, args)
        timeout = message.timeout
        correlation_id = uuid.uuid4().hex
        future: Future = Future()
        with self._pending_lock:
            self._pending[correlation_id] = future
        try:
            self._publish(
                body,
                self._direct,
                routing_key(target, message.lane),
                reply_to=self._reply_queue.name,
                correlation_id=correlation_id,
                expiration=timeout,
                declare=[self._direct],
            )
            reply = future.result(timeout=timeout)
        except FutureTimeout:
            raise MessagingTimeout(
                f"Timed out after {timeout}s waiting for {target} to answer {message.name}."
            ) from None
        finally:
            with self._pending_lock:
                self._pending.pop(correlation_id, None)
        if "error" in reply:
            raise error_from_wire(reply["error"])
        return reply.get("result")

    def cast(self, ctx: RequestContext, target: str, message: Message, /, **args: Any) -> None:
        require_kind(message, CAST)
        queue = self._direct_queue(target, message.lane)
        # the queue too, not only the exchange: a cast to a target never served yet would
        # otherwise find no bound queue and be dropped (kombu declares it once per connection)
        self._publish(encode(message, ctx, args), self._direct, queue.routing_key, declare=[queue])

    def fanout(self, ctx: RequestContext, topic: str, message: Message, /, **args: Any) -> None:
        require_kind(message, CAST)
        exchange = Exchange(f"{PREFIX}.fanout.{topic}", type="fanout", durable=False)
        self._publish(encode(message, ctx, args), exchange, topic, declare=[exchange])

    # -- serving ----------------------------------------------------------------------

    def serve(self, target: str, endpoint: Any, table: MessageTable) -> None:
        table.check_endpoint(endpoint)
        topic = target.split(".", 1)[0]
        direct = [self._direct_queue(target, lane) for lane in sorted({m.lane for m in table})]
        if "" not in {m.lane for m in table}:  # a laneless sender's messages still arrive
            direct.insert(0, self._direct_queue(target))
        fan = Queue(
            f"{PREFIX}.fanout.{target}.{uuid.uuid4().hex[:8]}",
            Exchange(f"{PREFIX}.fanout.{topic}", type="fanout", durable=False),
            exclusive=True,
            auto_delete=True,
            durable=False,
        )
        with self._serve_lock:
            for queue in self._served.pop(target, []):
                self._endpoints.pop(queue.name, None)
            for queue in [*direct, fan]:
                self._endpoints[queue.name] = (endpoint, table)
            self._served[target] = [*direct, fan]
        self._resubscribe(target)

    def unserve(self, target: str) -> None:
        with self._serve_lock:
            queues = self._served.pop(target, None)
            for queue in queues or []:
                self._endpoints.pop(queue.name, None)
        if queues and not self._stopping.is_set():
            self._resubscribe(target)

    def _resubscribe(self, target: str) -> None:
        """Make the consumer thread consume the served queues again and wait for it, so
        nothing sent after ``serve`` misses the queues and nothing after ``unserve`` is
        still delivered here."""
        self._attached.clear()
        self._changed.set()
        if not self._attached.wait(timeout=30):
            raise errors.ServiceUnavailable(f"Could not consume {target} on the message bus.")

    def _unbind_fanout(self) -> None:
        """Delete this bus's fanout queues (the filesystem transport has no exclusive
        queues: a stopped process's would stay bound and collect every later fanout)."""
        with self._serve_lock:
            queues = [q for qs in self._served.values() for q in qs if q.exclusive]
            self._served.clear()
        with self._publish_lock:
            channel = self._publish_conn.channel()
            for queue in queues:
                try:
                    queue.bind(channel).delete()
                except Exception:
                    LOG.warning("could not delete the fanout queue %s", queue.name)
            channel.close()

    def _on_reply(self, _decoded: Any, message: Any) -> None:
        message.ack()
        correlation_id = message.properties.get("correlation_id")
        if correlation_id:
            self._resolve(correlation_id, message.body)

    def _on_request(self, server: tuple[Any, MessageTable]) -> Any:
        def callback(_decoded: Any, message: Any) -> None:
            message.ack()
            props = message.properties
            # message.body is the raw JSON; our own decode() checks the version field.
            self._pool(_lane(server[1], message.body)).submit(
                self._handle,
                message.body,
                server,
                props.get("reply_to"),
                props.get("correlation_id"),
            )

        return callback

    def _resolve(self, correlation_id: str, body: Any) -> None:
        with self._pending_lock:
            future = self._pending.get(correlation_id)
        if future is not None and not future.done():
            future.set_result(json.loads(body) if isinstance(body, (str, bytes)) else body)

    def _handle(
        self,
        body: Any,
        server: tuple[Any, MessageTable],
        reply_to: str | None,
        correlation_id: str | None,
    ) -> None:
        endpoint, table = server
        try:
            result = dispatch(endpoint, table, body, CALL if reply_to else CAST)
            reply: dict[str, Any] = {"result": result}
        except Exception as exc:  # the server outlives its endpoint's failures
            # A cast's failure has nobody to go to, and a bug's traceback does not cross the
            # wire (the caller gets a RemoteError): both are logged here, where they happened.
            if reply_to is None or not isinstance(exc, errors.PocketError):
                LOG.exception("%s failed", "call" if reply_to else "cast")
            reply = {"error": error_to_wire(exc)}
        if reply_to:
            try:
                self._publish(json.dumps(reply), "", reply_to, correlation_id=correlation_id)
            except Exception:
                LOG.exception("could not send the reply to %s", reply_to)

    def _consume_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connection() as conn:
                    conn.ensure_connection(max_retries=3)
                    self._consume(conn)
            except Exception as exc:  # connection lost: reconnect
                if self._stopping.is_set():
                    return
                LOG.warning("message bus connection lost (%s); reconnecting", exc)
                self._stopping.wait(1.0)

    def _consume(self, conn: Connection) -> None:
        while not self._stopping.is_set():
            self._changed.clear()
            channel = conn.channel()
            channel.basic_qos(0, 64, False)
            consumers = [
                Consumer(
                    channel, queues=[self._reply_queue], callbacks=[self._on_reply], accept=None
                )
            ]
            with self._serve_lock:
                served = [(q, self._endpoints[q.name]) for qs in self._served.values() for q in qs]
            consumers += [
                Consumer(channel, queues=[q], accept=None, callbacks=[self._on_request(server)])
                for q, server in served
            ]
            with contextlib.ExitStack() as stack:
                for consumer in consumers:
                    stack.enter_context(consumer)
                self._ready.set()
                if not self._changed.is_set():
                    self._attached.set()
                while not self._stopping.is_set() and not self._changed.is_set():
                    try:
                        conn.drain_events(timeout=0.5)
                    except TimeoutError:
                        pass
            channel.close()

    def stop(self) -> None:
        if self._stopping.is_set():  # stopped already
            return
        self._stopping.set()
        self._thread.join(timeout=5)
        with self._pools_lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._filesystem:
            self._unbind_fanout()
        with self._publish_lock:
            self._publish_conn.release()


def _lane(table: MessageTable, body: Any) -> str:
    """The lane (``Message.lane``) of the message in ``body`` as ``table`` declares it; the
    shared lane for one it does not declare or cannot read (``dispatch`` refuses it)."""
    try:
        name = json.loads(body)["method"]
        return table[name].lane
    except (ValueError, TypeError, KeyError):
        return ""
