"""Throwaway kernel objects for the data-plane driver tests: namespaces with a per-test
unique prefix, bridges and "guests" (a namespace whose ``eth0`` is a veth on a bridge).

Packets only ever travel between namespaces a ``Sandbox`` made (or the driver under test
made); nothing is sent from the root namespace. ``close()`` deletes every namespace it
made, which takes their veths and bridges with them.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc calls this with the event as $1 and the lease as environment variables
[ "$1" = bound ] || exit 0
echo "ip=$ip"
echo "mask=$mask"
echo "router=$router"
echo "mtu=$mtu"
echo "dns=$dns"
echo "domain=$domain"
echo "hostname=$hostname"
echo "staticroutes=$staticroutes"
"""


def sh(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run a command (inside ``netns`` when given) and return its stdout."""
    argv = ["ip", "netns", "exec", netns, *args] if netns else list(args)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def succeeds(*args: str, netns: str) -> bool:
    """Whether a command run inside ``netns`` exits 0."""
    argv = ["ip", "netns", "exec", netns, *args]
    return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0


def pings(netns: str, address: str) -> bool:
    """Whether ``address`` answers one ping (1 s) sent from inside ``netns``."""
    return succeeds("busybox", "ping", "-c", "1", "-W", "1", address, netns=netns)


def netns_exists(name: str) -> bool:
    """Whether the named namespace exists."""
    return os.path.exists(f"/run/netns/{name}")


def process_runs(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie not yet reaped by init does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class Sandbox:
    """Namespaces and devices of one test, all named with a unique prefix.

    Attributes:
        uid: six hex digits unique to this sandbox (part of every name it makes).
    """

    def __init__(self, tmp_path: Path):
        self.uid = uuid.uuid4().hex[:6]
        self.tmp_path = tmp_path
        self.namespaces: list[str] = []
        self._veths = 0

    def netns(self, role: str) -> str:
        """A new namespace ``pt<uid>-<role>`` with ``lo`` up."""
        name = f"pt{self.uid}-{role}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def bridge(self, netns: str, name: str, mtu: int = 1500) -> str:
        """A bridge ``name`` (up) in ``netns``."""
        sh("ip", "-n", netns, "link", "add", name, "mtu", str(mtu), "type", "bridge")
        sh("ip", "-n", netns, "link", "set", name, "up")
        return name

    def guest(self, role: str, host: str, bridge: str, mac: str, cidr: str | None = None) -> str:
        """A namespace whose ``eth0`` (``mac``, optional address ``cidr``) is a veth whose
        other end is enslaved to ``bridge`` in ``host``."""
        name = self.netns(role)
        self._veths += 1
        outer = f"v{self.uid}{self._veths}"
        sh("ip", "-n", host, "link", "add", outer, "type", "veth", "peer", "name", "eth0",
           "netns", name)  # fmt: skip
        sh("ip", "-n", host, "link", "set", outer, "master", bridge, "up")
        sh("ip", "-n", name, "link", "set", "eth0", "address", mac, "up")
        if cidr:
            sh("ip", "-n", name, "addr", "add", cidr, "dev", "eth0")
        return name

    def udhcpc(self, guest: str, tries: int = 3) -> dict[str, str]:
        """Ask for a lease on ``eth0`` of ``guest`` with busybox udhcpc (``tries`` discovers,
        1 s apart); the lease's fields (``ip``, ``router``, ``mtu``...) or {} when none
        came."""
        script = self.tmp_path / "udhcpc.sh"
        if not script.exists():
            script.write_text(UDHCPC_SCRIPT)
            script.chmod(0o755)
        out = sh("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", str(tries), "-T", "1",
                 "-s", str(script), netns=guest, check=False)  # fmt: skip
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def close(self) -> None:
        """Delete every namespace made here (their devices go with them)."""
        for name in reversed(self.namespaces):
            sh("ip", "netns", "delete", name, check=False)
        self.namespaces.clear()
