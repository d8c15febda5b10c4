"""Unit tests of pocketstack.cli: private state directory, rotating log, one-line client
errors in the log."""

from __future__ import annotations

import logging
import os
import stat
import sys

import h11
import pytest

from pocketstack import cli
from pocketstack.common.config import Config


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _conf(state_dir, **options) -> Config:
    flags = {"state_dir": str(state_dir), **options}
    return Config.load(flags, environ={})


def test_secure_state_dir_narrows_what_an_older_version_left(tmp_path):
    state = tmp_path / "state"
    for sub in ("logs", "keys", "images", "instances/abc"):
        (state / sub).mkdir(parents=True)
    files = {
        "pocketstack.db": 0o644,
        "pocketstack.db-wal": 0o644,
        "pocketstack.db-shm": 0o644,
        "bootstrap.json": 0o644,
        "logs/pocketstack.log": 0o644,
        "logs/pocketstack.log.1": 0o664,
        "keys/0": 0o644,
        "images/run.sh": 0o755,
    }
    for rel, mode in files.items():
        (state / rel).write_text("x")
        os.chmod(state / rel, mode)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (state / "link").symlink_to(outside)
    for d in (state, state / "logs", state / "keys", state / "images", state / "instances"):
        os.chmod(d, 0o755)

    cli.secure_state_dir(_conf(state))

    for d in ("", "logs", "keys", "images", "instances"):
        assert _mode(state / d) == 0o700, d
    for rel in ("pocketstack.db", "pocketstack.db-wal", "pocketstack.db-shm", "bootstrap.json"):
        assert _mode(state / rel) == 0o600, rel
    for rel in ("logs/pocketstack.log", "logs/pocketstack.log.1", "keys/0"):
        assert _mode(state / rel) == 0o600, rel
    assert _mode(outside) == 0o644  # a symlink's target is not ours to change
    assert _mode(state / "instances/abc") == 0o755  # behind a 0700 directory: left alone


def test_secure_state_dir_creates_a_private_directory(tmp_path):
    state = tmp_path / "new" / "state"
    cli.secure_state_dir(_conf(state))
    assert _mode(state) == 0o700


def test_secure_state_dir_without_create_leaves_a_missing_directory_missing(tmp_path):
    cli.secure_state_dir(_conf(tmp_path / "absent"), create=False)
    assert not (tmp_path / "absent").exists()


def test_secure_state_dir_refuses_a_shared_directory(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(SystemExit, match="shared"):
        cli.secure_state_dir(_conf(shared))
    assert _mode(shared) == 0o1777


def test_log_file_rotates_at_max_bytes_and_keeps_backup_count(tmp_path):
    conf = _conf(tmp_path / "state", log_max_bytes="2000", log_backup_count="3")
    handler = cli.log_file_handler(conf, "unit")
    logger = logging.getLogger("pocketstack.test_cli.rotation")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        for i in range(400):
            logger.info("line %04d %s", i, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    logs = tmp_path / "state" / "logs"
    names = sorted(p.name for p in logs.iterdir())
    assert names == ["unit.log", "unit.log.1", "unit.log.2", "unit.log.3"]
    for name in names:
        assert (logs / name).stat().st_size <= 2000, name
    assert "line 0399" in (logs / "unit.log").read_text()  # the newest lines are kept
    assert "line 0000" not in "".join((logs / n).read_text() for n in names)


def test_log_options_have_bounded_defaults():
    conf = Config.load({}, environ={})
    assert conf.log_max_bytes == 10 * 1024 * 1024
    assert conf.log_backup_count == 5


def _record(level: int, msg: str, exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord("uvicorn.error", level, __file__, 1, msg, None, exc_info)


def _render(record: logging.LogRecord) -> str:
    assert cli.OneLineClientErrors().filter(record)
    return logging.Formatter(cli.LOG_FORMAT).format(record)


def test_a_client_error_warning_is_one_line():
    record = _record(
        logging.WARNING, "Invalid HTTP request received.", h11.RemoteProtocolError("bad")
    )
    text = _render(record)
    assert "\n" not in text and "Traceback" not in text
    assert "Invalid HTTP request received. (RemoteProtocolError: bad)" in text


def test_a_second_response_after_uvicorns_400_is_one_warning_line():
    """A client breaking HTTP mid-body: uvicorn answered 400, then the app's answer fails."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert isinstance(conn.next_event(), h11.Request)
    with pytest.raises(h11.RemoteProtocolError):
        conn.next_event()
    conn.send(h11.Response(status_code=400, headers=[("connection", "close")]))
    conn.send(h11.EndOfMessage())
    with pytest.raises(h11.LocalProtocolError) as caught:
        conn.send(h11.Response(status_code=401, headers=[]))
    record = _record(logging.ERROR, "Exception in ASGI application\n", caught.value)
    text = _render(record)
    assert record.levelno == logging.WARNING
    assert "\n" not in text and "Traceback" not in text
    assert "A client broke HTTP mid-request" in text


def test_a_server_error_keeps_its_traceback():
    record = _record(logging.ERROR, "Exception in ASGI application\n", KeyError("bug"))
    text = _render(record)
    assert record.levelno == logging.ERROR and "Traceback" in text and "KeyError" in text
    wrong_order = h11.LocalProtocolError(
        "can't handle event type Data when role=SERVER and state=SEND_RESPONSE"
    )
    assert "Traceback" in _render(_record(logging.ERROR, "Exception", wrong_order))


def test_uvicorn_records_reach_the_log_file_through_the_filter():
    loggers = [logging.getLogger(name) for name in cli.CLIENT_ERROR_LOGGERS]
    saved = [(lg.filters[:], lg.handlers[:], lg.propagate) for lg in loggers]
    try:
        cli.configure_uvicorn_logging()
        cli.configure_uvicorn_logging()  # idempotent: one filter each
        for logger in loggers:
            assert [type(f) for f in logger.filters].count(cli.OneLineClientErrors) == 1
            if logger.name.startswith("uvicorn"):
                assert logger.propagate and not logger.handlers
    finally:
        for logger, (filters, handlers, propagate) in zip(loggers, saved, strict=True):
            logger.filters[:], logger.handlers[:], logger.propagate = filters, handlers, propagate


@pytest.mark.parametrize(
    "flag,message",
    [
        ("--compute-driver=xen", "unknown compute_driver 'xen': known are fake, qemu"),
        ("--network-driver=ovs", "unknown network_driver 'ovs': known are fake, linuxbridge, noop"),
        ("--image-store=rbd", "unknown image_store 'rbd': known are file, swift"),
    ],
)
def test_an_unknown_driver_name_stops_at_startup(tmp_path, monkeypatch, flag, message):
    for name in ("COMPUTE_DRIVER", "NETWORK_DRIVER", "IMAGE_STORE"):
        monkeypatch.delenv(f"POCKETSTACK_{name}", raising=False)
    umask = os.umask(0o022)
    try:
        with pytest.raises(SystemExit) as info:
            cli.main(["compute", f"--state-dir={tmp_path}", flag])
    finally:
        os.umask(umask)
    assert str(info.value) == f"pocketstack: {message}"
    assert not os.listdir(tmp_path)  # nothing started, nothing written


#: the bus ``_run_on_the_bus_only`` hands the host
FAKE_BUS = type("FakeBus", (), {"stop": lambda self: None})()


def _run_on_the_bus_only(monkeypatch, host_class: str, argv: list[str]) -> list[tuple]:
    """Run ``pocketstack <argv>`` with ``pocketstack.service.<host_class>`` replaced by a
    recorder, a fake bus, no signals and a stop event already set; opening the database
    fails the test. Returns the host's constructions as ``[(args, kwargs)]``."""
    import pocketstack.common.bus as bus_module
    import pocketstack.common.db as db_module
    import pocketstack.service as service_module

    hosts: list[tuple] = []

    class FakeHost:
        def __init__(self, *args, **kwargs):
            hosts.append((args, kwargs))

        def start(self) -> None:
            pass

        def stop(self) -> None:
            pass

    class Stopped:
        def set(self) -> None:
            pass

        def wait(self) -> bool:
            return True  # as if SIGTERM came at once

    def no_database(*_args, **_kwargs):
        raise AssertionError(f"pocketstack {argv[0]} opened the database")

    monkeypatch.setattr(service_module, host_class, FakeHost)
    monkeypatch.setattr(bus_module, "connect", lambda url: FAKE_BUS)
    monkeypatch.setattr(db_module.Database, "__init__", no_database)
    monkeypatch.setattr(cli, "setup_logging", lambda *args: None)
    monkeypatch.setattr(cli, "_lock", lambda *args: None)
    monkeypatch.setattr(cli.threading, "Event", Stopped)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    umask = os.umask(0o022)
    try:
        cli.main(argv)
    finally:
        os.umask(umask)
    return hosts


def test_compute_opens_no_database_and_warns_about_a_given_one(tmp_path, monkeypatch, capsys):
    """``pocketstack compute`` gets the bus only: a ``--database`` given anyway is ignored
    with a warning and never opened (the agent reaches it only through the conductor)."""
    for opt in ("DATABASE", "TRANSPORT", "COMPUTE_DRIVER"):
        monkeypatch.delenv(f"POCKETSTACK_{opt}", raising=False)
    hosts = _run_on_the_bus_only(
        monkeypatch,
        "ComputeHost",
        [
            "compute",
            f"--state-dir={tmp_path}",
            "--compute-driver=fake",
            "--database=postgresql://nova:secret@db.example/pocketstack",
        ],
    )
    (((conf, bus), kwargs),) = hosts  # ComputeHost(conf, bus): no database among its arguments
    assert bus is FAKE_BUS and conf.hostname and kwargs == {}
    err = capsys.readouterr().err
    assert "--database: the database is ignored" in err and "secret" not in err


def test_network_agent_refuses_a_driver_without_agents(tmp_path, monkeypatch):
    monkeypatch.delenv("POCKETSTACK_NETWORK_DRIVER", raising=False)
    with pytest.raises(SystemExit) as info:
        cli.main(["network-agent", f"--state-dir={tmp_path}", "--network-driver=noop"])
    assert "runs no network agent" in str(info.value)


def test_network_agent_runs_its_roles_on_the_bus_only(tmp_path, monkeypatch, capsys):
    """``pocketstack network-agent --network-node`` builds a ``NetworkHost`` with the DHCP
    and L3 roles from the bus alone (no database opened)."""
    for opt in ("DATABASE", "TRANSPORT", "NETWORK_DRIVER", "NETWORK_NODE"):
        monkeypatch.delenv(f"POCKETSTACK_{opt}", raising=False)
    hosts = _run_on_the_bus_only(
        monkeypatch,
        "NetworkHost",
        [
            "network-agent",
            f"--state-dir={tmp_path}",
            "--network-driver=fake",
            "--hostname=net1",
            "--network-node",
        ],
    )
    (((conf, bus), kwargs),) = hosts
    assert bus is FAKE_BUS and conf.hostname == "net1" and kwargs == {"network_node": True}
    assert "network-agent net1 ready (L2, DHCP and L3)" in capsys.readouterr().out


def test_volume_runs_the_storage_host_on_the_bus_only(tmp_path, monkeypatch, capsys):
    """``pocketstack volume`` builds a ``VolumeHost`` from the bus alone (a database given
    is ignored with a warning) with the portal of its flags."""
    for opt in ("DATABASE", "TRANSPORT", "VOLUME_DRIVER", "ISCSI_IP", "ISCSI_PORT"):
        monkeypatch.delenv(f"POCKETSTACK_{opt}", raising=False)
    hosts = _run_on_the_bus_only(
        monkeypatch,
        "VolumeHost",
        [
            "volume",
            f"--state-dir={tmp_path}",
            "--hostname=store1",
            "--iscsi-ip=127.0.0.1",
            "--iscsi-port=13261",
            "--database=postgresql://cinder:secret@db.example/pocketstack",
        ],
    )
    (((conf, bus), kwargs),) = hosts
    assert bus is FAKE_BUS and conf.hostname == "store1" and kwargs == {}
    assert "volume store1 ready (file driver, portal 127.0.0.1:13261)" in capsys.readouterr().out
