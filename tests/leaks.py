"""The kernel objects and processes with pocketstack's names, for the session's leak check
(``tests/conftest.py``, ``_no_leaked_kernel_objects``).

What counts (docs/network-dataplane.md, "Kernel names", and the tests' own prefixes):

- network namespaces ``qdhcp-*``, ``qrouter-*``, ``pocketstack-*`` (a lab), ``pst*`` (a
  test's lab, ``lab.topology.random_prefix``), ``pt*`` (the driver tests' sandboxes and
  ``pti-`` namespaces);
- links of the root namespace named ``brq*``, ``vxlan-*``, ``tap*`` or ``ps-ul-*`` (a lab's
  underlay link, ``lab.topology.ROOT_UNDERLAY_PREFIX``);
- nftables tables of the root namespace named ``pocketstack*``;
- dnsmasq processes whose command line names a ``/dhcp/<network_id>/`` state folder (the
  DHCP driver's ``--pid-file``);
- the storage host's export daemons (docs/block-storage.md): every ``tgtd`` (a volume
  agent's runs with its own ``-C`` control port and portal) and ``qemu-storage-daemon``.

Only reads: ``ip``, ``nft`` and ``/proc``. A tool that is missing (no nft) counts nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

NETNS_PREFIXES = ("qdhcp-", "qrouter-", "pocketstack-", "pst", "pt")
LINK_PREFIXES = ("brq", "vxlan-", "tap", "ps-ul-")
#: the DHCP driver's state folder of a network, as it appears in dnsmasq's arguments
DHCP_STATE = re.compile(r"/dhcp/[0-9a-f-]{36}/")
#: the volume exports' daemons (iSCSI target, NBD server)
EXPORT_DAEMONS = ("tgtd", "qemu-storage-daemon")


def _output(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def _cmdline(pid: str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def kernel_objects(netns: str | None = None) -> set[str]:
    """What of the above exists now, as ``"<kind> <name>"`` strings (``netns qdhcp-...``,
    ``link brq...``, ``nft inet pocketstack``, ``dnsmasq <pid> <pid file>``, ``tgtd <pid>
    <arguments>``); with
    ``netns``, the links and tables of that namespace instead of the root's (for tests)."""
    found: set[str] = set()
    inside = ["ip", "netns", "exec", netns] if netns else []
    for line in _output(["ip", "netns", "list"]).splitlines():
        name = line.split(" ", 1)[0]
        if name.startswith(NETNS_PREFIXES):
            found.add(f"netns {name}")
    for entry in json.loads(_output([*inside, "ip", "-j", "link", "show"]) or "[]"):
        if str(entry.get("ifname", "")).startswith(LINK_PREFIXES):
            found.add(f"link {entry['ifname']}")
    for item in json.loads(_output([*inside, "nft", "-j", "list", "tables"]) or "{}").get(
        "nftables", []
    ):
        table = item.get("table")
        if table and str(table.get("name", "")).startswith("pocketstack"):
            found.add(f"nft {table['family']} {table['name']}")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = _cmdline(pid)
        if argv and argv[0].endswith("dnsmasq"):
            state = next((a for a in argv if DHCP_STATE.search(a)), None)
            if state is not None:
                found.add(f"dnsmasq {pid} {state}")
        elif argv and Path(argv[0]).name in EXPORT_DAEMONS:
            found.add(f"{Path(argv[0]).name} {pid} {' '.join(argv[1:])}")
    return found


def other_pytest_sessions() -> list[int]:
    """Pids of pytest processes that are neither this process, an ancestor of it nor a
    child of it: another engineer's or job's session, whose objects would be blamed."""
    ours = {os.getpid()}
    pid = os.getppid()
    while pid > 1:  # our ancestors (``timeout pytest``, ``scripts/test``)
        ours.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    others = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        if int(entry) in ours:
            continue
        argv = _cmdline(entry)
        if not any("pytest" in Path(a).name for a in argv[:3]):
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) not in ours:  # not our child (xdist)
            others.append(int(entry))
    return others


def leaked(before: set[str], grace: float = 5.0) -> set[str]:
    """The objects present now that were not in ``before``, after giving them up to
    ``grace`` seconds to go (a dnsmasq or a namespace a teardown is still removing)."""
    deadline = time.monotonic() + grace
    while True:
        new = kernel_objects() - before
        if not new or time.monotonic() >= deadline:
            return new
        time.sleep(0.5)
