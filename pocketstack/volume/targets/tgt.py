"""iSCSI exports with Debian's ``tgt``: one ``tgtd`` per storage host, driven by ``tgtadm``.

Why tgt: it is a user-space target (the SCSI and iSCSI logic run in the ``tgtd`` process,
backing stores are plain files read with ``pread``/``pwrite``), so it needs neither
``configfs`` nor the ``target_core``/``iscsi_target_mod`` kernel modules that LIO (Cinder's
``lioadm``) needs and a container or CI runner rarely has; it is also what Cinder's
``tgtadm`` helper drives. One ``tgtd`` serves every export of the host.

Why QEMU's initiator (on the compute side): QEMU's built-in libiscsi (``qemu-block-extra``,
``driver=iscsi``) logs in from the QEMU process itself: no ``iscsiadm``, no kernel session,
no block device on the host, and it works inside a lab host's network namespace. CHAP
secrets reach QEMU as QMP ``secret`` objects.

The daemon: ``tgtd -f -C <control port> --iscsi portal=<ip>:<port>`` started in its own
session (behind ``ip netns exec`` in a lab), so it outlives the agent: an agent restart
*adopts* it (``<state_dir>/tgtd.json`` records pid, control port and portal) and attached
guests keep their disks. The control port is the number of tgtd's management socket
(``/var/run/tgtd/socket.<n>``), so several tgtd (other state directories, tests) never
share one; a portal tgtd cannot bind makes it fall back to ``0.0.0.0:3260``, so ``start``
checks the portal it got and refuses any other.

Exports (docs/block-storage.md): one target per exported volume, IQN
``iqn.2010-10.org.openstack:volume-<id>``, LUN 1 backed by the volume's raw file, initiator
ACL ``ALL``; one CHAP account per attachment (``att-<attachment_id[:8]>``, 20 random
characters) bound to that target only. The target goes with its last account.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import signal
import socket
import string
import subprocess
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from pocketstack.volume.targets import TargetError, chap_user, iqn

LOG = logging.getLogger(__name__)

#: the file (in the state directory) recording the running tgtd
STATE_FILE = "tgtd.json"
#: where tgtd keeps its management sockets and their lock files
SOCKET_DIR = Path("/var/run/tgtd")
#: seconds tgtd gets to answer after start, and to exit after stop
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
#: the LUN of every export (LUN 0 is tgt's controller)
LUN = 1
_IQN_PREFIX = "iqn.2010-10.org.openstack:volume-"
_TARGET_LINE = re.compile(r"^Target (\d+): (\S+)")


def new_password(length: int = 20) -> str:
    """A CHAP secret: ``length`` random letters and digits (tgt and libiscsi take 12..255)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def derived_control_port(state_dir: Path) -> int:
    """The default control port of the tgtd of ``state_dir``: 1000..30999 from its path."""
    return 1000 + zlib.crc32(str(state_dir).encode()) % 30000


def _socket_busy(control_port: int) -> bool:
    """Whether a tgtd holds the lock of management socket ``control_port``."""
    lock = SOCKET_DIR / f"socket.{control_port}.lock"
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _free_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def _is_tgtd(pid: int, control_port: int) -> bool:
    """Whether ``pid`` is a live (not zombie) tgtd with management socket ``control_port``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z" or not any(part.endswith(b"tgtd") for part in cmdline):
        return False
    return str(control_port).encode() in cmdline


class TgtTarget:
    """The iSCSI exports of one storage host.

    Args:
        state_dir: where ``tgtd.json`` and ``tgtd.log`` live (the volume pool).
        ip, port: the portal (``port`` 0: a free port, chosen when tgtd starts).
        control_port: tgtd's management socket number (0: ``derived_control_port``; the
            next free one when another tgtd holds it).
        netns: start tgtd in this network namespace (a lab host's).
    """

    protocol = "iscsi"

    def __init__(
        self,
        state_dir: Path | str,
        ip: str = "127.0.0.1",
        port: int = 3260,
        control_port: int = 0,
        netns: str | None = None,
    ):
        self.state_dir = Path(state_dir)
        self.ip, self.port, self.netns = ip, int(port), netns
        self.control_port = int(control_port) or derived_control_port(self.state_dir)
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()

    @property
    def portal(self) -> str:
        """``<ip>:<port>`` of the running (or adopted) tgtd."""
        return f"{self.ip}:{self.port}"

    # ------------------------------------------------------------------ the daemon

    def adopt(self) -> bool:
        """Take over the tgtd ``tgtd.json`` records if it still runs (an agent restart);
        its portal and control port win over the configured ones. True when adopted."""
        with self._lock:
            try:
                saved = json.loads((self.state_dir / STATE_FILE).read_text())
            except (OSError, ValueError):
                return False
            if "pid" not in saved or not _is_tgtd(int(saved["pid"]), int(saved["control_port"])):
                return False
            self.pid, self.control_port = int(saved["pid"]), int(saved["control_port"])
            self.ip, self.port = saved["ip"], int(saved["port"])
            return True

    def running(self) -> bool:
        """Whether this target's tgtd runs (adopting a recorded one)."""
        if self.pid is not None and _is_tgtd(self.pid, self.control_port):
            return True
        return self.adopt()

    def ensure_running(self) -> None:
        """Adopt the recorded tgtd or start one.

        Raises:
            TargetError: tgtd did not start, did not answer within ``START_TIMEOUT`` s or
                did not get the portal asked for (it is stopped again).
        """
        with self._lock:
            if self.running():
                return
            self._start()

    def _start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        while _socket_busy(self.control_port):
            self.control_port += 1
        if self.port == 0:  # the port of an earlier tgtd (stored connection_info), else free
            self.port = self._recorded_port() or _free_port(self.ip)
        cmd = ["tgtd", "-f", "-C", str(self.control_port), "--iscsi", f"portal={self.portal}"]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        with open(self.state_dir / "tgtd.log", "ab") as log:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        self.pid = self._proc.pid
        try:
            self._wait_ready()
            portals = self._tgtadm("--lld", "iscsi", "--mode", "portal", "--op", "show")
            got = [line.split()[1].rsplit(",", 1)[0] for line in portals.splitlines() if line]
            if got != [self.portal]:
                raise TargetError(f"tgtd got portal(s) {got} instead of {self.portal}")
        except BaseException:
            self.stop()
            raise
        record: dict[str, Any] = {"pid": self.pid, "control_port": self.control_port}
        record |= {"ip": self.ip, "port": self.port}
        (self.state_dir / STATE_FILE).write_text(json.dumps(record))
        LOG.info("tgtd %d on %s (control port %d)", self.pid, self.portal, self.control_port)

    def _recorded_port(self) -> int:
        """The port of the tgtd ``tgtd.json`` records (dead: the host restarted) when its
        address is this one and the port is free now; else 0."""
        try:
            saved = json.loads((self.state_dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return 0
        if saved.get("ip") != self.ip:
            return 0
        try:
            with socket.socket() as sock:
                sock.bind((self.ip, int(saved["port"])))
        except (OSError, KeyError, ValueError):
            return 0
        return int(saved["port"])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                log = (self.state_dir / "tgtd.log").read_text(errors="replace")[-500:]
                raise TargetError(f"tgtd exited at start ({self._proc.returncode}): {log}")
            try:
                self._tgtadm("--mode", "sys", "--op", "show")
                return
            except TargetError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop this target's tgtd (every export goes: initiators lose their disks): offline,
        ``--op delete --mode system``, SIGKILL after ``STOP_TIMEOUT`` s; removes its state
        and socket files. Stopping what does not run succeeds."""
        with self._lock:
            if not self.running():  # adopts the recorded tgtd (a lab's teardown)
                self._forget()
                return
            pid = self.pid
            assert pid is not None
            with contextlib.suppress(TargetError):  # tgtd exits only once it has no target
                self._tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline")
                text = self._tgtadm("--lld", "iscsi", "--mode", "target", "--op", "show")
                for match in filter(None, map(_TARGET_LINE.match, text.splitlines())):
                    self._target("--op", "delete", "--force", "--tid", match.group(1))
                self._tgtadm("--op", "delete", "--mode", "system")
            deadline = time.monotonic() + STOP_TIMEOUT
            while _is_tgtd(pid, self.control_port) and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.05)
            if _is_tgtd(pid, self.control_port):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._reap(wait=True)
            self._forget()

    def _reap(self, wait: bool = False) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=STOP_TIMEOUT if wait else 0.001)

    def _forget(self) -> None:
        """Drop the pid; the record keeps the portal, so the next tgtd takes the port
        stored ``connection_info`` names (when ``iscsi_port`` is 0)."""
        self.pid, self._proc = None, None
        record = self.state_dir / STATE_FILE
        with contextlib.suppress(OSError, ValueError):
            saved = json.loads(record.read_text())
            saved.pop("pid", None)
            record.write_text(json.dumps(saved))
        if not _socket_busy(self.control_port):
            for name in (f"socket.{self.control_port}", f"socket.{self.control_port}.lock"):
                with contextlib.suppress(OSError):
                    (SOCKET_DIR / name).unlink()

    def _tgtadm(self, *args: str) -> str:
        cmd = ["tgtadm", "-C", str(self.control_port), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0 or "closed the socket" in proc.stderr:
            safe = [
                "<secret>" if prev == "--password" else a
                for prev, a in zip(["", *cmd], cmd, strict=False)
            ]
            raise TargetError(f"{' '.join(safe)} failed: {(proc.stderr or proc.stdout).strip()}")
        return proc.stdout

    # ------------------------------------------------------------------ exports

    def list_exports(self) -> dict[str, dict[str, Any]]:
        """The exports tgtd has, from ``tgtadm --op show``: ``{volume_id: {"tid": int,
        "iqn": str, "path": backing file or None, "users": [CHAP users]}}`` (targets of
        other IQNs are skipped; none when tgtd does not run)."""
        with self._lock:
            if not self.running():
                return {}
            text = self._tgtadm("--lld", "iscsi", "--mode", "target", "--op", "show")
        return _parse_show(text)

    def export(
        self, volume_id: str, path: str, attachment_id: str, password: str | None = None
    ) -> dict[str, Any]:
        """Export ``path`` as volume ``volume_id``'s target (made when missing) with a CHAP
        account of its own for ``attachment_id`` (``password`` given: that one, to restore
        an export from a stored ``connection_info``; an existing account is replaced).

        Returns:
            ``{"target_portal", "target_iqn", "target_lun", "auth_username",
            "auth_password"}``.
        Raises:
            TargetError: a tgtadm step failed (what this call made is removed again).
        """
        user, password = chap_user(attachment_id), password or new_password()
        with self._lock:
            self.ensure_running()
            current = self.list_exports().get(volume_id)
            made = current is None
            tid = self._new_target(volume_id, path) if current is None else current["tid"]
            try:
                if current is not None and user in current["users"]:
                    self._drop_account(tid, user, current["users"])
                self._account("--op", "new", "--user", user, "--password", password)
                self._account("--op", "bind", "--tid", str(tid), "--user", user)
            except TargetError:
                with contextlib.suppress(TargetError):
                    users = (self.list_exports().get(volume_id) or {}).get("users", [])
                    self._drop_account(tid, user, users)
                    if made:
                        self._target("--op", "delete", "--force", "--tid", str(tid))
                raise
        return {
            "target_portal": self.portal,
            "target_iqn": iqn(volume_id),
            "target_lun": LUN,
            "auth_username": user,
            "auth_password": password,
        }

    def _new_target(self, volume_id: str, path: str) -> int:
        text = self._tgtadm("--lld", "iscsi", "--mode", "target", "--op", "show")
        tids = [int(m.group(1)) for m in map(_TARGET_LINE.match, text.splitlines()) if m]
        tid = max(tids, default=0) + 1
        self._target("--op", "new", "--tid", str(tid), "-T", iqn(volume_id))
        try:
            self._tgtadm(
                *("--lld", "iscsi", "--mode", "logicalunit", "--op", "new"),
                *("--tid", str(tid), "--lun", str(LUN), "-b", path),
            )
            self._target("--op", "bind", "--tid", str(tid), "-I", "ALL")
        except TargetError:
            with contextlib.suppress(TargetError):
                self._target("--op", "delete", "--force", "--tid", str(tid))
            raise
        return tid

    def _target(self, *args: str) -> str:
        return self._tgtadm("--lld", "iscsi", "--mode", "target", *args)

    def _account(self, *args: str) -> str:
        return self._tgtadm("--lld", "iscsi", "--mode", "account", *args)

    def _drop_account(self, tid: int, user: str, bound: list[str]) -> None:
        """Unbind ``user`` from target ``tid`` (``bound``: its accounts in tgtd's order) and
        delete it. tgt 1.0.85 (Debian 12) crashes when an account that is not the last of a
        target's list is unbound (checked: tgtd closes the socket and dies), so the accounts
        after it are unbound last-first and bound again; logged-in sessions keep going."""
        after = bound[bound.index(user) + 1 :] if user in bound else []
        for name in [*reversed(after), user] if user in bound else []:
            self._account("--op", "unbind", "--tid", str(tid), "--user", name)
        for name in after:
            self._account("--op", "bind", "--tid", str(tid), "--user", name)
        if user in self._account("--op", "show").split():
            self._account("--op", "delete", "--user", user)

    def unexport(self, volume_id: str, attachment_id: str) -> None:
        """Remove ``attachment_id``'s account from the volume's target, and the target
        with its last account (its sessions end). Removing what is gone succeeds.

        Raises:
            TargetError: a tgtadm step failed.
        """
        with self._lock:
            current = self.list_exports().get(volume_id)
            if current is None:
                return
            user = chap_user(attachment_id)
            self._drop_account(current["tid"], user, current["users"])
            if not set(current["users"]) - {user}:
                self._target("--op", "delete", "--force", "--tid", str(current["tid"]))

    def remove(self, volume_id: str) -> None:
        """Remove the volume's target and every account bound to it (removing what is gone
        succeeds)."""
        with self._lock:
            current = self.list_exports().get(volume_id)
            if current is None:
                return
            users = list(current["users"])
            while users:  # last first: never the tgt crash _drop_account works around
                self._drop_account(current["tid"], users[-1], users)
                users.pop()
            self._target("--op", "delete", "--force", "--tid", str(current["tid"]))

    def refresh(self, volume_id: str) -> None:
        """Make a grown backing file's new size visible to initiators: tgt reads the size
        when the LU opens its file, and ``--params path=`` re-opens it, which tgt allows on
        an offline LU only (checked with a live qemu-io session: its ``truncate`` to the new
        size then succeeds). No export: nothing to do.

        Raises:
            TargetError: a tgtadm step failed.
        """
        with self._lock:
            current = self.list_exports().get(volume_id)
            if current is None or not current["path"]:
                return
            tid, lun = str(current["tid"]), str(LUN)
            base = ("--lld", "iscsi", "--mode", "logicalunit", "--op", "update")
            self._tgtadm(*base, "--tid", tid, "--lun", lun, "--params", "online=0")
            try:
                path = f"path={current['path']}"
                self._tgtadm(*base, "--tid", tid, "--lun", lun, "--params", path)
            finally:
                self._tgtadm(*base, "--tid", tid, "--lun", lun, "--params", "online=1")


def _parse_show(text: str) -> dict[str, dict[str, Any]]:
    """``tgtadm --mode target --op show`` -> ``{volume_id: {tid, iqn, path, users}}``."""
    exports: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    section = ""
    for line in text.splitlines():
        match = _TARGET_LINE.match(line)
        if match:
            current = {"tid": int(match.group(1)), "iqn": match.group(2), "path": None}
            current["users"] = []
            section = ""
            if current["iqn"].startswith(_IQN_PREFIX):
                exports[current["iqn"].removeprefix(_IQN_PREFIX)] = current
            continue
        stripped = line.strip()
        if current is None or not stripped:
            continue
        if stripped.endswith("information:"):
            section = stripped
        elif stripped.startswith("Backing store path:"):
            value = stripped.split(":", 1)[1].strip()
            if value and value != "None":
                current["path"] = value
        elif section == "Account information:":
            current["users"].append(stripped.split()[0])
    return exports
