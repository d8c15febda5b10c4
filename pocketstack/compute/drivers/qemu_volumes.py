"""Volumes of the qemu driver: ``-blockdev`` nodes over QEMU's own iSCSI (libiscsi) and NBD
clients, virtio-blk devices, and their hot-plug over QMP (docs/block-storage.md "Export
protocol", as libvirt's ``<disk type='network'>``).

A volume of a guest is three QEMU objects, named with a fresh suffix per attach (a device
being unplugged never clashes with its successor): the CHAP ``secret`` object ``sec-<s>``
(iSCSI with CHAP only), the protocol node ``vol-<s>`` (``driver`` ``iscsi``: ``transport``
tcp, ``portal``, ``target``, ``lun``, ``user``, ``password-secret``, ``initiator-name``; or
``nbd``: ``server``, ``export``), and the ``virtio-blk-pci`` device ``dev-<s>``. What is
plugged is recorded in ``<instance dir>/volumes.json`` (volume id -> names, bus) so
detach, extend and a restarted agent find them.

The CHAP password never reaches a command line (``ps`` shows every argv): a guest started
with volumes reads it from a ``secret,file=`` of mode 0600 in its instance directory,
removed once QEMU has started; a hot-plugged one gets it inside QMP ``object-add``.

Hot-plug on ``q35`` needs PCIe root ports (``pcie.0`` takes no hot-plugged device): every
guest gets ``ROOT_PORTS`` of them (``hp0``...), and every volume device sits on one, so any
volume can also be unplugged; the boot volume sits on ``pcie.0``/``pci.0`` with
``bootindex=0``, before the config drive (the guest's first disk). Every device has
``serial=<volume_id>``. On ``pc`` the devices go on ``pci.0`` (ACPI hot-plug). Unplugging needs the
guest's cooperation: ``device_del``, then the device is gone when the guest released it
(polled with ``qom-list``, ``DETACH_TIMEOUT`` s), then ``blockdev-del`` and ``object-del``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketstack.compute.drivers.base import BlockDevice, DriverError, InstanceSpec

#: hot-pluggable PCIe root ports of a q35 guest
ROOT_PORTS = 8
#: seconds a detach waits for the guest to release the device
DETACH_TIMEOUT = 30.0
QMPCall = Callable[..., Any]


def _record_path(instance_dir: Path) -> Path:
    return instance_dir / "volumes.json"


def read_record(instance_dir: Path) -> dict[str, dict[str, Any]]:
    """volume id -> ``{"node", "device", "secret" (or None), "bus" (or None)}``."""
    try:
        data = json.loads(_record_path(instance_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(instance_dir: Path, record: dict[str, dict[str, Any]]) -> None:
    """Replace ``volumes.json`` (written whole, then renamed)."""
    tmp = _record_path(instance_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, sort_keys=True))
    tmp.replace(_record_path(instance_dir))


def _names() -> dict[str, str]:
    suffix = secrets.token_hex(4)
    return {"node": f"vol-{suffix}", "device": f"dev-{suffix}", "secret": f"sec-{suffix}"}


def chap_password(block_device: BlockDevice) -> str | None:
    """The CHAP password of an iSCSI volume, None without CHAP."""
    info = block_device.get("connection_info") or {}
    data = info.get("data") or {}
    if info.get("driver_volume_type") == "iscsi" and data.get("auth_method") == "CHAP":
        return str(data.get("auth_password") or "")
    return None


def blockdev(
    block_device: BlockDevice, node: str, secret: str | None, initiator: str
) -> dict[str, Any]:
    """The ``blockdev-add`` options of the volume's protocol node (no secret data in it).

    Raises:
        DriverError: a ``driver_volume_type`` other than ``iscsi``/``nbd``.
    """
    info = block_device.get("connection_info") or {}
    data = info.get("data") or {}
    kind = info.get("driver_volume_type")
    options: dict[str, Any] = {"node-name": node, "cache": {"direct": False, "no-flush": False}}
    if data.get("access_mode") == "ro":
        options["read-only"] = True
    if kind == "iscsi":
        options.update(
            driver="iscsi",
            transport="tcp",
            portal=str(data["target_portal"]),
            target=str(data["target_iqn"]),
            lun=int(data.get("target_lun") or 0),
            **{"initiator-name": initiator},
        )
        if secret is not None:
            options.update(user=str(data["auth_username"]), **{"password-secret": secret})
        return options
    if kind == "nbd":
        options.update(
            driver="nbd",
            server={"type": "inet", "host": str(data["host"]), "port": str(data["port"])},
            export=str(data["export"]),
            # the storage host restarts its NBD daemon around an extend
            **{"reconnect-delay": 10},
        )
        return options
    raise DriverError(f"unsupported volume type {kind!r}")


def _device(names: dict[str, str], volume_id: str, bus: str | None, boot: bool) -> dict[str, Any]:
    """The ``virtio-blk-pci`` device: ``serial`` is the volume id (the guest reads its
    first 20 characters in ``/sys/block/vdX/serial``: guest device names are not Nova's)."""
    device: dict[str, Any] = {"driver": "virtio-blk-pci", "id": names["device"]}
    device.update(drive=names["node"], serial=volume_id)
    if bus:
        device["bus"] = bus
    if boot:
        device["bootindex"] = 0
    return device


def root_port_args(machine: str) -> list[str]:
    """The hot-plug root ports of a q35 guest (none for ``pc``)."""
    if not machine.startswith(("q35", "pc-q35")):
        return []
    args = []
    for i in range(ROOT_PORTS):
        args += ["-device", f"pcie-root-port,id=hp{i},bus=pcie.0,chassis={i + 1}"]
    return args


def free_port(machine: str, record: dict[str, dict[str, Any]]) -> str | None:
    """A root port no entry of ``record`` (volumes, and hot-plugged NICs: ``nics.json``)
    uses (``pc``: None, the devices go on ``pci.0``).

    Raises:
        DriverError: every root port is taken.
    """
    if not machine.startswith(("q35", "pc-q35")):
        return None
    taken = {entry.get("bus") for entry in record.values()}
    for i in range(ROOT_PORTS):
        if f"hp{i}" not in taken:
            return f"hp{i}"
    raise DriverError(f"no free PCIe port for another volume (at most {ROOT_PORTS})")


def spawn_args(
    spec: InstanceSpec, instance_dir: Path, machine: str, initiator: str
) -> tuple[list[str], list[Path]]:
    """The argv of the spec's volumes and the secret files written for them (mode 0600;
    the caller removes them once QEMU has started). Records them in ``volumes.json``.

    Order: the boot volume (on the root bus, so that a guest booting from it sees it as
    its first disk when this argv goes before the local disks), the root ports, the other
    volumes, each on a root port.

    Raises:
        DriverError: an unsupported volume type or too many volumes.
    """
    args: list[str] = []
    files: list[Path] = []
    record: dict[str, dict[str, Any]] = {}
    devices = sorted(spec.get("block_devices") or [], key=lambda d: d.get("boot_index") != 0)
    ports_added = False
    for device in devices:
        names = _names()
        boot = device.get("boot_index") == 0
        password = chap_password(device)
        secret = names["secret"] if password is not None else None
        if secret is not None:
            path = instance_dir / secret
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(str(password))
            files.append(path)
            args += ["-object", f"secret,id={secret},file={path},format=raw"]
        if not boot and not ports_added:
            args += root_port_args(machine)
            ports_added = True
        bus = None if boot else free_port(machine, record)
        args += ["-blockdev", json.dumps(blockdev(device, names["node"], secret, initiator))]
        dev = _device(names, device["volume_id"], bus, boot)
        args += ["-device", ",".join([dev.pop("driver"), *(f"{k}={v}" for k, v in dev.items())])]
        record[device["volume_id"]] = {**names, "secret": secret, "bus": bus}
    if not ports_added:
        args += root_port_args(machine)
    write_record(instance_dir, record)
    return args, files


def _nic_ports(instance_dir: Path) -> dict[str, dict[str, Any]]:
    """The NICs hot-plugged into the guest (``qemu_interfaces``' ``nics.json``), whose root
    ports a volume must not take."""
    try:
        data = json.loads((instance_dir / "nics.json").read_text())
    except (OSError, ValueError):
        return {}
    return {f"nic:{k}": v for k, v in data.items()} if isinstance(data, dict) else {}


def hot_plug(
    qmp: QMPCall, instance_dir: Path, machine: str, block_device: BlockDevice, initiator: str
) -> None:
    """Plug the volume into the running guest: ``object-add`` (the CHAP secret),
    ``blockdev-add``, ``device_add``; a failing step undoes the earlier ones.

    Raises:
        DriverError: the volume is attached already, or QEMU refused a step.
    """
    record = read_record(instance_dir)
    volume_id = block_device["volume_id"]
    if volume_id in record:
        raise DriverError(f"volume {volume_id} is already attached")
    names = _names()
    password = chap_password(block_device)
    secret = names["secret"] if password is not None else None
    bus = free_port(machine, {**record, **_nic_ports(instance_dir)})
    done: list[tuple[str, dict[str, Any]]] = []
    try:
        if secret is not None:
            qmp("object-add", **{"qom-type": "secret", "id": secret, "data": password})
            done.append(("object-del", {"id": secret}))
        qmp("blockdev-add", **blockdev(block_device, names["node"], secret, initiator))
        done.append(("blockdev-del", {"node-name": names["node"]}))
        qmp("device_add", **_device(names, volume_id, bus, boot=False))
    except Exception as exc:
        for command, arguments in reversed(done):
            try:
                qmp(command, **arguments)
            except Exception:  # undoing after a failure: the first error is the one to show
                pass
        raise DriverError(f"cannot attach volume {volume_id}: {exc}") from exc
    record[volume_id] = {**names, "secret": secret, "bus": bus}
    write_record(instance_dir, record)


def _device_present(qmp: QMPCall, device: str) -> bool:
    children = qmp("qom-list", path="/machine/peripheral") or []
    return any(child.get("name") == device for child in children)


def hot_unplug(qmp: QMPCall, instance_dir: Path, volume_id: str, timeout: float) -> None:
    """Unplug the volume from the running guest: ``device_del``, wait until the guest has
    released the device (``timeout`` s), ``blockdev-del``, ``object-del``. Not attached:
    nothing to do.

    Raises:
        DriverError: the guest kept the device (it stays attached and recorded).
    """
    record = read_record(instance_dir)
    entry = record.get(volume_id)
    if entry is None:
        return
    if _device_present(qmp, entry["device"]):
        try:
            qmp("device_del", id=entry["device"])
        except Exception as exc:  # QMPError: a request already pending is fine, else fail
            if "in progress" not in str(exc):
                raise DriverError(f"cannot detach volume {volume_id}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while _device_present(qmp, entry["device"]):
            if time.monotonic() >= deadline:
                raise DriverError(
                    f"the guest did not release volume {volume_id} within {timeout:.0f} s"
                )
            time.sleep(0.2)
    for command, arguments in (
        ("blockdev-del", {"node-name": entry["node"]}),
        ("object-del", {"id": entry.get("secret")}),
    ):
        if arguments.get("id", True) is None:
            continue
        try:
            qmp(command, **arguments)
        except Exception:  # gone already (a previous detach got this far): fine
            pass
    del record[volume_id]
    write_record(instance_dir, record)


def forget(instance_dir: Path, volume_id: str) -> None:
    """Drop a volume from the record of a guest that is not running."""
    record = read_record(instance_dir)
    if record.pop(volume_id, None) is not None:
        write_record(instance_dir, record)


def resize(qmp: QMPCall, instance_dir: Path, volume_id: str, new_size: int) -> None:
    """``block_resize`` of the volume's node to ``new_size`` bytes.

    Raises:
        DriverError: the volume is not attached, or QEMU refused.
    """
    entry = read_record(instance_dir).get(volume_id)
    if entry is None:
        raise DriverError(f"volume {volume_id} is not attached")
    try:
        qmp("block_resize", **{"node-name": entry["node"], "size": int(new_size)})
    except Exception as exc:
        raise DriverError(f"cannot resize volume {volume_id}: {exc}") from exc
