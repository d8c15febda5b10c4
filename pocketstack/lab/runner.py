"""Running a lab: one agents process per lab host, started and stopped by ``pocketstack up
--hosts N`` (docs/network-dataplane.md, "The lab").

Each lab host is a child process ``pocketstack lab-host`` with the host's options
(``LabHost.options()``: hostname ``host<i>``, ``netns``, ``local_ip``...), its own state
directory ``<state_dir>/hosts/host<i>`` (instances, image cache, the DHCP and router files of
the network node: each host's files are its own, as on separate machines) and the
controller's bus: ``up`` switches the ``memory://`` transport to kombu's filesystem
transport in ``<state_dir>/bus``, which needs no broker and crosses processes. The other
options reach the child as ``POCKETSTACK_*`` variables (the service user's password among
them, never on a command line); the TOML file is the parent's.

A child dies with its parent (``PR_SET_PDEATHSIG``), so a ``kill -9`` of ``up`` leaves no
agent behind; guests (QEMU in the host namespaces) and dnsmasq stay, and the next ``up``
adopts them with the lab's namespaces.

Each host logs to ``<state_dir>/hosts/host<i>/logs/lab-host<i>.log``, linked from
``<state_dir>/logs/``.

Each host also runs an object storage node (``pocketstack object-node``) inside its
namespace (``ip netns exec``), bound to its underlay address on ``object_bind_port``, with
its devices under ``<state_dir>/hosts/host<i>/objects/``; the ring
(``<state_dir>/objects/object.ring.gz``, built at the lab's first start, zone i = host i)
names those addresses, and the controller's proxy reaches them from the root namespace's
underlay address (``Lab.controller_ip``). Unless ``[objectstore] object_ring`` names a ring
elsewhere: then no node starts. A node dies with ``up`` too.

``stop`` ends the children (SIGTERM: each agent stops as ``pocketstack compute`` does,
powering guests off only with ``shutdown_instances``), then tears the lab down unless a
guest is still running in a host's namespace.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pocketstack.common.config import OPTIONS, Config
from pocketstack.lab.topology import Lab, LabHost

LOG = logging.getLogger(__name__)

#: Seconds a lab host's agents get to stop after SIGTERM before SIGKILL.
STOP_TIMEOUT = 60.0
_PR_SET_PDEATHSIG = 1


def lab_conf(conf: Config) -> Config:
    """The controller's configuration in a lab: the ``linuxbridge`` network driver, and a
    bus other processes reach (``filesystem://<state_dir>/bus`` instead of ``memory://``).
    With ``shared_instance_storage`` every host's ``instances_path`` is the one directory
    ``<state_dir>/shared-instances`` and ``instances_shared_storage`` is true (the hosts
    get both through ``host_env``), as hosts mounting one NFS export would."""
    changes: dict[str, Any] = {"network_driver": "linuxbridge"}
    if conf.transport.startswith("memory:"):
        changes["transport"] = f"filesystem://{conf.path('bus')}"
    if conf.shared_instance_storage:
        changes["instances_path"] = str(conf.path("shared-instances"))
        changes["instances_shared_storage"] = True
    return conf.replace(**changes)


def forget_stale_fanouts(conf: Config) -> int:
    """Unbind every fanout queue of a ``filesystem://`` bus and drop their messages; run by
    ``up`` before anything serves (it holds the state directory's lock, and the hosts of an
    earlier run died with it). A process killed with ``kill -9`` could not unbind its fanout
    queues, which would otherwise collect a file per fanout forever. Direct queues (a cast
    waiting for a restarting agent) are kept. Returns how many files went."""
    if not conf.transport.startswith("filesystem:"):
        return 0
    folder = Path(conf.transport.removeprefix("filesystem:").removeprefix("//"))
    stale = list((folder / "control").glob("pocketstack.fanout.*.exchange"))
    stale += (folder / "data").glob("*.pocketstack.fanout.*.msg")
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def host_state_dir(conf: Config, host: LabHost) -> Path:
    """``<state_dir>/hosts/<hostname>``: the files of one lab host."""
    return conf.path("hosts", host.hostname)


def host_env(conf: Config, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a lab host's process: ``environ`` (default ours) with every
    option of ``conf`` not at its default as its ``POCKETSTACK_*`` variable, except those
    each host sets itself (state directory, database, the host's own options)."""
    env = dict(os.environ if environ is None else environ)
    own = {"state_dir", "config", "database", "hostname", "netns", "local_ip"}
    own |= {"tunnel_interface", "physical_interface_mappings", "network_node"}
    for opt in OPTIONS:
        value = getattr(conf, opt.name)
        if opt.name in own or value == opt.default or value is None:
            env.pop(opt.env, None)
            continue
        env[opt.env] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def host_command(conf: Config, host: LabHost) -> list[str]:
    """The argv of ``pocketstack lab-host`` for ``host`` (this Python, this package)."""
    toml = conf.config or str(conf.path("pocketstack.toml"))
    argv = [sys.executable, "-m", "pocketstack.cli", "lab-host"]
    argv += ["--state-dir", str(host_state_dir(conf, host)), "--config", toml]
    argv += ["--public-url", conf.public_url]
    for name, value in host.options().items():
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            argv += [f"--{flag}", str(value)]
    return argv


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class LabHosts:
    """The lab of ``conf`` (``[lab] hosts``, ``prefix``) and its hosts' processes.

    Args:
        conf: the controller's configuration (after ``lab_conf``).
    """

    def __init__(self, conf: Config):
        self.conf = conf
        self.lab = Lab(conf.lab_prefix, conf.hosts, external_on_host=conf.external_on_host)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}

    def setup(self) -> list[LabHost]:
        """Build (or adopt) the lab's namespaces (see ``Lab.setup``) and, at the first
        start, the object ring of the hosts' storage nodes (``build_lab_ring``)."""
        hosts = self.lab.setup()
        if not self.conf.object_ring:
            from pocketstack.objectstore.embedded import build_lab_ring

            nodes = [(h.local_ip, self.node_devices(h)) for h in hosts]
            build_lab_ring(self.conf, nodes, self.conf.object_bind_port)
        return hosts

    def node_devices(self, host: LabHost) -> Path:
        """``<state_dir>/hosts/<hostname>/objects``: the device directories of a host's
        storage node."""
        return host_state_dir(self.conf, host) / "objects"

    def node_command(self, host: LabHost) -> list[str]:
        """The argv of ``host``'s storage node: ``pocketstack object-node`` in its
        namespace, on its underlay address, with the lab's ring."""
        from pocketstack.objectstore.manager import ring_location

        argv = ["ip", "netns", "exec", host.netns, sys.executable, "-m", "pocketstack.cli"]
        argv += ["object-node", "--state-dir", str(host_state_dir(self.conf, host))]
        argv += ["--config", self.conf.config or str(self.conf.path("pocketstack.toml"))]
        argv += ["--object-ring", ring_location(self.conf)]
        argv += ["--object-devices", str(self.node_devices(host))]
        argv += ["--object-bind-ip", host.local_ip]
        return argv + ["--object-bind-port", str(self.conf.object_bind_port)]

    def start(self) -> None:
        """Start ``pocketstack lab-host`` for every host (already running ones are kept)."""
        env = host_env(self.conf)
        for host in self.lab.hosts:
            proc = self.procs.get(host.hostname)
            if proc is not None and proc.poll() is None:
                continue
            host_state_dir(self.conf, host).mkdir(parents=True, exist_ok=True, mode=0o700)
            self._link_log(host)
            self.procs[host.hostname] = subprocess.Popen(
                host_command(self.conf, host),
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches `up` only; it stops us in order
                preexec_fn=_die_with_parent,
            )
            LOG.info(
                "lab %s: started %s (pid %d)",
                self.lab.prefix,
                host.hostname,
                self.procs[host.hostname].pid,
            )
        if not self.conf.object_ring:
            self._start_nodes(env)

    def _start_nodes(self, env: dict[str, str]) -> None:
        """Start every host's storage node that does not run (``node_command``)."""
        for host in self.lab.hosts:
            proc = self.nodes.get(host.hostname)
            if proc is not None and proc.poll() is None:
                continue
            self.nodes[host.hostname] = subprocess.Popen(
                self.node_command(host),
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            LOG.info(
                "lab %s: storage node of %s on %s (pid %d)",
                self.lab.prefix,
                host.hostname,
                host.local_ip,
                self.nodes[host.hostname].pid,
            )

    def _link_log(self, host: LabHost) -> None:
        """``<state_dir>/logs/lab-<host>.log``: a symlink to the host's own log, so the
        cloud's logs are in one folder."""
        logs = self.conf.path("logs")
        logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        link = logs / f"lab-{host.hostname}.log"
        target = host_state_dir(self.conf, host) / "logs" / link.name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.touch(mode=0o600)  # a reader of logs/ finds a file from the start
        if not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to(target)

    def stop(self) -> bool:
        """Stop the hosts' processes and storage nodes; tear the lab down unless guests
        still run in it.

        Returns:
            True when the lab was torn down.
        """
        procs = {**self.procs, **{f"{h} storage node": p for h, p in self.nodes.items()}}
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for hostname, proc in procs.items():
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                LOG.warning("lab host %s did not stop in %.0fs; killing it", hostname, STOP_TIMEOUT)
                proc.kill()
                proc.wait()
        self.procs.clear()
        self.nodes.clear()
        running = self.guests_running()
        if running:
            LOG.info("lab %s kept: %d guest processes still run", self.lab.prefix, running)
            return False
        self.teardown()
        return True

    def guests_running(self) -> int:
        """How many processes run in the hosts' namespaces (guests' QEMU), not counting the
        storage host's export daemons (tgtd, qemu-storage-daemon): they serve guests and go
        with the lab."""
        from pocketstack.network.drivers import ip_lib

        storage = set(self._storage_pids())
        pids = [pid for h in self.lab.hosts for pid in ip_lib.netns_pids(h.netns)]
        return len([pid for pid in pids if pid not in storage])

    def _storage_targets(self) -> Iterator[Any]:
        """The tgt and NBD targets of every lab host's volume pool."""
        from pocketstack.volume.agent import pool_dir
        from pocketstack.volume.targets.nbd import NbdTarget
        from pocketstack.volume.targets.tgt import TgtTarget

        for host in self.lab.hosts:
            pool = pool_dir(self.conf.replace(state_dir=str(host_state_dir(self.conf, host))))
            if pool.is_dir():
                yield TgtTarget(pool, netns=host.netns)
                yield NbdTarget(pool, netns=host.netns)

    def _storage_pids(self) -> Iterator[int]:
        from pocketstack.volume.targets.tgt import TgtTarget

        for target in self._storage_targets():
            if isinstance(target, TgtTarget):
                if target.running() and target.pid is not None:
                    yield target.pid
            else:
                yield from (int(r["pid"]) for r in target.list_exports().values())

    def dataplane_namespaces(self) -> list[str]:
        """The DHCP and router namespaces of the lab's hosts, from the markers their
        drivers keep in each host's state directory (``dhcp/<network_id>``,
        ``l3/<router_id>``): their names are Neutron's, not the lab's."""
        return sorted(self._markers())

    def _markers(self) -> Iterator[str]:
        for host in self.lab.hosts:
            state = host_state_dir(self.conf, host)
            for folder, prefix in (("dhcp", "qdhcp-"), ("l3", "qrouter-")):
                if (state / folder).is_dir():
                    yield from (prefix + p.name for p in (state / folder).iterdir())

    def teardown(self) -> None:
        """Delete the lab's namespaces, its DHCP and router namespaces and their markers
        (what runs inside is stopped first: the storage host's tgtd by its recorded pid)."""
        for target in self._storage_targets():
            target.stop()
        self.lab.teardown(tuple(self.dataplane_namespaces()))
        for host in self.lab.hosts:
            for folder in ("dhcp", "l3"):
                shutil.rmtree(host_state_dir(self.conf, host) / folder, ignore_errors=True)
