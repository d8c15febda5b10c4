"""Interfaces and diagnostics of the qemu driver: virtio-net NICs hot-plugged over QMP
(``netdev_add`` + ``device_add`` onto a free ``pcie-root-port``, as volumes are, see
``qemu_volumes``) and unplugged (``device_del``, wait until the guest released it,
``netdev_del``), and the guest's figures for ``get_diagnostics``.

A hot-plugged NIC is two QEMU objects named with a fresh suffix, the backend ``hnet-<s>``
(``tap`` on the port's tap device for ``bridge``/``tap`` VIFs, a ``hubport`` on a hub of its
own for ``noop``) and the device ``hnic-<s>`` (``mac`` the port's), recorded in
``<instance dir>/nics.json`` (port id -> names, bus, tap) so detach and volume hot-plug
(which must not take its root port) find them. A guest started again boots with the NIC
from its spec: the record is cleared then. A NIC the guest booted with (``-device
virtio-net-pci,id=nic-<port id[:11]>``, on a root port of its own on q35) is unplugged by
``unplug_boot_nic``, found by that id in QEMU's argv.

Diagnostics (Nova's 2.48 shape, ``ComputeDriver.get_diagnostics``): vCPU times from
``query-cpus-fast`` thread ids and ``/proc/<pid>/task/<tid>/stat``; memory from
``query-memory-size-summary`` (maximum) and the QEMU process's resident set (used); disk
counters from ``query-blockstats``; NIC counters from the tap's ``statistics`` in ``/sys``
(the host's rx is the guest's tx), None for NICs without a tap or in another namespace.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from pocketstack.compute.drivers import qemu_volumes as qv
from pocketstack.compute.drivers.base import DriverError

MIB = 2**20
_HUB_BASE = 100  # hub ids of hot-plugged noop NICs (booted NICs use 0, 1, ...)


def _record_path(instance_dir: Path) -> Path:
    return instance_dir / "nics.json"


def read_record(instance_dir: Path) -> dict[str, dict[str, Any]]:
    """port id -> ``{"netdev", "device", "bus", "tap" (or None), "mac"}``."""
    try:
        data = json.loads(_record_path(instance_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_record(instance_dir: Path, record: dict[str, dict[str, Any]]) -> None:
    tmp = _record_path(instance_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, sort_keys=True))
    tmp.replace(_record_path(instance_dir))


def forget_all(instance_dir: Path) -> None:
    """Drop the record (a guest started again has every NIC from its spec)."""
    _record_path(instance_dir).unlink(missing_ok=True)


def free_root_port(machine: str, instance_dir: Path) -> str | None:
    """A root port neither a volume nor a NIC uses (``pc``: None, ``pci.0``).

    Raises:
        DriverError: every root port is taken.
    """
    users = {**qv.read_record(instance_dir), **read_record(instance_dir)}
    return qv.free_port(machine, users)


def hot_plug(
    qmp: qv.QMPCall, instance_dir: Path, machine: str, vif: dict[str, Any], tap: str | None
) -> None:
    """Plug a virtio-net NIC for ``vif`` (its ``port_id``, ``mac_address``) into the running
    guest, backed by the tap ``tap`` (made by the caller) or, without one, by a hub port;
    a failing step undoes the earlier one.

    Raises:
        DriverError: the port is plugged already, no root port is free, or QEMU refused.
    """
    record = read_record(instance_dir)
    port_id = str(vif["port_id"])
    if port_id in record:
        raise DriverError(f"port {port_id} is already plugged")
    suffix = secrets.token_hex(4)
    netdev, device = f"hnet-{suffix}", f"hnic-{suffix}"
    bus = free_root_port(machine, instance_dir)
    if tap:
        backend: dict[str, Any] = {"type": "tap", "id": netdev, "ifname": tap}
        backend.update(script="no", downscript="no")
    else:
        backend = {"type": "hubport", "id": netdev, "hubid": _HUB_BASE + len(record)}
    qmp("netdev_add", **backend)
    try:
        nic: dict[str, Any] = {"driver": "virtio-net-pci", "id": device, "netdev": netdev}
        nic["mac"] = str(vif["mac_address"])
        if bus:
            nic["bus"] = bus
        qmp("device_add", **nic)
    except Exception as exc:
        try:
            qmp("netdev_del", id=netdev)
        except Exception:  # undoing after a failure: the first error is the one to show
            pass
        raise DriverError(f"cannot attach port {port_id}: {exc}") from exc
    record[port_id] = {
        "netdev": netdev,
        "device": device,
        "bus": bus,
        "tap": tap,
        "mac": str(vif["mac_address"]),
    }
    _write_record(instance_dir, record)


def _present(qmp: qv.QMPCall, device: str) -> bool:
    children = qmp("qom-list", path="/machine/peripheral") or []
    return any(child.get("name") == device for child in children)


def hot_unplug(qmp: qv.QMPCall, instance_dir: Path, port_id: str, timeout: float) -> str | None:
    """Unplug the port's hot-plugged NIC: ``device_del``, wait until the guest released it
    (``timeout`` s), ``netdev_del``. Not recorded: nothing to do.

    Returns:
        The tap the NIC used (the caller deletes it), or None.

    Raises:
        DriverError: the guest kept the device (it stays plugged and recorded).
    """
    record = read_record(instance_dir)
    entry = record.get(port_id)
    if entry is None:
        return None
    if _present(qmp, entry["device"]):
        try:
            qmp("device_del", id=entry["device"])
        except Exception as exc:  # a request already pending is fine, else fail
            if "in progress" not in str(exc):
                raise DriverError(f"cannot detach port {port_id}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while _present(qmp, entry["device"]):
            if time.monotonic() >= deadline:
                raise DriverError(f"the guest did not release port {port_id} in {timeout:.0f} s")
            time.sleep(0.2)
    try:
        qmp("netdev_del", id=entry["netdev"])
    except Exception:  # gone already: fine
        pass
    del record[port_id]
    _write_record(instance_dir, record)
    return entry.get("tap")


def unplug_boot_nic(
    qmp: qv.QMPCall, argv: list[str], device: str, timeout: float
) -> tuple[bool, str | None]:
    """Unplug the NIC the guest booted with whose device id is ``device``
    (``qemu_process.boot_nic_id``): ``device_del``, wait until the guest released it
    (``timeout`` s), ``netdev_del`` its backend. Gone already: done.

    Returns:
        (whether ``argv`` has such a device, the tap of its backend or None).

    Raises:
        DriverError: QEMU refused (a NIC on the root bus) or the guest kept the device.
    """
    netdevs: dict[str, str | None] = {}
    found = None
    for flag, value in zip(argv, argv[1:], strict=False):
        opts = dict(p.split("=", 1) for p in value.split(",") if "=" in p)
        if flag == "-netdev":
            netdevs[opts.get("id", "")] = opts.get("ifname") if value.startswith("tap,") else None
        elif flag == "-device" and opts.get("id") == device:
            found = opts.get("netdev", "")
    if found is None:
        return False, None
    if _present(qmp, device):
        try:
            qmp("device_del", id=device)
        except Exception as exc:  # a request already pending is fine, else fail
            if "in progress" not in str(exc):
                raise DriverError(f"cannot detach NIC {device}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while _present(qmp, device):
            if time.monotonic() >= deadline:
                raise DriverError(f"the guest did not release NIC {device} in {timeout:.0f} s")
            time.sleep(0.2)
    try:
        qmp("netdev_del", id=found)
    except Exception:  # gone already: fine
        pass
    return True, netdevs.get(found)


# ---------------------------------------------------------------- diagnostics


def _ticks_ns(stat_line: str) -> int:
    """utime + stime of a ``/proc/.../stat`` line, in nanoseconds."""
    fields = stat_line.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _uptime(pid: int) -> int:
    """Seconds since the process started (``/proc/<pid>/stat`` starttime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return int(float(Path("/proc/uptime").read_text().split()[0]) - started)


def _rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def _tap_counters(tap: str | None) -> dict[str, Any]:
    keys = ("octets", "errors", "drop", "packets")
    files = {"octets": "bytes", "errors": "errors", "drop": "dropped", "packets": "packets"}
    result: dict[str, Any] = {f"{d}_{k}": None for d in ("rx", "tx") for k in keys}
    result.update(rx_rate=None, tx_rate=None)
    base = Path("/sys/class/net", tap or "-", "statistics")
    if not tap or not base.is_dir():
        return result
    for key in keys:
        # the tap's rx is what the guest sent
        result[f"tx_{key}"] = int((base / f"rx_{files[key]}").read_text())
        result[f"rx_{key}"] = int((base / f"tx_{files[key]}").read_text())
    return result


#: QMP ``query-status`` -> the diagnostics' ``state`` (Nova's enum; others ``pending``)
_STATES = {
    "running": "running",
    "paused": "paused",
    "suspended": "suspended",
    "shutdown": "shutdown",
    "guest-panicked": "crashed",
    "internal-error": "crashed",
    "io-error": "crashed",
}


def diagnostics(
    qmp: qv.QMPCall,
    pid: int,
    vifs: list[dict[str, Any]],
    has_config_drive: bool,
    hypervisor: str = "qemu",
) -> dict[str, Any]:
    """The running guest's figures (see the module), ``vifs`` its NICs (``mac_address``,
    ``tap`` or None); ``hypervisor``: ``qemu`` (TCG) or ``kvm``."""
    status = qmp("query-status") or {}
    cpus = qmp("query-cpus-fast") or []
    cpu_details = []
    for cpu in cpus:
        tid = cpu.get("thread-id")
        try:
            used = _ticks_ns(Path(f"/proc/{pid}/task/{tid}/stat").read_text())
        except (OSError, ValueError, IndexError):
            used = None
        cpu_details.append({"id": cpu.get("cpu-index"), "time": used, "utilisation": None})
    memory = qmp("query-memory-size-summary") or {}
    blocks = [b for b in qmp("query-blockstats") or [] if b.get("qdev") or b.get("device")]
    disk_details = []
    for block in blocks:
        stats = block.get("stats") or {}
        disk_details.append(
            {
                "read_bytes": stats.get("rd_bytes"),
                "read_requests": stats.get("rd_operations"),
                "write_bytes": stats.get("wr_bytes"),
                "write_requests": stats.get("wr_operations"),
                "errors_count": int(stats.get("failed_rd_operations") or 0)
                + int(stats.get("failed_wr_operations") or 0),
            }
        )
    nic_details = [
        {"mac_address": str(v.get("mac_address")), **_tap_counters(v.get("tap"))} for v in vifs
    ]
    state = _STATES.get(str(status.get("status")), "pending")
    return {
        "state": state,
        # the API allows only Nova's drivers' names: libvirt is the one that runs QEMU
        "driver": "libvirt",
        "hypervisor": hypervisor,
        "hypervisor_os": "linux",
        "uptime": _uptime(pid),
        "config_drive": has_config_drive,
        "num_cpus": len(cpu_details),
        "num_nics": len(nic_details),
        "num_disks": len(disk_details),
        "memory_details": {
            "maximum": int(memory.get("base-memory") or 0) // MIB,
            "used": _rss_mib(pid),
        },
        "cpu_details": cpu_details,
        "nic_details": nic_details,
        "disk_details": disk_details,
    }
