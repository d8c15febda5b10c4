"""What ``pocketstack up --hosts N`` gives each lab host's process: its own options and
state directory, the controller's other options through the environment, a bus that
crosses processes. (The processes themselves run in tests/e2e/test_network_dataplane.py.)"""

from __future__ import annotations

import pytest

from pocketstack.cli import build_parser
from pocketstack.common.config import OPTIONS, Config
from pocketstack.lab import Lab
from pocketstack.lab.runner import (
    LabHosts,
    forget_stale_fanouts,
    host_command,
    host_env,
    lab_conf,
)


def _conf(tmp_path, **flags):
    return Config.load({"state_dir": str(tmp_path), **flags}, environ={})


def test_the_controller_of_a_lab_uses_linuxbridge_on_a_filesystem_bus(tmp_path):
    conf = lab_conf(_conf(tmp_path, hosts=2))
    assert conf.network_driver == "linuxbridge"
    assert conf.transport == f"filesystem://{tmp_path}/bus"
    amqp = lab_conf(_conf(tmp_path, hosts=2, transport="amqp://u:p@127.0.0.1//"))
    assert amqp.transport == "amqp://u:p@127.0.0.1//"  # a real broker is kept


def test_each_host_runs_with_its_own_options_and_state(tmp_path):
    conf = lab_conf(_conf(tmp_path, hosts=2, lab_prefix="pstx", accel="tcg"))
    host2 = Lab("pstx", 2).host("host2")
    argv = host_command(conf, host2)
    opts = dict(zip(argv, argv[1:], strict=False))
    assert argv[1:4] == ["-m", "pocketstack.cli", "lab-host"]
    assert opts["--state-dir"] == str(tmp_path / "hosts" / "host2")
    assert opts["--config"] == str(tmp_path / "pocketstack.toml")
    assert opts["--hostname"] == "host2" and opts["--netns"] == "pstx-host2"
    assert opts["--local-ip"] == "10.255.0.12" and opts["--tunnel-interface"] == "eth-underlay"
    assert "--no-network-node" in argv and "--network-node" in host_command(
        conf, Lab("pstx", 2).hosts[0]
    )

    env = host_env(conf.replace(service_user_password="s3cret"), environ={"PATH": "/bin"})
    assert env["POCKETSTACK_SERVICE_USER_PASSWORD"] == "s3cret"  # never on the command line
    assert "s3cret" not in " ".join(argv)
    assert env["POCKETSTACK_NETWORK_DRIVER"] == "linuxbridge"
    assert env["POCKETSTACK_TRANSPORT"] == conf.transport
    assert env["POCKETSTACK_HOSTS"] == "2" and env["POCKETSTACK_LAB_PREFIX"] == "pstx"
    assert env["POCKETSTACK_ACCEL"] == "tcg" and env["PATH"] == "/bin"
    for own in ("STATE_DIR", "DATABASE", "HOSTNAME", "NETNS", "CONFIG", "NETWORK_NODE"):
        assert f"POCKETSTACK_{own}" not in env

    # what the child's command line parses to
    args = build_parser().parse_args(argv[3:])
    child = Config.load({o.name: getattr(args, o.name, None) for o in OPTIONS}, environ=env)
    assert child.hostname == "host2" and child.netns == "pstx-host2" and not child.network_node
    assert child.network_driver == "linuxbridge" and child.state_dir.endswith("hosts/host2")


def test_on_a_broker_and_postgresql_the_hosts_get_the_broker_and_password_not_the_database(
    tmp_path,
):
    # what a distributed lab (`up --hosts N --database postgresql://... --transport amqp://...`)
    # hands its hosts: the agents talk over RabbitMQ and hold no database credentials
    amqp = "amqp://guest:guest@127.0.0.1:5672/pstest_lab"
    conf = lab_conf(
        _conf(tmp_path, hosts=2, transport=amqp, database="postgresql://pg:dbpw@127.0.0.1/ps")
    ).replace(service_user_password="s3cret")
    host1 = Lab(conf.lab_prefix, 2).hosts[0]
    argv = host_command(conf, host1)
    env = host_env(conf, environ={"PATH": "/bin", "POCKETSTACK_DATABASE": "postgresql://x"})
    assert env["POCKETSTACK_TRANSPORT"] == amqp
    assert env["POCKETSTACK_SERVICE_USER_PASSWORD"] == "s3cret"
    assert "POCKETSTACK_DATABASE" not in env  # not even one inherited from our environment
    assert "dbpw" not in " ".join([*argv, *env.values()])

    args = build_parser().parse_args(argv[3:])
    child = Config.load({o.name: getattr(args, o.name, None) for o in OPTIONS}, environ=env)
    assert child.transport == amqp and child.service_user_password == "s3cret"
    assert child.database.startswith("sqlite:///" + str(tmp_path / "hosts" / "host1"))


def test_the_dhcp_and_router_namespaces_are_found_from_the_hosts_markers(tmp_path):
    conf = lab_conf(_conf(tmp_path, hosts=2, lab_prefix="pstx"))
    (tmp_path / "hosts" / "host1" / "dhcp" / "net-1").mkdir(parents=True)
    (tmp_path / "hosts" / "host1" / "l3" / "router-1").mkdir(parents=True)
    assert LabHosts(conf).dataplane_namespaces() == ["qdhcp-net-1", "qrouter-router-1"]


def test_a_new_up_forgets_the_fanout_queues_of_killed_processes(tmp_path):
    conf = lab_conf(_conf(tmp_path, hosts=1))
    bus = tmp_path / "bus"
    (bus / "control").mkdir(parents=True)
    (bus / "data").mkdir()
    kept = [
        bus / "control" / "pocketstack.exchange",
        bus / "data" / "1_a.pocketstack.compute.host1.msg",
    ]
    gone = [
        bus / "control" / "pocketstack.fanout.network_agent.exchange",
        bus / "data" / "2_b.pocketstack.fanout.network_agent.host1.0a1b2c3d.msg",
    ]
    for path in kept + gone:
        path.write_text("[]")
    assert forget_stale_fanouts(conf) == 2
    assert all(p.exists() for p in kept) and not any(p.exists() for p in gone)


def test_a_bad_host_count_stops_up_with_a_message_not_a_traceback(tmp_path):
    from pocketstack.cli import cmd_up

    with pytest.raises(SystemExit) as exc:
        cmd_up(_conf(tmp_path / "state", hosts=300))
    assert not (tmp_path / "state").exists()  # refused before anything was made
    assert (
        str(exc.value)
        == "pocketstack: cannot build the lab: lab hosts: 300 is not between 1 and 244"
    )
