"""Object storage side by side with OpenStack Swift itself, on this one machine.

    .venv/bin/python bench/bench_objectstore.py [--swift-venv /tmp/swiftbench-venv]
                                                [--seconds 10] [--large-mib 100] [--rounds 3]

Both clusters: 3 storage nodes on loopback (one device each, one zone each), a 3-replica
ring of 2**10 partitions, a proxy; the same client runs against each:

- small objects: 4 KiB PUTs, then GETs of them, by 16 concurrent clients (threads, one
  keep-alive HTTP connection each) for ``--seconds`` each: requests per second;
- large objects: a 100 MiB PUT and GET (streamed), ``--rounds`` times: the median MB/s.

Swift (the ``swift`` package from PyPI, never a dependency of pocketstack) runs from its own
virtualenv, made on first use when missing (``python3 -m venv DIR; DIR/bin/pip install
swift``): rings built by ``swift-ring-builder``, 3 object + 3 container + 3 account
servers and a proxy (``workers = 0``: one process each, no forking), ``mount_check =
false``. Its proxy has no auth middleware: tempauth keeps its tokens in memcached, which
this machine does not run, so both proxies are measured without token validation
(pocketstack's takes a fixed token, as its in-process tests do). pocketstack runs as
``pocketstack up`` embeds it: the proxy in one process (a child of this one) and each of the
three nodes in a child process of its own.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = 4096
CLIENTS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answers on port {port}") from None
            time.sleep(0.2)


# -- the client -------------------------------------------------------------------------


class Target:
    """Where to send requests: ``port``, account path ``/v1/AUTH_x``, extra headers."""

    def __init__(self, name: str, port: int, account_path: str, headers: dict[str, str]):
        self.name = name
        self.port = port
        self.account_path = account_path
        self.headers = headers

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def request(
        self, conn: http.client.HTTPConnection, method: str, path: str, body=None, headers=None
    ) -> tuple[int, bytes]:
        conn.request(
            method, self.account_path + path, body=body, headers={**self.headers, **(headers or {})}
        )
        resp = conn.getresponse()
        return resp.status, resp.read()


def run_clients(
    target: Target, seconds: float, op: Callable[[http.client.HTTPConnection, int, int], None]
) -> float:
    """``op(conn, client, n)`` by ``CLIENTS`` threads for ``seconds``; requests per second."""
    counts = [0] * CLIENTS
    errors: list[BaseException] = []
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = target.conn()
        try:
            while time.monotonic() < stop:
                op(conn, i, counts[i])
                counts[i] += 1
        except BaseException as exc:  # report, do not hang
            errors.append(exc)
        finally:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{target.name}: {errors[0]!r}")
    return sum(counts) / (time.monotonic() - started)


def bench(target: Target, seconds: float, large_mib: int, rounds: int) -> dict[str, float]:
    conn = target.conn()
    status, body = target.request(conn, "PUT", "/bench")
    assert status in (201, 202), (status, body)
    payload = os.urandom(SMALL)
    written = [0] * CLIENTS

    def put(c: http.client.HTTPConnection, i: int, n: int) -> None:
        status, body = target.request(c, "PUT", f"/bench/s-{i}-{n}", payload)
        if status != 201:
            raise RuntimeError(f"PUT {status} {body[:100]!r}")
        written[i] = n + 1

    def get(c: http.client.HTTPConnection, i: int, n: int) -> None:
        status, body = target.request(c, "GET", f"/bench/s-{i}-{n % max(1, written[i])}")
        if status != 200 or len(body) != SMALL:
            raise RuntimeError(f"GET {status}")

    results = {"small_put": run_clients(target, seconds, put)}
    results["small_get"] = run_clients(target, seconds, get)

    size = large_mib * 1024 * 1024
    block = os.urandom(1024 * 1024)

    def chunks():
        for _ in range(large_mib):
            yield block

    puts, gets = [], []
    for _ in range(rounds):
        conn.close()
        conn = target.conn()  # fresh: an idle keep-alive connection may have been closed
        started = time.monotonic()
        conn.putrequest("PUT", target.account_path + "/bench/large")
        for k, v in {**target.headers, "Content-Length": str(size)}.items():
            conn.putheader(k, v)
        conn.endheaders()
        for chunk in chunks():
            conn.send(chunk)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201, resp.status
        puts.append(size / 1e6 / (time.monotonic() - started))

        started = time.monotonic()
        conn.request("GET", target.account_path + "/bench/large", headers=target.headers)
        resp = conn.getresponse()
        got = 0
        while chunk := resp.read(1024 * 1024):
            got += len(chunk)
        assert got == size, got
        gets.append(size / 1e6 / (time.monotonic() - started))
    conn.close()
    results["large_put"] = statistics.median(puts)
    results["large_get"] = statistics.median(gets)
    return results


# -- OpenStack Swift ---------------------------------------------------------------------


def ensure_swift_venv(venv: Path) -> Path:
    if not (venv / "bin" / "swift-proxy-server").exists():
        print(f"installing the swift package into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "swift"], check=True)
    return venv / "bin"


SERVER_CONF = """\
[DEFAULT]
devices = {devices}
mount_check = false
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {swift_dir}
log_level = WARNING

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}

[{kind}-replicator]
[{kind}-auditor]
[{kind}-updater]
"""

PROXY_CONF = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {swift_dir}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:proxy-logging]
use = egg:swift#proxy_logging
"""


def start_swift(bindir: Path, root: Path) -> tuple[list[subprocess.Popen], Target]:
    swift_dir = root / "etc"
    swift_dir.mkdir(parents=True)
    (swift_dir / "swift.conf").write_text(
        "[swift-hash]\nswift_hash_path_suffix = bench\nswift_hash_path_prefix = bench\n"
        "[storage-policy:0]\nname = gold\ndefault = yes\n"
    )
    ports = {kind: [free_port() for _ in range(3)] for kind in ("object", "container", "account")}
    for kind, kind_ports in ports.items():
        builder = str(swift_dir / f"{kind}.builder")
        ring_builder = str(bindir / "swift-ring-builder")
        subprocess.run(
            [ring_builder, builder, "create", "10", "3", "1"], check=True, stdout=subprocess.DEVNULL
        )
        for i, port in enumerate(kind_ports):
            subprocess.run(
                [ring_builder, builder, "add", f"r1z{i + 1}-127.0.0.1:{port}/d{i}", "100"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        subprocess.run([ring_builder, builder, "rebalance"], check=True, stdout=subprocess.DEVNULL)
    procs = []
    env = {**os.environ, "SWIFT_CONF_FILE": str(swift_dir / "swift.conf")}
    for kind, kind_ports in ports.items():
        for i, port in enumerate(kind_ports):
            devices = root / f"{kind}{i}"
            (devices / f"d{i}").mkdir(parents=True)
            conf = swift_dir / f"{kind}-server-{i}.conf"
            conf.write_text(
                SERVER_CONF.format(devices=devices, port=port, swift_dir=swift_dir, kind=kind)
            )
            procs.append(
                subprocess.Popen([str(bindir / f"swift-{kind}-server"), str(conf)], env=env)
            )
    proxy_port = free_port()
    conf = swift_dir / "proxy-server.conf"
    conf.write_text(PROXY_CONF.format(port=proxy_port, swift_dir=swift_dir))
    procs.append(subprocess.Popen([str(bindir / "swift-proxy-server"), str(conf)], env=env))
    for kind_ports in ports.values():
        for port in kind_ports:
            wait_http(port, "/healthcheck")
    wait_http(proxy_port, "/info")
    return procs, Target("swift", proxy_port, "/v1/AUTH_bench", {})


# -- pocketstack -------------------------------------------------------------------------

POCKETSTACK_SERVER = """\
import sys, types
import uvicorn
from starlette.applications import Starlette
from pocketstack.common.auth import RequestContext
from pocketstack.common import errors
from pocketstack.common.config import Config
from pocketstack.objectstore.api import API
from pocketstack.objectstore.embedded import start_nodes
from pocketstack.objectstore.manager import ObjectStoreManager

state_dir, port = sys.argv[1], int(sys.argv[2])
conf = Config.load({"state_dir": state_dir, "object_auditor_interval": 0,
                    "object_expirer_interval": 0}, environ={})
nodes = start_nodes(conf)
caller = RequestContext(user_id="u", user_name="bench", project_id="bench",
                        project_name="bench", roles=("member", "reader"))

class Tokens:
    def validate(self, token):
        if token != "bench":
            raise errors.Unauthorized()
        return caller

store = ObjectStoreManager(types.SimpleNamespace(conf=conf))
state = types.SimpleNamespace(conf=conf, cloud=types.SimpleNamespace(objectstore=store),
                              token_validator=Tokens())
app = Starlette(routes=[API.mount(state)])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def start_pocketstack(root: Path) -> tuple[list[subprocess.Popen], Target]:
    port = free_port()
    script = root / "serve.py"
    script.write_text(POCKETSTACK_SERVER)
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), str(script), str(root / "state"), str(port)],
        cwd=ROOT,
    )
    wait_http(port, "/object-store/info")
    return [proc], Target(
        "pocketstack", port, "/object-store/v1/AUTH_bench", {"X-Auth-Token": "bench"}
    )


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--swift-venv", default="/tmp/swiftbench-venv")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--large-mib", type=int, default=100)
    parser.add_argument(
        "--rounds", type=int, default=3, help="large PUT+GET rounds (the median is shown)"
    )
    args = parser.parse_args()
    bindir = ensure_swift_venv(Path(args.swift_venv))
    results: dict[str, dict[str, float]] = {}
    for name, start in (
        ("swift", lambda r: start_swift(bindir, r)),
        ("pocketstack", start_pocketstack),
    ):
        root = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        procs: list[subprocess.Popen] = []
        try:
            procs, target = start(root)
            results[name] = bench(target, args.seconds, args.large_mib, args.rounds)
        finally:
            stop(procs)
            shutil.rmtree(root, ignore_errors=True)
        print(f"{name}: done", flush=True)
    rows = (
        ("4 KiB PUT, 16 clients", "small_put", "req/s"),
        ("4 KiB GET, 16 clients", "small_get", "req/s"),
        (f"{args.large_mib} MiB PUT", "large_put", "MB/s"),
        (f"{args.large_mib} MiB GET", "large_get", "MB/s"),
    )
    print(
        textwrap.dedent(f"""
        object storage, 3 nodes x 3 replicas on loopback, {os.cpu_count()} CPUs
        {"":24} {"swift":>12} {"pocketstack":>12} {"ratio":>7}""")
    )
    for label, key, unit in rows:
        s, p = results["swift"][key], results["pocketstack"][key]
        print(f"{label:24} {s:8.1f} {unit:<5}{p:8.1f} {unit:<5}{p / s:6.2f}x")


if __name__ == "__main__":
    main()
