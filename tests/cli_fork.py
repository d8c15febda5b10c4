"""The ``openstack`` CLI, forked from a process that has already imported it.

Starting the ``openstack`` command costs 1-4 s, nearly all of it Python importing
openstackclient, openstacksdk, keystoneauth and cliff; the API and e2e tests start it hundreds
of times. ``CliForkServer`` starts one Python process that imports the CLI (its shell and every
command module) once; each command then runs in a child forked from it: a fresh process with
the test's argv, environment and working directory, calling the same entry point the
``openstack`` script calls (``openstackclient.shell.main``), with its own stdout, stderr and
exit status. The command itself is not changed, but for one thing: its ``--wait`` polls
every 0.25 s instead of every 5 (``tests.client_polls``); the interpreter start-up is shared.

The server answers one command per connection on a Unix socket; commands may run at once
(each connection is served by a child of its own).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

#: the server's program: imports the CLI, then forks one child per connection
_SERVER = r"""
import importlib, json, os, pkgutil, signal, socket, struct, sys

import openstackclient, openstackclient.shell

# the clients' --wait polls every 0.25 s instead of 5 (tests/client_polls.py)
sys.path.insert(0, sys.argv[2])
import tests.client_polls

tests.client_polls.quicken()

# every command module (server, network, image, identity...): their imports are the rest
# of the start-up cost
for info in pkgutil.walk_packages(openstackclient.__path__, "openstackclient."):
    if ".tests" in info.name:
        continue
    try:
        importlib.import_module(info.name)
    except Exception:
        pass

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel


def _recv(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _serve(conn):
    (size,) = struct.unpack("!I", _recv(conn, 4))
    req = json.loads(_recv(conn, size))
    pid = os.fork()
    if pid:  # the handler: report the command's pid, wait for it, report its status
        conn.sendall(struct.pack("!i", pid))
        _, status = os.waitpid(pid, 0)
        conn.sendall(struct.pack("!i", os.waitstatus_to_exitcode(status)))
        return
    # the command: its own environment, directory, stdin/stdout/stderr and exit status
    os.setsid()
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    for target, path in ((1, req["stdout"]), (2, req["stderr"])):
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(fd, target)
    sys.argv = ["openstack", *req["argv"]]
    code = 1
    try:
        code = openstackclient.shell.main(req["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)


listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sys.argv[1])
listener.listen(64)
listener.settimeout(2)
parent = os.getppid()
print("ready", flush=True)
while os.getppid() == parent:  # ends with the test session, even one killed -9
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        continue
    conn.settimeout(None)
    if os.fork() == 0:  # one handler per connection, so commands run at once
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            _serve(conn)
        finally:
            os._exit(0)
    conn.close()
"""


class CliForkServer:
    """One fork server of the ``openstack`` CLI (``run`` is ``subprocess.run`` of it).

    Args:
        python: the interpreter whose environment has openstackclient installed.
    """

    def __init__(self, python: str = sys.executable):
        self._dir = tempfile.mkdtemp(prefix="oscli-")
        self.socket_path = str(Path(self._dir) / "sock")
        self._proc = subprocess.Popen(
            [python, "-c", _SERVER, self.socket_path, str(Path(__file__).resolve().parent.parent)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if line.strip() != "ready":
            self._proc.kill()
            raise RuntimeError(f"the openstack CLI fork server did not start: {line!r}")

    def run(
        self, argv: list[str], env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run ``openstack <argv>`` with ``env``; the finished process (text stdout/stderr).

        Raises:
            subprocess.TimeoutExpired: the command ran longer than ``timeout`` seconds (it
                is killed).
        """
        with tempfile.TemporaryDirectory(dir=self._dir) as tmp:
            out, err = Path(tmp) / "out", Path(tmp) / "err"
            out.touch()
            err.touch()
            request = json.dumps(
                {
                    "argv": argv,
                    "env": env,
                    "cwd": os.getcwd(),
                    "stdout": str(out),
                    "stderr": str(err),
                }
            ).encode()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(timeout)
                conn.connect(self.socket_path)
                conn.sendall(struct.pack("!I", len(request)) + request)
                (pid,) = struct.unpack("!i", _recv(conn, 4))
                try:
                    (code,) = struct.unpack("!i", _recv(conn, 4))
                except TimeoutError:
                    os.killpg(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired(["openstack", *argv], timeout) from None
            return subprocess.CompletedProcess(
                ["openstack", *argv], code, out.read_text(), err.read_text()
            )

    def close(self) -> None:
        """Stop the server (commands still running finish on their own)."""
        self._proc.kill()
        self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


def _recv(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("the openstack CLI fork server hung up")
        data += chunk
    return data


_shared: CliForkServer | None = None
_shared_lock = threading.Lock()


def shared() -> CliForkServer:
    """The process's one ``CliForkServer``, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CliForkServer()
        return _shared


def close_shared() -> None:
    """Stop the shared server if it was started."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None
