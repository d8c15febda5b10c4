"""The ``pocketstack`` command.

    pocketstack up           the whole cloud in one process (SQLite, in-process bus, local
                             compute host); Ctrl-C stops it. With --hosts N: a lab of N hosts
                             in network namespaces instead of the local host (see
                             pocketstack.lab), one ``lab-host`` process each
    pocketstack lab-host     the compute and network agents of one lab host (started by up)
    pocketstack controller   API + managers + conductor + scheduler (distributed mode)
    pocketstack compute      the compute agent of this host (distributed mode; bus only,
                             no database)
    pocketstack network-agent  the network agent of this host (distributed mode; bus only,
                             no database; --network-node adds the DHCP and L3 roles)
    pocketstack volume       the volume agent of this storage host (distributed mode; bus
                             only, no database; iSCSI portal --iscsi-ip/--iscsi-port)
    pocketstack object-node  one object storage node: account, container and object servers
                             for the devices under --object-devices (distributed mode)
    pocketstack object-status  per storage node: partitions, objects, bytes, quarantined,
                             handoffs pending, last replication pass (each node's /recon/)
    pocketstack ring ...     build and rebalance an object ring (swift-ring-builder's roles;
                             see pocketstack.objectstore.ring_cli)
    pocketstack guest-image  build (or find cached) the default guest image and print its path
    pocketstack db-upgrade   migrate the database to the newest schema
    pocketstack config show  print the effective configuration by section (secrets masked)
    pocketstack placement sync-aggregates  copy host aggregates to resource providers

Every option of ``pocketstack.common.config.OPTIONS`` is a flag of these commands, listed by
``--help`` in one group per section of the TOML file, and can also come from
``POCKETSTACK_<NAME>`` or the TOML file.

Files are private to the user pocketstack runs as: the process umask is ``PRIVATE_UMASK``
(new directories 0700, new files 0600) and each command first narrows the modes an older
version left in the state directory (``secure_state_dir``). The database holds password
hashes and user data, ``keys/`` the token keys, the logs request details. QEMU, qemu-img and
the other tools pocketstack starts run as the same user, so they need nothing more.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pocketstack.common.config import DEFAULT, OPTIONS, SECTIONS, Config
from pocketstack.common.drivers import check_config
from pocketstack.common.logs import (  # noqa: F401 - part of the CLI's interface
    CLIENT_ERROR_LOGGERS,
    LOG_FORMAT,
    OneLineClientErrors,
    configure_uvicorn_logging,
    log_file_handler,
    setup_logging,
)
from pocketstack.objectstore import ring_cli

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger("pocketstack")

#: Process umask from start-up on: what pocketstack creates is its user's only.
PRIVATE_UMASK = 0o077
#: State subdirectories whose every file is narrowed too (the top level's always are).
PRIVATE_FILE_DIRS = ("logs", "keys")
#: the iSCSI port of a lab's storage host (its own namespace: the standard port is free)
LAB_ISCSI_PORT = 3260


def _add_options(parser: argparse.ArgumentParser) -> None:
    """One flag per option, in one argument group per section (``[compute] options``...)."""
    groups: dict[str, Any] = {}
    for section, text in SECTIONS.items():
        if any(o.cli and o.section == section for o in OPTIONS):
            title = "general options" if section == DEFAULT else f"[{section}] options"
            groups[section] = parser.add_argument_group(title, text)
    for opt in OPTIONS:
        if not opt.cli:
            continue
        group = groups[opt.section]
        text = opt.help if opt.key == opt.name else f"{opt.help}; in the file: {opt.where}"
        if opt.type is bool:
            group.add_argument(
                opt.flag,
                dest=opt.name,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=f"{text} (default {opt.default})",
            )
        else:
            group.add_argument(
                opt.flag,
                dest=opt.name,
                default=None,
                metavar=opt.name.upper(),
                help=f"{text} (default {opt.default!r})",
            )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per process role."""
    parser = argparse.ArgumentParser(
        prog="pocketstack", description="A small cloud that speaks OpenStack."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("up", "run the whole cloud in this process"),
        ("controller", "run API, managers, conductor and scheduler"),
        ("compute", "run this host's compute agent"),
        ("network-agent", "run this host's network agent (linuxbridge driver)"),
        ("volume", "run this storage host's volume agent"),
        ("db-upgrade", "migrate the database schema to the newest revision"),
        ("guest-image", "build or find the cached default guest image"),
        ("lab-host", "run one lab host's agents (pocketstack up --hosts N starts these)"),
        ("object-node", "run one object storage node for its devices (distributed mode)"),
        ("object-status", "per storage node: partitions, objects, bytes, quarantined, handoffs"),
    ):
        _add_options(sub.add_parser(name, help=helptext))
    ring_cli.add_parser(sub)
    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    _add_options(
        config_sub.add_parser(
            "show",
            help="print the effective configuration as TOML, by section, secrets masked",
            description="Print the configuration these flags, POCKETSTACK_* variables and "
            "the TOML file give, as a TOML file; a value not at its default ends in a "
            "comment naming its source. Passwords in URLs are masked.",
        )
    )
    placement = sub.add_parser("placement", help="repair Placement from the compute database")
    placement_sub = placement.add_subparsers(dest="placement_command", required=True)
    _add_options(
        placement_sub.add_parser(
            "sync-aggregates",
            help="copy every compute host's aggregates to its resource provider",
            description="Make each compute host's resource provider carry the host "
            "aggregates the host is in (Nova's nova-manage placement sync_aggregates); the "
            "controller also does this at each start. Exit status 0: all copied; 3: a "
            "Placement update failed; 6: a host has no resource provider yet.",
        )
    )
    return parser


def _narrow(path: Path) -> None:
    """Clear the group and other bits of ``path`` (never follows a symlink)."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
        return
    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077)


def secure_state_dir(conf: Config, create: bool = True) -> None:
    """Make the state directory its owner's only, narrowing what an older version left.

    The directory becomes 0700, and so does every directory directly in it (``logs``,
    ``keys``, ``images``, ``instances``...); every file directly in it (``pocketstack.db``
    and its ``-wal``/``-shm``/``-journal``, ``bootstrap.json``, ``clouds.yaml``, the locks)
    and in ``logs/`` and ``keys/`` loses its group and other bits. Modes are only narrowed,
    symlinks left alone. Without ``create`` a missing directory is left missing.

    Raises:
        SystemExit: the directory is shared (sticky bit, like ``/tmp``) or its mode cannot
            be changed (another user's).
    """
    state = conf.path()
    if not state.exists():
        if not create:
            return
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
    if state.stat().st_mode & stat.S_ISVTX:
        raise SystemExit(
            f"pocketstack: the state directory {state} is shared (sticky bit); "
            "give pocketstack a directory of its own (--state-dir)"
        )
    try:
        os.chmod(state, stat.S_IMODE(state.stat().st_mode) & ~0o077)
        for entry in state.iterdir():
            _narrow(entry)
        for name in PRIVATE_FILE_DIRS:
            folder = state / name
            if folder.is_dir() and not folder.is_symlink():
                for entry in folder.iterdir():
                    _narrow(entry)
    except PermissionError as exc:
        raise SystemExit(f"pocketstack: cannot make {state} private: {exc}") from None


def _lock(conf: Config, name: str) -> TextIO:
    """Hold ``<state_dir>/<name>.lock`` for the life of the process (the kernel frees it on any
    exit, kill -9 included), so two processes never run the same role on one state dir."""
    conf.path().mkdir(parents=True, exist_ok=True)
    f = open(conf.path(f"{name}.lock"), "w")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"pocketstack: another '{name}' runs on {conf.state_dir}") from None
    f.write(str(os.getpid()))
    f.flush()
    return f


def _ignore_signal(_signum: int, _frame: Any) -> None:
    """A handler that does nothing (see ``_serve``)."""


def _serve(conf: Config, cloud: Cloud, on_ready: Callable[[], None]) -> None:
    """Serve the API with uvicorn until SIGINT/SIGTERM; call ``on_ready`` once listening."""
    import uvicorn

    from pocketstack.service import build_app

    app = build_app(cloud)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=conf.host,
            port=conf.port,
            log_level="warning",
            log_config=None,
            lifespan="off",
            access_log=False,
        )
    )

    def wait_ready() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            on_ready()

    threading.Thread(target=wait_ready, name="ready", daemon=True).start()
    import anyio.to_thread

    async def run() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 64
        await server.serve()

    # Once shut down, uvicorn raises again the signal that stopped it: with the default
    # handlers a SIGINT became a KeyboardInterrupt traceback (exit status -2) and a SIGTERM
    # killed the process before the caller's clean-up (guests, bus, database) ran. Absorb
    # that re-raise; a further Ctrl-C during the clean-up interrupts it as usual.
    previous = {sig: signal.signal(sig, _ignore_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        anyio.run(run)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise SystemExit(f"pocketstack: could not listen on {conf.host}:{conf.port}")


def _print_ready(conf: Config, started: float, role: str) -> None:
    print(f"pocketstack {role} ready in {time.monotonic() - started:.1f}s", flush=True)
    print(
        f"  API:          {conf.public_url}  (identity {conf.public_url}/identity/v3, "
        f"compute /compute/v2.1, image /image/v2, network /networking/v2.0, "
        f"object-store /object-store/v1)",
        flush=True,
    )
    print(f"  clouds.yaml:  {conf.path('clouds.yaml')}", flush=True)
    print("  try:          openstack --os-cloud pocketstack-demo server list", flush=True)


def cmd_up(conf: Config) -> None:
    """Everything in one process: controller, bootstrap, local compute host, API; with
    ``--hosts N`` a lab instead of the local host (``_up_lab``)."""
    from pocketstack.bootstrap import bootstrap, service_password
    from pocketstack.objectstore.embedded import start_nodes
    from pocketstack.service import (
        ComputeHost,
        Controller,
        NetworkHost,
        VolumeHost,
        network_agents_enabled,
        open_backends,
    )

    if conf.hosts:
        _up_lab(conf)
        return
    started = time.monotonic()
    secure_state_dir(conf)
    _lock(conf, "up")
    setup_logging(conf, "pocketstack")
    db, bus = open_backends(conf)
    objects = start_nodes(conf)  # the storage nodes the object store's proxy writes to
    controller = Controller(conf, db, bus)
    bootstrap(controller.cloud)
    controller.start()
    # the local agent gets the bus only, and the service user's password bootstrap used
    host = ComputeHost(conf.replace(service_user_password=service_password(conf)), bus)
    host.start()
    fleet = _fake_fleet(conf.replace(service_user_password=service_password(conf)), bus)
    # a driver with agents (linuxbridge): this host's network agent with every role
    network = NetworkHost(conf, bus, network_node=True) if network_agents_enabled(conf) else None
    if network is not None:
        network.start()
    # this host is the storage host too (portal iscsi_ip:iscsi_port, 127.0.0.1 by default;
    # a port not chosen is a free one, kept for the next up: clouds of one machine coexist)
    portal = {} if conf.sources.get("iscsi_port", "default") != "default" else {"iscsi_port": 0}
    storage_conf = conf.replace(service_user_password=service_password(conf), **portal)
    storage = VolumeHost(storage_conf, bus)
    storage.start()
    try:
        _serve(conf, controller.cloud, lambda: _print_ready(conf, started, "cloud"))
    finally:
        LOG.info("stopping")
        storage.stop(stop_exports=conf.shutdown_instances)  # tgtd stays with the guests
        if network is not None:
            network.stop()
        if fleet is not None:
            fleet.stop()
        host.stop()
        controller.stop()
        objects.stop()
        bus.stop()
        db.dispose()


def _up_lab(conf: Config) -> None:
    """``pocketstack up --hosts N``: build (or adopt) the lab's namespaces, run the
    controller here with the linuxbridge network driver on a filesystem bus, and one
    ``pocketstack lab-host`` process per host (``pocketstack.lab.runner``). Ctrl-C stops
    the hosts' agents, then removes the lab unless guests are left running in it (they are
    unless ``--shutdown-instances``); the next ``up`` adopts it."""
    from pocketstack.bootstrap import bootstrap, service_password
    from pocketstack.lab.runner import LabHosts, forget_stale_fanouts, lab_conf
    from pocketstack.network.drivers.base import NetworkDriverError
    from pocketstack.service import Controller, open_backends

    started = time.monotonic()
    conf = lab_conf(conf)
    if conf.image_store == "swift":  # its nodes start after bootstrap uploads the guest image
        raise SystemExit("pocketstack: image_store 'swift' is not supported with --hosts yet")
    try:
        lab = LabHosts(conf)
    except ValueError as exc:
        raise SystemExit(f"pocketstack: cannot build the lab: {exc}") from None
    secure_state_dir(conf)
    _lock(conf, "up")
    setup_logging(conf, "pocketstack")
    try:
        hosts = lab.setup()
    except NetworkDriverError as exc:
        raise SystemExit(f"pocketstack: cannot build the lab: {exc}") from None
    forget_stale_fanouts(conf)
    db, bus = open_backends(conf)
    controller = Controller(conf, db, bus)
    bootstrap(controller.cloud)
    controller.start()
    lab.conf = conf.replace(service_user_password=service_password(conf))
    lab.start()

    def ready() -> None:
        _print_ready(conf, started, "cloud")
        names = ", ".join(f"{h.hostname} ({h.netns}, {h.local_ip})" for h in hosts)
        print(f"  lab hosts:    {names}; host1 is the network node", flush=True)

    try:
        _serve(conf, controller.cloud, ready)
    finally:
        LOG.info("stopping")
        torn_down = lab.stop()
        controller.stop()
        bus.stop()
        db.dispose()
        if not torn_down:
            print(
                f"pocketstack: guests still run: lab {conf.lab_prefix} kept for the next up",
                flush=True,
            )


def cmd_lab_host(conf: Config) -> None:
    """The agents of one lab host until SIGTERM (or its parent ``up`` dies): the compute
    agent (QEMU in the host's namespace) and the network agent, with the DHCP and L3 roles
    and the volume agent (tgtd in the namespace, portal ``<local_ip>:3260``) on the lab's
    network node. Options come from ``up`` (see ``pocketstack.lab.runner``)."""
    from pocketstack.common.bus import connect
    from pocketstack.service import ComputeHost, NetworkHost, VolumeHost

    secure_state_dir(conf)
    _lock(conf, f"lab-host-{conf.hostname}")
    setup_logging(conf, f"lab-{conf.hostname}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    bus = connect(conf.transport)
    compute = ComputeHost(conf, bus)
    network = NetworkHost(conf, bus, network_node=conf.network_node)
    # the network node is the storage node: its portal is its underlay address
    storage = (
        VolumeHost(conf.replace(iscsi_ip=conf.local_ip, iscsi_port=LAB_ISCSI_PORT), bus)
        if conf.network_node
        else None
    )
    compute.start()
    network.start()
    if storage is not None:
        storage.start()
    print(f"pocketstack lab host {conf.hostname} ready in {conf.netns}", flush=True)
    stop.wait()
    if storage is not None:
        storage.stop()  # tgtd stays: the lab's teardown stops it
    network.stop()
    compute.stop()
    bus.stop()


def cmd_controller(conf: Config) -> None:
    """API, managers, conductor and scheduler; several may run against one DB and bus."""
    from pocketstack.bootstrap import bootstrap
    from pocketstack.service import Controller, open_backends

    started = time.monotonic()
    secure_state_dir(conf)
    setup_logging(conf, "controller")
    db, bus = open_backends(conf)
    controller = Controller(conf, db, bus)
    bootstrap(controller.cloud)
    controller.start()
    try:
        _serve(conf, controller.cloud, lambda: _print_ready(conf, started, "controller"))
    finally:
        controller.stop()
        bus.stop()
        db.dispose()


def cmd_compute(conf: Config) -> None:
    """The compute agent of this host until SIGINT/SIGTERM.

    It needs ``--transport`` (RabbitMQ) and ``[service_user] password`` (to fetch images),
    and no database: the agent reaches the database only through the conductor. A database
    URL given anyway (flag, variable or a configuration file shared with a controller) is
    ignored with a warning, never opened.
    """
    from pocketstack.common.bus import connect
    from pocketstack.service import ComputeHost

    if conf.sources.get("database", "default") != "default":
        print(
            f"pocketstack: warning: {conf.sources['database']}: the database is ignored: a "
            "compute host reaches it only through the conductor",
            file=sys.stderr,
        )
    secure_state_dir(conf)
    _lock(conf, f"compute-{conf.hostname}")
    setup_logging(conf, f"compute-{conf.hostname}")
    bus = connect(conf.transport)
    host = ComputeHost(conf, bus)
    host.start()
    fleet = _fake_fleet(conf, bus)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"pocketstack compute {conf.hostname} ready ({conf.compute_driver} driver)", flush=True)
    stop.wait()
    if fleet is not None:
        fleet.stop()
    host.stop()
    bus.stop()


def _fake_fleet(conf: Config, bus: Any) -> Any:
    """``--fake-hosts N``: N fake compute hosts besides this one, started (``FakeFleet``);
    None without the option."""
    from pocketstack.compute.fake_fleet import FakeFleet

    if not conf.fake_hosts:
        return None
    try:
        fleet = FakeFleet(conf, bus, int(conf.fake_hosts))
    except ValueError as exc:
        raise SystemExit(f"pocketstack: {exc}") from None
    fleet.start()
    print(f"  fake hosts:   {len(fleet.hosts)} ({fleet.names[0]} ...)", flush=True)
    return fleet


def cmd_network_agent(conf: Config) -> None:
    """The network agent of this host until SIGINT/SIGTERM (``service.NetworkHost``).

    It needs ``--transport`` (RabbitMQ) and a network driver with agents
    (``--network-driver linuxbridge``); ``--network-node`` adds the DHCP and L3 roles,
    ``--netns`` makes it act in a namespace, ``--local-ip`` is its VXLAN endpoint. No
    database: it reaches the server only over the bus (a database URL given anyway is
    ignored with a warning, as for ``compute``).
    """
    from pocketstack.common.bus import connect
    from pocketstack.service import NetworkHost, network_agents_enabled

    if not network_agents_enabled(conf):
        raise SystemExit(
            f"pocketstack: network_driver {conf.network_driver!r} runs no network agent "
            "(use --network-driver linuxbridge)"
        )
    if conf.sources.get("database", "default") != "default":
        print(
            f"pocketstack: warning: {conf.sources['database']}: the database is ignored: a "
            "network agent reaches it only through the server",
            file=sys.stderr,
        )
    secure_state_dir(conf)
    _lock(conf, f"network-agent-{conf.hostname}")
    setup_logging(conf, f"network-agent-{conf.hostname}")
    bus = connect(conf.transport)
    agent = NetworkHost(conf, bus, network_node=conf.network_node)
    agent.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    roles = "L2, DHCP and L3" if conf.network_node else "L2"
    print(f"pocketstack network-agent {conf.hostname} ready ({roles})", flush=True)
    stop.wait()
    agent.stop()
    bus.stop()


def cmd_volume(conf: Config) -> None:
    """The volume agent of this storage host until SIGINT/SIGTERM (``service.VolumeHost``).

    It needs ``--transport`` (RabbitMQ), ``[service_user] password`` (images) and no
    database (a database URL given anyway is ignored with a warning, as for ``compute``).
    Its iSCSI portal is ``--iscsi-ip``:``--iscsi-port``; its volumes live in
    ``--volume-pool-dir`` (default ``<state-dir>/volumes``). Stopping it leaves tgtd
    serving attached guests (the next start adopts it).
    """
    from pocketstack.common.bus import connect
    from pocketstack.service import VolumeHost

    if conf.sources.get("database", "default") != "default":
        print(
            f"pocketstack: warning: {conf.sources['database']}: the database is ignored: a "
            "storage host reaches it only through the controllers",
            file=sys.stderr,
        )
    secure_state_dir(conf)
    _lock(conf, f"volume-{conf.hostname}")
    setup_logging(conf, f"volume-{conf.hostname}")
    bus = connect(conf.transport)
    host = VolumeHost(conf, bus)
    host.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(
        f"pocketstack volume {conf.hostname} ready ({conf.volume_driver} driver, portal "
        f"{conf.iscsi_ip}:{conf.iscsi_port})",
        flush=True,
    )
    stop.wait()
    host.stop()
    bus.stop()


def cmd_db_upgrade(conf: Config) -> None:
    """Migrate ``conf.database`` to the newest Alembic revision (idempotent)."""
    from pocketstack.common.db import Database

    secure_state_dir(conf, create=False)
    Database(conf.database).upgrade()
    print(f"database at the newest revision: {conf.database.split('@')[-1]}")


def cmd_placement_sync_aggregates(conf: Config) -> None:
    """Copy every compute host's aggregate memberships to its resource provider
    (``compute.provider_aggregates.sync_all``), printing the hosts done, without a
    provider and failed. Exit status as Nova's ``nova-manage placement sync_aggregates``:
    0 all copied, 3 a Placement update failed, 6 a host without a resource provider."""
    from pocketstack.common.db import Database
    from pocketstack.compute.provider_aggregates import sync_all

    secure_state_dir(conf, create=False)
    db = Database(conf.database)
    try:
        result = sync_all(db)
    finally:
        db.dispose()
    print(f"hosts whose resource provider has their aggregates: {len(result.synced)}")
    if result.no_provider:
        print("hosts without a resource provider: " + ", ".join(result.no_provider))
    if result.failed:
        print("hosts whose provider could not be updated: " + ", ".join(result.failed))
        raise SystemExit(3)
    if result.no_provider:
        raise SystemExit(6)


def cmd_config_show(conf: Config) -> None:
    """Print the effective configuration as TOML by section (``Config.to_toml``)."""
    print(conf.to_toml(), end="")


def cmd_object_node(conf: Config) -> None:
    """One object storage node (account, container and object servers) for the devices
    under ``object_devices``, on ``object_bind_ip:object_bind_port``, until SIGINT/SIGTERM."""
    from pocketstack.objectstore.embedded import serve_node

    setup_logging(conf, "object-node")
    serve_node(conf)


def cmd_object_status(conf: Config) -> None:
    """Print what every storage node of the object ring holds and how its replicator,
    auditor and expirer are doing (each node's ``/recon/object``); exit 1 when a node does
    not answer."""
    from pocketstack.objectstore import status_cli
    from pocketstack.objectstore.manager import ring_location

    raise SystemExit(status_cli.run(ring_location(conf)))


def cmd_guest_image(conf: Config) -> None:
    """Print the path of the cached guest image, building it first if needed."""
    from pocketstack.bootstrap import guest_cache_dir
    from pocketstack.guest.build import ensure_image

    print(ensure_image(guest_cache_dir()))


COMMANDS = {
    "up": cmd_up,
    "controller": cmd_controller,
    "compute": cmd_compute,
    "network-agent": cmd_network_agent,
    "volume": cmd_volume,
    "db-upgrade": cmd_db_upgrade,
    "guest-image": cmd_guest_image,
    "lab-host": cmd_lab_host,
    "object-node": cmd_object_node,
    "object-status": cmd_object_status,
    "config show": cmd_config_show,
    "placement sync-aggregates": cmd_placement_sync_aggregates,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``pocketstack`` console script."""
    os.umask(PRIVATE_UMASK)
    args = build_parser().parse_args(argv)
    if args.command == "ring":  # works on its own files, needs no configuration
        ring_cli.run(args)
        return
    flags = {o.name: getattr(args, o.name, None) for o in OPTIONS}
    try:
        conf = Config.load(flags)
        check_config(conf)  # an unknown driver or store name stops here, before anything starts
    except ValueError as exc:
        raise SystemExit(f"pocketstack: {exc}") from None
    for notice in conf.notices:
        print(f"pocketstack: warning: {notice}", file=sys.stderr)
    subcommand = getattr(args, "config_command", None) or getattr(args, "placement_command", None)
    command = " ".join(filter(None, (args.command, subcommand)))
    COMMANDS[command](conf)


if __name__ == "__main__":
    main()
