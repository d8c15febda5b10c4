"""Shared fixtures.

- ``conf``, ``db``, ``bus``, ``cloud``: one service's managers in-process over a temp SQLite
  database (unit and functional tests).
- ``running_cloud`` (session) and ``launch_cloud(...)``: the whole cloud started as real
  processes, the way a user does: embedded (default) ``pocketstack up``, or distributed
  (``POCKETSTACK_TEST_MODE=distributed``): a fresh PostgreSQL database and RabbitMQ virtual
  host, with ``pocketstack controller`` and ``pocketstack compute`` as separate processes
  (a lab, ``--hosts N``: ``pocketstack up`` on them, its hosts' agents on RabbitMQ).
  ``RunningCloud`` runs the ``openstack`` CLI and opens openstacksdk connections against it.
  Each CLI command is a process forked from one that imported the CLI once
  (``tests/cli_fork.py``; ``POCKETSTACK_TEST_CLI=subprocess`` starts the script each time).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pocketstack.common.bus import InProcessBus
from pocketstack.common.config import Config
from pocketstack.common.db import Base, Database, import_all_models, normalize_url
from tests import cli_fork, client_polls, leaks
from tests.helpers import (
    AMQP_URL,
    FAST_HASHES,
    PG_ADMIN_URL,
    distributed_backends,
    free_port,
    wait_until,
)

__all__ = ["AMQP_URL", "PG_ADMIN_URL", "free_port", "wait_until"]  # re-exported for tests

client_polls.quicken()  # openstacksdk's waits poll every 0.25 s, not 2 (tests/client_polls.py)

VENV_BIN = Path(sys.executable).parent


def run_openstack_cli(
    argv: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``openstack <argv>`` with ``env``, as ``subprocess.run`` (text, output captured) runs it.

    A child of the session's ``CliForkServer`` (the CLI imported once, each command in a
    fresh forked process): 0.5-1.5 s a command instead of 2-8 s of interpreter start-up. With
    ``POCKETSTACK_TEST_CLI=subprocess`` every command starts the ``openstack`` script itself.
    """
    if os.environ.get("POCKETSTACK_TEST_CLI") == "subprocess":
        cmd = [str(VENV_BIN / "openstack"), *argv]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return cli_fork.shared().run(argv, env, timeout)


@pytest.fixture(autouse=True)
def _process_umask_restored() -> Iterator[None]:
    """Give every test the umask the session started with: ``cli.main`` (which the CLI
    tests call in-process) sets pocketstack's private umask for the rest of the process,
    and a test that creates files "as an older version left them" must not inherit it."""
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_kernel_objects() -> Iterator[None]:
    """Fails the session (an error at the last test's teardown, exit status 1) when
    namespaces, links, nftables tables or dnsmasq processes with pocketstack's names
    (``tests/leaks.py``) made during it are left at its end; those there at its start (a
    developer's running cloud) are not counted. While another pytest session runs on the
    machine its objects cannot be told from ours: the leftovers are then only a warning
    (``POCKETSTACK_TEST_LEAK_CHECK=strict`` fails anyway; ``off`` skips the check)."""
    if os.environ.get("POCKETSTACK_TEST_LEAK_CHECK") == "off":
        yield
        return
    before = leaks.kernel_objects()
    yield
    left = sorted(leaks.leaked(before))
    if not left:
        return
    report = "the test session left pocketstack's kernel objects behind:\n  " + "\n  ".join(left)
    others = leaks.other_pytest_sessions()
    if others and os.environ.get("POCKETSTACK_TEST_LEAK_CHECK") != "strict":
        warnings.warn(f"{report}\n(not failed: other pytest sessions run: {others})", stacklevel=1)
        return
    pytest.fail(report, pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _stop_cli_server() -> Iterator[None]:
    """Stops the session's ``openstack`` CLI fork server (if a test started it) at the end."""
    yield
    cli_fork.close_shared()


class RunningCloud:
    """Handle on a cloud started by the fixture.

    Attributes:
        url: base URL (``http://127.0.0.1:<port>``).
        state_dir: the cloud's state directory.
        clouds_yaml: path of the clouds.yaml it wrote.
    """

    def __init__(self, url: str, state_dir: Path, procs: list[subprocess.Popen]):
        self.url = url
        self.state_dir = state_dir
        self.clouds_yaml = state_dir / "clouds.yaml"
        self.procs = procs

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        for key in [k for k in env if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE"]:
            env.pop(key)
        return env

    def openstack(
        self,
        *args: str,
        cloud: str = "pocketstack-demo",
        check: bool = True,
        json_output: bool = True,
    ) -> Any:
        """Run ``openstack --os-cloud <cloud> <args>``; parsed JSON when ``-f json`` applies.

        Raises:
            subprocess.CalledProcessError: non-zero exit when ``check`` (stderr attached).
        """
        cmd = [str(VENV_BIN / "openstack"), "--os-cloud", cloud, *args]
        if json_output:
            cmd += ["-f", "json"]
        proc = run_openstack_cli(cmd[1:], self.env(), timeout=120)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
        if not check:
            return proc
        if json_output and proc.stdout.strip():
            return json.loads(proc.stdout)
        return proc.stdout

    def sdk(self, cloud: str = "pocketstack-demo") -> Any:
        """An ``openstack.connection.Connection`` for ``cloud``."""
        from openstack import connection
        from openstack.config import loader

        # openstack.connect() ignores config_files (it would read ~/.config/openstack).
        region = loader.OpenStackConfig(
            config_files=[str(self.clouds_yaml)], load_envvars=False
        ).get_one(cloud)
        return connection.Connection(config=region)

    def log(self) -> str:
        """The cloud's log files, for failure messages."""
        logs = self.state_dir / "logs"
        return "\n".join(p.read_text()[-20000:] for p in sorted(logs.glob("*.log")))

    def create_server(
        self,
        name: str,
        *extra: str,
        image: str = "cirros",
        flavor: str = "m1.tiny",
        network: str = "private",
        wait: bool = False,
        cloud: str = "pocketstack-demo",
        check: bool = True,
    ) -> Any:
        """``openstack server create --flavor m1.tiny --image cirros --network private
        <extra> <name>`` (``--wait`` with ``wait``): the server as the CLI shows it; with
        ``check=False`` the finished process (for creates that must be refused)."""
        args = ["server", "create", "--flavor", flavor, "--image", image, "--network", network]
        args += [*extra, *(["--wait"] if wait else []), name]
        return self.openstack(*args, cloud=cloud, check=check, json_output=check)

    def wait_for_server(
        self,
        name_or_id: str,
        status: str | set[str] | frozenset[str],
        timeout: float = 90.0,
        cloud: str = "pocketstack-demo",
    ) -> dict[str, Any]:
        """Poll ``server show`` until the server's status is ``status`` (or one of a set);
        the server. Fails with its last status, task state and the cloud's log."""
        wanted = {status} if isinstance(status, str) else set(status)
        last: dict[str, Any] = {}

        def reached() -> dict[str, Any] | None:
            nonlocal last
            last = self.openstack("server", "show", name_or_id, cloud=cloud)
            return last if last["status"] in wanted else None

        return wait_until(
            reached,
            timeout,
            f"server {name_or_id} to be {'/'.join(sorted(wanted))}",
            interval=0.5,
            detail=lambda: (
                f"it is {last.get('status')}/{last.get('OS-EXT-STS:task_state')}\n{self.log()}"
            ),
        )


def _wait_ready(proc: subprocess.Popen, marker: str, timeout: float) -> None:
    assert proc.stdout is not None
    stdout = proc.stdout
    os.set_blocking(stdout.fileno(), False)
    seen = ""

    def ready() -> bool:
        nonlocal seen
        if proc.poll() is not None:
            raise RuntimeError(
                f"process exited {proc.returncode}: {seen}"
                f"{proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            chunk = stdout.read()
        except TypeError:  # a non-blocking text pipe with no data yet (CPython quirk)
            chunk = None
        seen += chunk or ""
        return marker in seen

    wait_until(ready, timeout, f"{marker!r} on {proc.args}", interval=0.1, detail=lambda: seen)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "pocketstack"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _start_elsewhere(hidden: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``_start`` in a mount namespace of its own where ``hidden`` (the controller's image
    store) is an empty tmpfs: the process sees the files of the controller's state
    directory as a host on another machine would, that is not at all."""
    hidden.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount -t tmpfs tmpfs "$0" && exec "$@"',
            str(hidden),
            str(VENV_BIN / "pocketstack"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


#: the compute agent's periodic tasks every ``periodic_interval`` (defaults: Nova's 10, 60
#: and 600 s), so a test sees a heartbeat, a resource report or a power-state sync soon
EVERY_ROUND = {"report_interval": 0, "update_resources_interval": 0, "sync_power_state_interval": 0}


def _common_flags(state_dir: Path, port: int, driver: str) -> list[str]:
    return [
        "--state-dir",
        str(state_dir),
        "--port",
        str(port),
        "--compute-driver",
        driver,
        "--no-write-user-clouds",
        "--periodic-interval",
        "2",
        *(arg for key in EVERY_ROUND for arg in (f"--{key.replace('_', '-')}", "0")),
        "--password-hash-rounds",
        str(FAST_HASHES["password_hash_rounds"]),
    ]


#: the compute service user's password the test clouds share between controller and compute
#: host (``[service_user] password``): the agent fetches images with its token
SERVICE_PASSWORD = "service-user-secret"


def _distributed_backends(cleanup: list[Any]) -> str:
    """A PostgreSQL database and a RabbitMQ virtual host of one fresh name
    (``pstest_<10 hex>``, ``helpers.distributed_backends``), their removal appended to
    ``cleanup``. Returns the name."""
    name = f"pstest_{uuid.uuid4().hex[:10]}"
    cleanup.append(distributed_backends(name))
    return name


@contextlib.contextmanager
def launch_cloud(
    state_dir: Path,
    *,
    driver: str = "fake",
    extra: list[str] | None = None,
    mode: str | None = None,
) -> Iterator[RunningCloud]:
    """Start a cloud as real processes in ``state_dir``; stop it and remove everything after.

    Args:
        driver: compute driver (``fake`` or ``qemu``).
        extra: more ``pocketstack`` flags (e.g. ``["--compute-vcpus", "2"]``).
        mode: ``embedded`` or ``distributed`` (default: ``$POCKETSTACK_TEST_MODE``).

    Distributed without a lab: ``pocketstack controller``, ``compute`` and ``volume`` (the
    storage host's agent), the last two on the bus only.

    A lab (``--hosts N`` in ``extra``) is ``pocketstack up`` in both modes, since only ``up``
    makes one: distributed gives it a fresh PostgreSQL database (the controller's) and
    RabbitMQ virtual host (the bus its ``lab-host`` processes' compute and network agents
    take, instead of the filesystem bus), as ``up --database ... --transport amqp://...``.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETSTACK_")}
    procs: list[subprocess.Popen] = []
    flags = _common_flags(state_dir, port, driver) + list(extra or [])
    flags += ["--service-user-password", SERVICE_PASSWORD]
    mode = mode or os.environ.get("POCKETSTACK_TEST_MODE", "embedded")
    cleanup: list[Any] = []
    database: list[str] = []
    try:
        if mode == "distributed":
            name = _distributed_backends(cleanup)
            flags += ["--transport", f"{AMQP_URL}/{name}"]
            database = ["--database", f"{PG_ADMIN_URL}/{name}"]
        if mode == "distributed" and "--hosts" not in flags:
            procs.append(_start(["controller", *flags, *database], env))
            _wait_ready(procs[-1], "ready in", 180)
            # the compute host gets the bus only: an agent has no database credentials
            procs.append(_start(["compute", *flags, "--hostname", "compute1"], env))
            _wait_ready(procs[-1], "ready", 60)
            # and a storage host's volume agent (bus only too), its iSCSI portal on a free
            # loopback port: `up` runs one in-process, a distributed cloud runs it apart
            volume = ["--hostname", "compute1", "--iscsi-port", str(free_port())]
            procs.append(_start(["volume", *flags, *volume], env))
            _wait_ready(procs[-1], "ready", 60)
        else:
            procs.append(_start(["up", *flags, *database], env))
            # "cloud ready in": a lab's hosts print "lab host <h> ready in <netns>" first
            _wait_ready(procs[-1], "cloud ready in", 180)
        cloud = RunningCloud(f"http://127.0.0.1:{port}", state_dir, procs)
        _wait_compute_up(cloud)
        yield cloud
    finally:
        _stop(procs)
        for pid in qemu_pids(state_dir):  # guests are left running by design on stop
            os.kill(pid, 9)
        kill_tgtd(state_dir)  # so is the storage host's tgtd
        for fn in reversed(cleanup):
            fn()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def cloud_launcher():
    """``launch_cloud`` for tests that need a cloud of their own (qemu, small hosts)."""
    return launch_cloud


def qemu_pids(state_dir: Path) -> list[int]:
    """Pids of QEMU processes whose command line names ``state_dir`` (this cloud's guests)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            cmdline
            and cmdline[0].endswith(b"qemu-system-x86_64")
            and any(str(state_dir).encode() in arg for arg in cmdline)
        ):
            pids.append(int(entry.name))
    return pids


def kill_tgtd(state_dir: Path) -> None:
    """Kill the tgtd daemons the volume agents of ``state_dir`` recorded (``tgtd.json``,
    by pid, only while that pid is a tgtd): ``up`` leaves tgtd serving attached guests on
    stop by design, as it leaves QEMU."""
    for record in state_dir.rglob("tgtd.json"):
        try:
            pid = int(json.loads(record.read_text())["pid"])
            if Path(f"/proc/{pid}/comm").read_text().strip() == "tgtd":
                os.kill(pid, 9)
        except (OSError, ValueError, KeyError):
            continue


@pytest.fixture
def find_qemu():
    """``qemu_pids(state_dir)``: the QEMU processes of a cloud's state directory."""
    return qemu_pids


class UpProcess:
    """``pocketstack up`` on a fixed state directory and port that a test can kill -9 and
    start again (crash-recovery tests)."""

    def __init__(self, state_dir: Path, driver: str, extra: list[str] | None = None):
        self.state_dir = state_dir
        self.port = free_port()
        self.flags = _common_flags(state_dir, self.port, driver) + list(extra or [])
        self.proc: subprocess.Popen | None = None
        self.cloud = RunningCloud(f"http://127.0.0.1:{self.port}", state_dir, [])

    def start(self) -> RunningCloud:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETSTACK_")}
        self.proc = _start(["up", *self.flags], env)
        _wait_ready(self.proc, "cloud ready in", 180)  # not a lab host's "ready in"
        self.cloud.procs = [self.proc]
        _wait_compute_up(self.cloud)
        return self.cloud

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            _stop([self.proc])


@pytest.fixture
def up_process(tmp_path):
    """Factory of ``UpProcess``es; stops them, kills any QEMU they left (after the test's
    own assertions ran) and removes their state directories."""
    made: list[UpProcess] = []

    def factory(driver: str = "qemu", extra: list[str] | None = None) -> UpProcess:
        up = UpProcess(tmp_path / f"state{len(made)}", driver, extra)
        made.append(up)
        return up

    yield factory
    for up in made:
        up.stop()
        for pid in qemu_pids(up.state_dir):
            os.kill(pid, 9)
        kill_tgtd(up.state_dir)
        shutil.rmtree(up.state_dir, ignore_errors=True)


class DistributedCloud:
    """``pocketstack controller`` and ``pocketstack compute`` as separate processes on a
    fresh PostgreSQL database and RabbitMQ virtual host, each of which a test can kill -9
    and start again (distributed crash-recovery tests), whatever ``POCKETSTACK_TEST_MODE``.

    The compute agent gets no database URL (``compute_flags``: only the controllers get
    ``--database``); both get the compute service user's password. With
    ``compute_state_dir`` the agent has a state directory of its own and runs in a mount
    namespace where the controller's image store is hidden, as on another machine, so it
    downloads its images from the Image API.

    ``close()`` stops both, kills the QEMU guests of ``state_dir``, drops the database and
    the virtual host and removes ``state_dir``.
    """

    def __init__(
        self,
        state_dir: Path,
        driver: str = "fake",
        extra: list[str] | None = None,
        hostname: str = "compute1",
        compute_state_dir: Path | None = None,
    ):
        self.state_dir = state_dir
        self.hostname = hostname
        self.name = f"pstest_{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        common = _common_flags(state_dir, self.port, driver) + list(extra or [])
        common += [
            "--transport",
            f"{AMQP_URL}/{self.name}",
            "--service-user-password",
            SERVICE_PASSWORD,
        ]
        #: the controllers' flags
        self.flags = [*common, "--database", f"{PG_ADMIN_URL}/{self.name}"]
        #: the compute agent's: no database
        self.compute_flags = list(common)
        self.compute_state_dir = compute_state_dir or state_dir
        if compute_state_dir is not None:
            self.compute_flags[self.compute_flags.index("--state-dir") + 1] = str(compute_state_dir)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETSTACK_")}
        self.controller: subprocess.Popen | None = None
        #: a second controller (``start_second_controller``)
        self.controller2: subprocess.Popen | None = None
        self.compute: subprocess.Popen | None = None
        self.cloud = RunningCloud(f"http://127.0.0.1:{self.port}", state_dir, [])
        self._backends = False

    def _create_backends(self) -> None:
        self._remove_backends = distributed_backends(self.name)
        self._backends = True

    def _procs(self) -> list[subprocess.Popen]:
        return [p for p in (self.controller, self.controller2, self.compute) if p is not None]

    def start_controller(self) -> RunningCloud:
        """Start the controller (the first time: on a new database and virtual host)."""
        if not self._backends:
            self._create_backends()
        self.controller = _start(["controller", *self.flags], self.env)
        _wait_ready(self.controller, "ready in", 180)
        self.cloud.procs = self._procs()
        return self.cloud

    def start_second_controller(self) -> RunningCloud:
        """Start another controller on the same database, bus and state directory, with an
        API port of its own; clients go to it from then on (it rewrites ``clouds.yaml`` and
        the catalog)."""
        port = free_port()
        flags = list(self.flags)
        flags[flags.index("--port") + 1] = str(port)
        self.controller2 = _start(["controller", *flags], self.env)
        _wait_ready(self.controller2, "ready in", 180)
        self.cloud.url = f"http://127.0.0.1:{port}"
        self.cloud.procs = self._procs()
        return self.cloud

    def start_compute(self, wait_up: bool = True) -> None:
        """Start the compute agent; with ``wait_up``, until a compute service is ``up``."""
        args = ["compute", *self.compute_flags, "--hostname", self.hostname]
        if self.compute_state_dir == self.state_dir:
            self.compute = _start(args, self.env)
        else:  # as on another machine: its own state, the controller's images out of sight
            self.compute = _start_elsewhere(self.state_dir / "images", args, self.env)
        _wait_ready(self.compute, "ready", 60)
        self.cloud.procs = self._procs()
        if wait_up:
            _wait_compute_up(self.cloud)

    def start(self) -> RunningCloud:
        """Controller, then compute agent, then wait for the agent to be ``up``."""
        self.start_controller()
        self.start_compute()
        return self.cloud

    def kill9_controller(self) -> None:
        assert self.controller is not None
        self.controller.kill()
        self.controller.wait()

    def kill9_compute(self) -> None:
        assert self.compute is not None
        self.compute.kill()
        self.compute.wait()

    def close(self) -> None:
        _stop(self._procs())
        for pid in {*qemu_pids(self.state_dir), *qemu_pids(self.compute_state_dir)}:
            os.kill(pid, 9)
        if self._backends:
            self._remove_backends()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        shutil.rmtree(self.compute_state_dir, ignore_errors=True)


@pytest.fixture
def distributed_cloud(tmp_path):
    """Factory of ``DistributedCloud``s (not started); closes them all after the test."""
    made: list[DistributedCloud] = []

    def factory(
        driver: str = "fake", extra: list[str] | None = None, own_compute_state: bool = False
    ) -> DistributedCloud:
        n = len(made)
        own = tmp_path / f"dstate{n}-compute" if own_compute_state else None
        dc = DistributedCloud(tmp_path / f"dstate{n}", driver, extra, compute_state_dir=own)
        made.append(dc)
        return dc

    yield factory
    for dc in made:
        dc.close()


@pytest.fixture(scope="session")
def running_cloud(tmp_path_factory):
    """The whole cloud with the fake driver, shared by the session's API tests."""
    with launch_cloud(tmp_path_factory.mktemp("cloud") / "state") as cloud:
        yield cloud


def _wait_compute_up(cloud: RunningCloud, timeout: float = 60) -> None:
    conn = cloud.sdk("pocketstack-admin")
    wait_until(
        lambda: any(s.state == "up" for s in conn.compute.services()),
        timeout,
        "a compute service to be up",
        interval=0.5,
        detail=cloud.log,
    )


@pytest.fixture
def conf(tmp_path):
    """A ``Config`` with its state directory in ``tmp_path`` and no env/file influence;
    bcrypt at its lowest cost (``password_hash_rounds`` 4: ~1 ms a hash instead of 50-400 ms
    at the default 10). The compute agent's heartbeat, resource report and power-state sync
    run every ``periodic_interval`` (0), so a test that shortens it sees them soon."""
    return Config.load(
        {
            "state_dir": str(tmp_path / "state"),
            "compute_driver": "fake",
            **FAST_HASHES,
            **EVERY_ROUND,
        },
        environ={},
    )


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory) -> bytes:
    """A SQLite database file with every table created (``create_all``) and no rows, as
    bytes: made once a session, where ``create_all`` per test cost 0.2-0.7 s."""
    import_all_models()
    path = tmp_path_factory.mktemp("schema") / "template.db"
    database = Database(f"sqlite:///{path}")
    Base.metadata.create_all(database.engine)
    database.dispose()  # the last connection closed: the WAL is checkpointed into the file
    return path.read_bytes()


@pytest.fixture
def db(conf, sqlite_schema):
    """A SQLite database in the temp state directory with every table created (a copy of
    ``sqlite_schema``)."""
    path = Path(sa.make_url(normalize_url(conf.database)).database or "")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(sqlite_schema)
    database = Database(conf.database)
    yield database
    database.dispose()


@pytest.fixture
def bus():
    b = InProcessBus(workers=8)
    yield b
    b.stop()


@pytest.fixture
def cloud(conf, db, bus):
    """A ``Cloud`` (managers built on first use) over the temp database and bus."""
    from pocketstack.service import Cloud

    return Cloud(conf, db, bus)
