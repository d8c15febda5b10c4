"""Saved guest state, rescue disks and the QEMU guest agent, for the qemu driver.

- **Suspend** (Nova's libvirt "managed save"): the guest is stopped (QMP ``stop``), its RAM
  and device state migrated into ``memory.save`` in the instance directory (QMP ``migrate``
  to ``exec:cat > file``, written as ``memory.save.part`` and renamed when complete), then its
  QEMU ends. The file marks the guest SUSPENDED for as long as it exists, across restarts of
  the agent. **Resume** starts QEMU with the same command line plus ``-incoming exec:cat
  <file>``, waits until the incoming migration is done, continues the guest (QMP ``cont``)
  and deletes the file.
- **Rescue**: ``disk.rescue``, a qcow2 overlay on the rescue image, is the boot disk and
  the guest's own ``disk`` is attached too (``qemu_process.RescuePaths``); unrescue deletes
  it.
- **Guest agent**: guests whose image has ``hw_qemu_guest_agent=yes`` get a virtio-serial
  port ``org.qemu.guest_agent.0`` on ``qga.sock``; ``guest_agent`` speaks its protocol (QMP's
  JSON without greeting, resynchronised with ``guest-sync``).
"""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketstack.compute.drivers.base import DriverError, GuestAgentError
from pocketstack.compute.drivers.qmp import QMPError, connect_unix

SAVE_FILE = "memory.save"
#: seconds a save or a restore of guest memory may take
MIGRATE_TIMEOUT = 600.0

QMPCall = Callable[..., Any]


def save_file(instance_dir: Path) -> Path:
    """The guest's saved state (exists only while it is suspended)."""
    return instance_dir / SAVE_FILE


def save_memory(qmp: QMPCall, instance_dir: Path, timeout: float = MIGRATE_TIMEOUT) -> None:
    """Stop the guest and write its state to ``memory.save``; the caller then ends QEMU.

    Raises:
        DriverError: the migration failed or took longer than ``timeout`` s (the guest is
            continued and no file is left).
    """
    final = save_file(instance_dir)
    part = final.with_name(SAVE_FILE + ".part")
    part.unlink(missing_ok=True)
    qmp("stop")
    try:
        qmp("migrate", uri=f"exec:cat > {shlex.quote(str(part))}")
        status = _wait_migration(qmp, timeout)
        if status != "completed":
            raise DriverError(f"saving the guest's memory failed (migration {status})")
    except BaseException:
        part.unlink(missing_ok=True)
        try:
            qmp("cont")
        except DriverError:
            pass  # the guest is gone or broken: the caller reports the fault
        raise
    part.rename(final)


def _wait_migration(qmp: QMPCall, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = str((qmp("query-migrate") or {}).get("status", ""))
        if status in ("completed", "failed", "cancelled"):
            return status
        if time.monotonic() >= deadline:
            qmp("migrate_cancel")
            return "timed out"
        time.sleep(0.05)


def incoming_args(instance_dir: Path) -> list[str]:
    """The argv that makes a starting QEMU restore ``memory.save``.

    Raises:
        DriverError: there is no saved state.
    """
    path = save_file(instance_dir)
    if not path.is_file():
        raise DriverError(f"no saved state in {instance_dir}")
    return ["-incoming", f"exec:cat {shlex.quote(str(path))}"]


def finish_restore(qmp: QMPCall, instance_dir: Path, timeout: float = MIGRATE_TIMEOUT) -> None:
    """Wait until QEMU has read the saved state, let the guest run, delete the file.

    Raises:
        DriverError: the restore failed or did not finish within ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    while True:
        status = str((qmp("query-status") or {}).get("status", ""))
        if status != "inmigrate":
            break
        if time.monotonic() >= deadline:
            raise DriverError("restoring the guest's memory timed out")
        time.sleep(0.05)
    if status in ("paused", "postmigrate", "prelaunch", "restore-vm"):
        qmp("cont")
    elif status != "running":
        raise DriverError(f"restoring the guest's memory failed (QEMU status {status})")
    save_file(instance_dir).unlink(missing_ok=True)


def guest_agent(
    socket_path: Path, command: str, arguments: dict[str, Any] | None = None, timeout: float = 10.0
) -> Any:
    """Run one command of the QEMU guest agent listening on ``socket_path``.

    The agent keeps no session: a ``guest-sync`` with a random id first skips whatever a
    previous client left unread.

    Raises:
        GuestAgentError: no socket, no answer within ``timeout`` s, or an ``error`` reply.
    """
    try:
        sock = connect_unix(socket_path, timeout)
    except QMPError as exc:
        raise GuestAgentError(f"the guest agent is not reachable: {exc}") from None
    buf = b""

    def send(msg: dict[str, Any]) -> None:
        sock.sendall(json.dumps(msg).encode() + b"\n")

    def read() -> dict[str, Any]:
        nonlocal buf
        while b"\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            buf += chunk
        line, _, buf = buf.partition(b"\n")
        return json.loads(line.strip(b"\xff") or b"{}")

    try:
        with sock:
            sync = secrets.randbelow(2**31)
            send({"execute": "guest-sync", "arguments": {"id": sync}})
            while read().get("return") != sync:
                pass
            msg: dict[str, Any] = {"execute": command}
            if arguments:
                msg["arguments"] = arguments
            send(msg)
            reply = read()
    except (OSError, ValueError) as exc:
        raise GuestAgentError(f"the guest agent did not answer: {exc}") from None
    if "error" in reply:
        err = reply["error"]
        raise GuestAgentError(f"the guest agent failed {command}: {err.get('desc')}")
    return reply.get("return")
