"""Storage nodes of a pocketstack process: the embedded default of ``pocketstack up``
(three nodes on 127.0.0.1, one device each, a 3-replica ring built at first start, each node
a child process of its own) and the one node of ``pocketstack object-node``
(docs/object-storage.md "Pieces and where they run").
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import http.client
import json
import logging
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn

from pocketstack.objectstore import auditor
from pocketstack.objectstore.builder import RingBuilder
from pocketstack.objectstore.node import StorageNode, serve_forever
from pocketstack.objectstore.replicator import Replicator
from pocketstack.objectstore.ring import Ring

LOG = logging.getLogger(__name__)
HOST = "127.0.0.1"


_PR_SET_PDEATHSIG = 1


class RunningNode(Protocol):
    """A node ``start_nodes`` runs: its port and how to stop it."""

    port: int

    def stop(self, timeout: float = 10.0) -> None: ...


class NodeProcess:
    """One embedded node in a child process of its own (``python -m
    pocketstack.objectstore.embedded``), so the nodes and the proxy do not share one GIL
    (Swift runs each server as a process too). The child serves on a socket bound here
    (passed as a file descriptor: the port is never free in between), dies with this
    process (``PR_SET_PDEATHSIG``) and finishes its requests in flight on :meth:`stop`.

    Args:
        conf: the configuration (its values go to the child as JSON).
        devices_root: the node's directory of devices.
        ring_path: the ring file.
        sock: the bound socket to serve on.
    """

    def __init__(self, conf: Any, devices_root: Path, ring_path: str, sock: socket.socket):
        self.port: int = sock.getsockname()[1]
        sock.listen(1024)
        argv = [sys.executable, "-m", "pocketstack.objectstore.embedded"]
        argv += [str(devices_root), ring_path, str(sock.fileno())]
        self.proc = subprocess.Popen(  # noqa: S603 (this interpreter, this package)
            argv,
            stdin=subprocess.PIPE,
            pass_fds=(sock.fileno(),),
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (prctl only, before exec)
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(conf.as_dict(), default=str).encode())
        self.proc.stdin.close()
        sock.close()  # the child has its copy

    def start(self, timeout: float = 30.0) -> None:
        """Wait until the child answers ``/healthcheck``.

        Raises:
            RuntimeError: it exited or did not answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"object node on port {self.port} exited")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthcheck")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"object node on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (uvicorn finishes requests in flight, the node's daemons stop), then
        SIGKILL after ``timeout`` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class EmbeddedNodes:
    """The nodes ``start_nodes`` runs, and the ring the proxy should read."""

    ring_path: str
    servers: list[RunningNode] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every node (each finishes its requests in flight)."""
        for server in self.servers:
            server.stop()


def _bind(port: int, wait: float = 0.0) -> socket.socket:
    """A socket bound to ``HOST:port``; a port in use is tried again for ``wait`` seconds
    (the node processes of an ``up`` killed just before may still be exiting).

    Raises:
        OSError: the port is taken.
    """
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or not port or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def build_embedded_ring(conf: Any, root: Path) -> dict[int, socket.socket]:
    """First start: bind a socket per node (``object_node_port`` + i, or free ports), make
    ``<root>/n<i>/d<i>/`` and the builder and ring of one device per node, each in its own
    zone. Returns the bound sockets by port (to serve on, so no port is lost in between).

    Raises:
        OSError: a port is taken.
        RingBuilderError: fewer nodes than replicas.
    """
    count = conf.object_nodes
    socks = [_bind(conf.object_node_port + i if conf.object_node_port else 0) for i in range(count)]
    replicas = min(conf.object_replicas, count)
    builder = RingBuilder(conf.object_part_power, replicas, min_part_hours=0)
    for i, sock in enumerate(socks, start=1):
        (root / f"n{i}" / f"d{i}").mkdir(parents=True, exist_ok=True)
        builder.add_dev(
            {
                "region": 1,
                "zone": i,
                "ip": HOST,
                "port": sock.getsockname()[1],
                "device": f"d{i}",
                "weight": 100,
                "meta": f"n{i}",
            }
        )
    builder.rebalance()
    builder.save(root / "object.builder")
    builder.write_ring(root / "object.ring.gz")
    LOG.info("built the object ring: %d nodes, %d replicas", count, replicas)
    return {sock.getsockname()[1]: sock for sock in socks}


def build_lab_ring(conf: Any, nodes: list[tuple[str, Path]], port: int) -> Path:
    """The ring of a lab's storage nodes (``pocketstack up --hosts N``, one node per host),
    ``<state-dir>/objects/object.ring.gz``, built at the lab's first start and kept after.

    Args:
        conf: the controller's configuration (``object_replicas``, ``object_part_power``).
        nodes: ``(underlay address, devices directory)`` of each host, host1 first; host i
            is zone i. Each gets ``ceil(replicas / hosts)`` devices (``h<i>d<j>``, made
            here) so that 3 replicas fit on fewer than 3 hosts, in distinct zones where
            there are enough.
        port: the port every node listens on (each in its own namespace).

    Returns:
        the ring's path (an existing ring is adopted as it is).

    Raises:
        RingBuilderError: the ring can't be built.
    """
    root = Path(conf.state_dir) / "objects"
    ring_path = root / "object.ring.gz"
    if ring_path.exists():
        return ring_path
    root.mkdir(parents=True, exist_ok=True)
    per_node = max(1, -(-conf.object_replicas // len(nodes)))
    replicas = min(conf.object_replicas, per_node * len(nodes))
    builder = RingBuilder(conf.object_part_power, replicas, min_part_hours=0)
    for zone, (ip, devices) in enumerate(nodes, start=1):
        for j in range(1, per_node + 1):
            (devices / f"h{zone}d{j}").mkdir(parents=True, exist_ok=True)
            dev = {"region": 1, "zone": zone, "ip": ip, "port": port, "device": f"h{zone}d{j}"}
            builder.add_dev({**dev, "weight": 100, "meta": f"host{zone}"})
    builder.rebalance()
    builder.save(root / "object.builder")
    builder.write_ring(ring_path)
    LOG.info("built the lab's object ring: %d nodes, %d replicas", len(nodes), replicas)
    return ring_path


def start_nodes(conf: Any) -> EmbeddedNodes:
    """Start the embedded storage nodes of ``pocketstack up``; returns them with the ring
    path (``<state-dir>/objects/object.ring.gz``). With ``[objectstore] object_ring`` set,
    the nodes are elsewhere: nothing starts.

    Node ``n<i>`` serves ``<state-dir>/objects/n<i>/`` (device ``d<i>``) on the port the ring
    names, so a restart serves the same ring on the same ports.

    Raises:
        OSError: a node's port is taken.
        RuntimeError: a node did not start.
    """
    if conf.object_ring:
        return EmbeddedNodes(conf.object_ring)
    root = Path(conf.state_dir) / "objects"
    root.mkdir(parents=True, exist_ok=True)
    ring_path = root / "object.ring.gz"
    socks = {} if ring_path.exists() else build_embedded_ring(conf, root)
    ring = Ring(ring_path)
    nodes = EmbeddedNodes(str(ring_path))
    seen: set[int] = set()
    started: list[NodeProcess] = []
    try:
        for dev in ring.devs:
            if dev is None or dev["port"] in seen or not dev.get("meta"):
                continue
            seen.add(dev["port"])
            sock = socks.pop(dev["port"], None) or _bind(dev["port"], wait=10.0)
            started.append(NodeProcess(conf, root / dev["meta"], str(ring_path), sock))
            nodes.servers.append(started[-1])
        for process in started:  # they start side by side
            process.start()
    except BaseException:
        nodes.stop()
        for sock in socks.values():
            sock.close()
        raise
    return nodes


def _node(conf: Any, devices_root: Path, ring_path: str, ip: str, port: int) -> StorageNode:
    """An embedded node's app with its replicator, auditor and expirer."""
    node = StorageNode(
        devices_root,
        Ring(ring_path),
        update_timeout=conf.object_update_timeout,
        updater_interval=conf.object_updater_interval,
    )
    node.replicator = Replicator(node, ip, port, interval=conf.object_replicator_interval)
    auditor.attach(node, conf, ip, port)
    return node


def serve_child(argv: list[str]) -> None:
    """The child of a :class:`NodeProcess`: ``<devices root> <ring path> <socket fd>``, the
    configuration's values as JSON on stdin; serves until SIGTERM."""
    from pocketstack.common.config import Config
    from pocketstack.common.logs import setup_logging

    devices_root, ring_path, fd = argv
    conf = Config(json.load(sys.stdin))
    # <state-dir>/logs/object-node-n<i>.log, warnings also on stderr (the parent's)
    setup_logging(conf, f"object-node-{Path(devices_root).name}")
    sock = socket.socket(fileno=int(fd))
    node = _node(conf, Path(devices_root), ring_path, HOST, sock.getsockname()[1])
    # uvicorn handles SIGTERM/SIGINT: requests in flight finish, the lifespan stops daemons
    config = uvicorn.Config(
        node,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=30,
    )
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def serve_node(conf: Any) -> None:
    """``pocketstack object-node``: serve this node's devices (``object_devices``, default
    ``<state-dir>/objects/node``) on ``object_bind_ip:object_bind_port`` in the foreground,
    with the ring of ``object_ring`` (a path or URL).

    Raises:
        RingError: the ring can't be read.
    """
    from pocketstack.objectstore.manager import ring_location

    devices = Path(conf.object_devices or Path(conf.state_dir) / "objects" / "node")
    devices.mkdir(parents=True, exist_ok=True)
    node = _node(conf, devices, ring_location(conf), conf.object_bind_ip, conf.object_bind_port)
    print(
        f"pocketstack object node on {conf.object_bind_ip}:{conf.object_bind_port}, "
        f"devices {devices}: {', '.join(node.devices.names()) or 'none yet'}",
        flush=True,
    )
    serve_forever(node, conf.object_bind_ip, conf.object_bind_port)


if __name__ == "__main__":  # pragma: no cover - NodeProcess's child
    serve_child(sys.argv[1:])
