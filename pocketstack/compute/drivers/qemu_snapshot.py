"""A consistent qcow2 copy of a QEMU guest's root disk, for ``createImage`` (server snapshots).

- A guest with no QEMU process (SHUTOFF, SUSPENDED): ``qemu-img convert -O qcow2`` of its
  ``disk`` (the overlay and its backing image flattened into one standalone image).
- A guest whose QEMU runs: its filesystems are frozen through the QEMU guest agent first when
  asked (``quiesce``: the image says ``hw_qemu_guest_agent=yes``) and an agent answers
  (``guest-fsfreeze-freeze``; ``guest-fsfreeze-thaw`` afterwards, whatever happens); then the
  vCPUs are stopped (QMP ``stop``, which drains and flushes QEMU's block layer), the disk is
  copied with ``qemu-img convert -U`` (shared read of an image QEMU holds locked) and the
  guest continues (``cont``; a guest that was paused stays paused). Without a frozen
  filesystem the copy is crash-consistent: what the guest had not written back is missing,
  as after a power cut.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from pocketstack.compute.drivers.base import DriverError, GuestAgentError
from pocketstack.compute.drivers.qemu_state import guest_agent

#: seconds ``qemu-img convert`` may take (a local disk of a few GB)
CONVERT_TIMEOUT = 600.0
#: seconds the guest agent has to answer a freeze (then the snapshot goes on unquiesced)
FREEZE_TIMEOUT = 10.0


def convert(disk: Path, dest: Path, shared: bool) -> None:
    """``qemu-img convert -O qcow2`` of ``disk`` into ``dest`` (``-U`` when ``shared``: QEMU
    has the image open).

    Raises:
        DriverError: qemu-img failed or took longer than ``CONVERT_TIMEOUT`` s.
    """
    argv = ["qemu-img", "convert", "-O", "qcow2"]
    if shared:
        argv.append("-U")
    argv += [str(disk), str(dest)]
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=CONVERT_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        raise DriverError(
            f"qemu-img convert failed: {exc.stderr.decode(errors='replace')}"
        ) from exc
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise DriverError(f"qemu-img convert failed: {exc}") from exc


def snapshot_running(
    qmp: Any, disk: Path, dest: Path, agent_socket: Path | None, quiesce: bool
) -> str:
    """Copy the running (or paused) guest's ``disk`` to ``dest`` (see the module docstring);
    ``qmp(command, **arguments)`` runs one QMP command; ``agent_socket``: the guest agent's
    socket, if the guest has one. Returns the event details in words (quiesced or not, and
    why).

    Raises:
        DriverError: QMP or qemu-img failed (the guest is continued and thawed first).
    """
    frozen = False
    why = "no guest agent requested (hw_qemu_guest_agent)"
    if quiesce and agent_socket is not None and agent_socket.exists():
        try:
            guest_agent(agent_socket, "guest-fsfreeze-freeze", timeout=FREEZE_TIMEOUT)
            frozen = True
        except GuestAgentError as exc:
            why = f"the guest agent did not freeze the filesystems: {exc.message}"
    elif quiesce:
        why = "the guest has no guest agent channel"
    try:
        was_running = qmp("query-status").get("status") == "running"
        if was_running:
            qmp("stop")
        try:
            convert(disk, dest, shared=True)
        finally:
            if was_running:
                qmp("cont")
    finally:
        if frozen:
            try:
                guest_agent(agent_socket, "guest-fsfreeze-thaw", timeout=FREEZE_TIMEOUT)  # type: ignore[arg-type]
            except GuestAgentError:
                pass  # a thaw that failed: the agent thaws by itself on its own timeout
    if frozen:
        return "Snapshot of the running guest, quiesced (filesystems frozen by the guest agent)."
    return f"Snapshot of the running guest, not quiesced: {why}."
