"""NBD exports with ``qemu-storage-daemon``: the second protocol, for qcow2 volumes (tgt
serves raw files only) and for running without root.

One daemon per exported volume (``qemu-storage-daemon --blockdev ... --nbd-server ...
--export type=nbd,name=volume-<id>,writable=on``, daemonized, pid file), listening on
``<ip>:<free port>`` and holding the volume's image open through QEMU's own format driver,
so a qcow2 chain is served as one disk. An extend while exported restarts the daemon on the
same port around ``qemu-img resize`` (``refresh``). ``nbd-<id>.json`` records pid, port and the
attachments using it; the daemon goes with the last attachment and survives an agent restart
(adopted from the record). NBD has no per-attachment secret here: the portal should only be
reachable from the compute hosts (the lab's underlay, or loopback).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from pocketstack.volume.targets import TargetError

START_TIMEOUT = 10.0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return state != "Z" and b"qemu-storage-daemon" in cmdline


class NbdTarget:
    """The NBD exports of one storage host.

    Args:
        state_dir: where each export's record and pid file live (the pool).
        ip: the address the daemons listen on.
        netns: start the daemons in this network namespace (a lab host's).
    """

    protocol = "nbd"

    def __init__(self, state_dir: Path | str, ip: str = "127.0.0.1", netns: str | None = None):
        self.state_dir = Path(state_dir)
        self.ip, self.netns = ip, netns
        self._lock = threading.RLock()

    def _record(self, volume_id: str) -> dict[str, Any] | None:
        try:
            record: dict[str, Any] = json.loads(
                (self.state_dir / f"nbd-{volume_id}.json").read_text()
            )
        except (OSError, ValueError):
            return None
        return record if _alive(int(record["pid"])) else None

    def list_exports(self) -> dict[str, dict[str, Any]]:
        """``{volume_id: {"pid", "port", "path", "attachments": [ids]}}`` of live daemons."""
        found = {}
        for path in self.state_dir.glob("nbd-*.json"):
            volume_id = path.name[4:-5]
            record = self._record(volume_id)
            if record is not None:
                found[volume_id] = record
        return found

    def export(
        self, volume_id: str, path: str, attachment_id: str, image_format: str = "qcow2"
    ) -> dict[str, Any]:
        """Serve ``path`` (``image_format`` raw or qcow2) as export ``volume-<id>`` for
        ``attachment_id`` (the daemon is started with the first attachment).

        Returns:
            ``{"host", "port", "export"}`` (Cinder's nbd connection data).
        Raises:
            TargetError: the daemon did not start or did not listen in time.
        """
        with self._lock:
            record = self._record(volume_id) or self._start(volume_id, path, image_format)
            if attachment_id not in record["attachments"]:
                record["attachments"].append(attachment_id)
            self._save(volume_id, record)
        return {"host": self.ip, "port": record["port"], "export": f"volume-{volume_id}"}

    def _save(self, volume_id: str, record: dict[str, Any]) -> None:
        (self.state_dir / f"nbd-{volume_id}.json").write_text(json.dumps(record))

    def _start(self, volume_id: str, path: str, image_format: str, port: int = 0) -> dict[str, Any]:
        if not port:
            with socket.socket() as sock:
                sock.bind((self.ip, 0))
                port = int(sock.getsockname()[1])
        pidfile = self.state_dir / f"nbd-{volume_id}.pid"
        pidfile.unlink(missing_ok=True)
        cmd = [
            "qemu-storage-daemon",
            "--blockdev",
            f"driver=file,node-name=file0,filename={path}",
            "--blockdev",
            f"driver={image_format},node-name=vol,file=file0",
            "--nbd-server",
            f"addr.type=inet,addr.host={self.ip},addr.port={port}",
            "--export",
            f"type=nbd,id=exp0,node-name=vol,name=volume-{volume_id},writable=on",
            "--pidfile",
            str(pidfile),
            "--daemonize",
        ]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT)
        if proc.returncode != 0:
            raise TargetError(f"qemu-storage-daemon failed: {proc.stderr.strip()}")
        pid = int(pidfile.read_text().strip())
        record = {"pid": pid, "port": port, "path": path, "format": image_format}
        return record | {"attachments": []}

    def unexport(self, volume_id: str, attachment_id: str) -> None:
        """Drop ``attachment_id``; the daemon stops with the last one (gone: succeeds)."""
        with self._lock:
            record = self._record(volume_id)
            if record is None:
                self._cleanup(volume_id)
                return
            if attachment_id in record["attachments"]:
                record["attachments"].remove(attachment_id)
            if record["attachments"]:
                self._save(volume_id, record)
            else:
                self.remove(volume_id)

    def remove(self, volume_id: str) -> None:
        """Stop the volume's daemon whatever its attachments (gone: succeeds)."""
        with self._lock:
            record = self._record(volume_id)
            if record is not None:
                self._kill(int(record["pid"]))
            self._cleanup(volume_id)

    @staticmethod
    def _kill(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + START_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _cleanup(self, volume_id: str) -> None:
        for suffix in ("json", "pid"):
            (self.state_dir / f"nbd-{volume_id}.{suffix}").unlink(missing_ok=True)

    def refresh(self, volume_id: str, size_bytes: int | None = None) -> None:
        """Grow an exported volume's image to ``size_bytes``: the daemon is stopped, the
        image resized (``qemu-img resize``) and the daemon started again on the same port
        with the same attachments. QEMU's ``block_resize`` through the daemon is refused
        (the NBD export does not share the resize permission, QEMU 7.2), so initiators
        see a reconnect: the compute side gives its nbd nodes a ``reconnect-delay``. No
        export: nothing to do.

        Raises:
            TargetError: the resize or the restart failed.
        """
        with self._lock:
            record = self._record(volume_id)
            if size_bytes is None or record is None:
                return
            self._kill(int(record["pid"]))
            fmt = record.get("format", "qcow2")
            proc = subprocess.run(
                ["qemu-img", "resize", "-q", "-f", fmt, record["path"], str(size_bytes)],
                capture_output=True,
                text=True,
                check=False,
            )
            fresh = self._start(volume_id, record["path"], fmt, port=int(record["port"]))
            self._save(volume_id, fresh | {"attachments": record["attachments"]})
            if proc.returncode != 0:
                raise TargetError(f"qemu-img resize failed: {proc.stderr.strip()}")

    def stop(self) -> None:
        """Stop every daemon (initiators lose their disks)."""
        for volume_id in self.list_exports():
            self.remove(volume_id)
