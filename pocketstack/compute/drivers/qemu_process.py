"""QEMU process helpers for the qemu driver: command line, disks, /proc lookups, probes.

A guest's QEMU is found again (after an agent restart) by its pidfile, and trusted only when
``/proc/<pid>/cmdline`` carries ``-name pocketstack-<uuid>`` and a ``-pidfile`` inside this
driver's instances directory (so two clouds on one machine never adopt each other's guests).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pocketstack.compute.drivers import local_disks
from pocketstack.compute.drivers.base import DriverError, InstanceSpec

LOG = logging.getLogger(__name__)

QEMU = "qemu-system-x86_64"
QEMU_IMG = "qemu-img"
NAME_PREFIX = "pocketstack-"
#: the id of the QEMU ``secret`` object whose data names the compute host that started the
#: process (``host_args``): on shared instance storage a host finds its own QEMUs in /proc
#: by it, whichever host owns the directory now (``qemu_shared``)
HOST_OBJECT = "pocketstack-host"
IMAGE_FORMATS = {"qcow2", "raw", "vmdk", "vdi", "vhdx"}
MIN_USEFUL_MEMORY_MB = 128


@dataclass(frozen=True)
class InstancePaths:
    """The files of one instance, all in ``<instances_path>/<uuid>/``; those of its QEMU
    process (pid file, sockets, taps record) in ``run`` when given: a second QEMU of the
    same guest receiving a live migration on shared storage (``qemu_live_migration``)."""

    dir: Path
    run: Path | None = None

    @property
    def runtime(self) -> Path:
        """Where the QEMU process's own files are (QEMU's working directory)."""
        return self.run or self.dir

    @property
    def disk(self) -> Path:
        return self.dir / "disk"

    @property
    def config(self) -> Path:
        return self.dir / "disk.config"

    @property
    def console(self) -> Path:
        return self.dir / "console.log"

    @property
    def qmp(self) -> Path:
        return self.runtime / "qmp.sock"

    @property
    def pidfile(self) -> Path:
        return self.runtime / "pid"

    @property
    def vnc(self) -> Path:
        """The guest's VNC server (RFB over a unix socket), for the console proxy."""
        return self.runtime / "vnc.sock"

    @property
    def serial(self) -> Path:
        """The guest's first serial port as a stream (a QEMU chardev socket); what it
        prints also goes to ``console`` (the chardev's ``logfile``)."""
        return self.runtime / "serial.sock"

    @property
    def taps(self) -> Path:
        """JSON list of the tap devices made for the guest (deleted with it)."""
        return self.runtime / "taps.json"


@dataclass(frozen=True)
class RescuePaths(InstancePaths):
    """The files of a rescued instance: ``disk.rescue`` (an overlay on the rescue image)
    is its boot disk, and its own ``disk`` is attached too (``_disk_args``)."""

    @property
    def disk(self) -> Path:
        return self.dir / "disk.rescue"

    @property
    def original(self) -> Path:
        """The guest's own root disk, attached (not booted) while rescued."""
        return self.dir / "disk"


#: the virtio-serial port of the QEMU guest agent (image property ``hw_qemu_guest_agent``)
GUEST_AGENT_PORT = "org.qemu.guest_agent.0"
GUEST_AGENT_SOCKET = "qga.sock"


def wants_guest_agent(spec: InstanceSpec) -> bool:
    """Whether the image asks for a guest agent channel (``hw_qemu_guest_agent=yes``)."""
    props = spec["image"].get("properties") or {}
    return str(props.get("hw_qemu_guest_agent", "")).lower() in ("yes", "true", "1")


def _guest_agent_args(spec: InstanceSpec) -> list[str]:
    if not wants_guest_agent(spec):
        return []
    return [
        "-device",
        "virtio-serial-pci,id=vser0",
        "-chardev",
        f"socket,id=qga0,path={GUEST_AGENT_SOCKET},server=on,wait=off",
        "-device",
        f"virtserialport,bus=vser0.0,chardev=qga0,name={GUEST_AGENT_PORT}",
    ]


# ---------------------------------------------------------------- processes in /proc


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return []  # a zombie: dead, only waiting to be reaped
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (OSError, IndexError):
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def cmdline(pid: int) -> list[str]:
    """The argv of a live process (``[]`` when gone or a zombie)."""
    return _cmdline(pid)


def _guest_of(argv: list[str], instances_dir: Path) -> str | None:
    """The uuid of the guest ``argv`` runs when it is one of ours, else ``None``."""
    if not argv or "qemu-system" not in os.path.basename(argv[0]):
        return None
    opts = dict(zip(argv[1:], argv[2:], strict=False))
    name = opts.get("-name", "")
    pidfile = opts.get("-pidfile", "")
    if not name.startswith(NAME_PREFIX) or not pidfile.startswith(f"{instances_dir}/"):
        return None
    return name[len(NAME_PREFIX) :]


def find_pid(paths: InstancePaths, uuid: str) -> int | None:
    """The pid of the live QEMU of ``uuid`` from its pidfile, verified through /proc."""
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _guest_of(_cmdline(pid), paths.dir.parent) == uuid else None


def scan_processes(instances_dir: Path, host: str | None = None) -> dict[str, int]:
    """``{uuid: pid}`` of every live QEMU of this instances directory, from /proc; with
    ``host``, only those that compute host started (``host_of``)."""
    found: dict[str, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv = _cmdline(int(entry))
            uuid = _guest_of(argv, instances_dir)
            if uuid and (host is None or host_of(argv) == host):
                found[uuid] = int(entry)
    return found


def host_args(host: str) -> list[str]:
    """QEMU arguments naming the compute host that starts it (an inert ``secret`` object:
    nothing in the guest sees it), read back by ``host_of``."""
    return ["-object", f"secret,id={HOST_OBJECT},data={host.replace(',', ',,')}"]


def host_of(argv: list[str]) -> str | None:
    """The compute host a QEMU's argv names (``host_args``), or None (none named: a QEMU
    started before hosts were named)."""
    prefix = f"secret,id={HOST_OBJECT},data="
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == "-object" and value.startswith(prefix):
            return value[len(prefix) :].replace(",,", ",")
    return None


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited (zombies count as exited); True when it has."""
    deadline = time.monotonic() + timeout
    while True:
        if not _cmdline(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def kill(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL ``pid`` and wait for it to go.

    Raises:
        DriverError: it is still there after ``timeout`` s.
    """
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not wait_gone(pid, timeout):
        raise DriverError(f"QEMU process {pid} did not die after SIGKILL")


# ---------------------------------------------------------------- versions and probes


def qemu_version() -> tuple[int, str]:
    """``(7002022, "QEMU emulator version 7.2.22 …")`` (major*1e6 + minor*1e3 + micro)."""
    try:
        out = subprocess.run(
            [QEMU, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise DriverError(f"{QEMU} not usable: {exc}") from None
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    if not match:
        return 0, out.strip()
    major, minor, micro = (int(x) for x in match.groups())
    return major * 1_000_000 + minor * 1_000 + micro, out.splitlines()[0]


_ACCEL_CACHE: dict[str, str] = {}
_ACCEL_LOCK = threading.Lock()


def choose_accel(setting: str) -> str:
    """``kvm`` or ``tcg`` for ``conf.accel`` (``auto`` probes KVM once per process).

    Raises:
        DriverError: ``kvm`` was asked for but does not work, or an unknown setting.
    """
    if setting not in ("auto", "kvm", "tcg"):
        raise DriverError(f"accel must be auto, kvm or tcg, not {setting!r}")
    if setting == "tcg":
        return "tcg"
    with _ACCEL_LOCK:
        if "kvm" not in _ACCEL_CACHE:
            _ACCEL_CACHE["kvm"] = "kvm" if kvm_works() else "tcg"
    if setting == "kvm" and _ACCEL_CACHE["kvm"] != "kvm":
        raise DriverError("accel=kvm but KVM does not work on this host")
    return _ACCEL_CACHE["kvm"]


def cpu_has_virtualization(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU flags in ``cpuinfo`` include Intel VT-x (``vmx``) or AMD-V (``svm``),
    which hardware-assisted KVM needs (a nested host with nested virtualization shows them
    too)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags") and {"vmx", "svm"} & set(line.split(":", 1)[-1].split()):
            return True
    return False


def kvm_works(timeout: float = 2.0) -> bool:
    """Whether KVM really runs guest code: boot firmware only, under KVM, and see SeaBIOS
    reach its boot menu on the serial port within ``timeout`` s (TCG takes ~0.1 s).

    ``/dev/kvm`` opening (or ``-accel kvm -M none`` starting) is not enough: on nested hosts
    KVM initialises but guests crawl or hang. Nor is the firmware reaching its boot menu: a
    KVM without the CPU's virtualization extensions (``vmx``/``svm`` missing from
    ``/proc/cpuinfo``, as under the paravirtual ``kvm-pvm``) runs SeaBIOS, then stops the
    guest with an emulation error in the boot loader's real-mode code. Such a host gets TCG.
    """
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or not cpu_has_virtualization():
        return False
    with tempfile.TemporaryDirectory(prefix="pocketstack-kvm-") as tmp:
        serial = Path(tmp, "serial")
        cmd = [
            QEMU,
            "-accel",
            "kvm",
            "-M",
            "q35,graphics=off",
            "-nodefaults",
            "-display",
            "none",
            "-m",
            "64",
            "-serial",
            f"file:{serial}",
        ]
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError:
            return False
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if serial.exists() and b"Booting from" in serial.read_bytes():
                    return True
                time.sleep(0.05)
            return False
        finally:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- disks


def _run(cmd: list[str], what: str, timeout: float = 120, cwd: Path | None = None) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DriverError(f"{what}: {exc}") from None
    if res.returncode != 0:
        raise DriverError(f"{what}: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def image_info(path: Path, fmt: str) -> dict[str, Any]:
    """``qemu-img info`` of ``path`` read as ``fmt``.

    Raises:
        DriverError: missing file or not a valid ``fmt`` image.
    """
    if not path.is_file():
        raise DriverError(f"image file {path} not found")
    out = _run(
        [QEMU_IMG, "info", "-f", fmt, "--output", "json", str(path)],
        f"image {path} is not a valid {fmt} image",
    )
    return json.loads(out)


def create_root_disk(spec: InstanceSpec, paths: InstancePaths) -> None:
    """Make ``disk``: a qcow2 overlay on the image (``root_gb`` GiB, or the image's size when
    0); for an ``iso`` image a blank qcow2 of ``root_gb`` (default 1) GiB.

    Raises:
        DriverError: bad image, unsupported format, or a flavor disk smaller than the image.
    """
    image = spec["image"]
    fmt = image.get("disk_format") or "qcow2"
    root_gb = int(spec.get("root_gb") or 0)
    src = Path(image["path"])
    if fmt == "iso":
        image_info(src, "raw")
        _run(
            [QEMU_IMG, "create", "-q", "-f", "qcow2", str(paths.disk), f"{root_gb or 1}G"],
            "cannot create root disk",
        )
        return
    if fmt not in IMAGE_FORMATS:
        raise DriverError(f"unsupported disk format {fmt!r}")
    virtual = int(image_info(src, fmt)["virtual-size"])
    if root_gb and root_gb * 1024**3 < virtual:
        raise DriverError(
            f"flavor's disk ({root_gb} GiB) is smaller than the image ({virtual / 1024**3:.2f} GiB)"
        )
    cmd = [
        QEMU_IMG,
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        fmt,
        "-b",
        str(src.resolve()),
        str(paths.disk),
    ]
    if root_gb:
        cmd.append(f"{root_gb}G")
    _run(cmd, "cannot create root disk overlay")


# ---------------------------------------------------------------- command line


def build_command(
    spec: InstanceSpec,
    paths: InstancePaths,
    accel: str,
    netns: str | None = None,
    volume_args: list[str] | None = None,
) -> list[str]:
    """The full ``qemu-system-x86_64`` argv of ``spec`` (daemonized, QMP, a VNC server and
    the serial port on unix sockets in the instance directory, the serial also logged to
    ``console.log``),
    behind ``ip netns exec <netns>`` when a namespace is given (a lab host's guests run in
    its namespace, where their taps are; the daemonized QEMU's own argv, which ``find_pid``
    checks, is unchanged). ``volume_args``: the volumes' and root ports' argv
    (``qemu_volumes.spawn_args``), after the local disks, or before them when the guest
    boots from a volume.

    Raises:
        DriverError: an unknown ``vif_type``.
    """
    uuid = spec["uuid"]
    is_iso = spec["image"].get("disk_format") == "iso"
    machine = machine_type(spec)
    memory = int(spec.get("memory_mb") or MIN_USEFUL_MEMORY_MB)
    if memory < MIN_USEFUL_MEMORY_MB:
        LOG.warning("instance %s: %d MB of RAM; guests under ~96 MB print nothing", uuid, memory)
    cmd = [
        QEMU,
        "-name",
        NAME_PREFIX + uuid,
        "-uuid",
        uuid,
        "-M",
        machine + ",graphics=off",
        "-accel",
        accel,
        "-cpu",
        "max" if accel == "tcg" else "host",
        "-smp",
        str(int(spec.get("vcpus") or 1)),
        "-m",
        str(memory),
        "-nodefaults",
        "-display",
        "none",
        # a display adapter for the VNC console (the remote console of `console url show`)
        "-vga",
        "std",
        "-vnc",
        f"unix:{paths.vnc.name}",
        "-no-shutdown",
        "-daemonize",
        "-pidfile",
        str(paths.pidfile),
        # Relative to the instance directory (QEMU's cwd, see ``start``): a unix socket path
        # must fit in 108 bytes, which a deep state directory would not.
        "-chardev",
        f"socket,id=qmp,path={paths.qmp.name},server=on,wait=off",
        "-mon",
        "chardev=qmp,mode=control",
        # the serial port: a socket for the serial console proxy (output is dropped while
        # nobody is connected) that also logs everything to console.log for `console log`
        "-chardev",
        f"socket,id=ser0,path={paths.serial.name},server=on,wait=off,"
        f"logfile={paths.console},logappend=on",
        "-serial",
        "chardev:ser0",
    ]
    if spec.get("boot_from_volume"):  # the boot volume is the guest's first disk
        cmd += (volume_args or []) + _disk_args(spec, paths, is_iso)
    else:
        cmd += _disk_args(spec, paths, is_iso) + (volume_args or [])
    for i, vif in enumerate(spec.get("network_info") or []):
        cmd += _nic_args(i, vif, machine_type(spec))
    cmd += _guest_agent_args(spec)
    return ["ip", "netns", "exec", netns, *cmd] if netns else cmd


#: VIF types whose NIC is a tap device of the host (``bridge``: the L2 agent enslaves it to
#: the network's ``brq`` bridge).
TAP_VIF_TYPES = ("tap", "bridge")


def tap_devices(spec: InstanceSpec) -> list[tuple[str, int | None]]:
    """``[(devname, mtu)]`` of the VIFs of ``spec`` that need a tap on the host."""
    return [
        (str(vif["devname"]), int(vif["mtu"]) if vif.get("mtu") else None)
        for vif in spec.get("network_info") or []
        if (vif.get("vif_type") or "noop") in TAP_VIF_TYPES
    ]


def machine_type(spec: InstanceSpec) -> str:
    """The QEMU machine: the image property ``hw_machine_type`` (as in Nova: ``pc``, ``q35``
    or a versioned name such as ``pc-i440fx-7.2``), else ``q35``.

    Raises:
        DriverError: a value that is not a plain machine name.
    """
    props = spec["image"].get("properties") or {}
    machine = str(props.get("hw_machine_type") or "q35")
    if not re.fullmatch(r"(pc|q35|pc-i440fx-[0-9.]+|pc-q35-[0-9.]+)", machine):
        raise DriverError(f"unsupported hw_machine_type {machine!r} (use pc or q35)")
    return machine


def _disk_args(spec: InstanceSpec, paths: InstancePaths, is_iso: bool) -> list[str]:
    """Root disk (virtio; none when the guest boots from a volume), the ISO as a CD
    booted first, the flavor's ephemeral and swap disks (``local_disks``), the config
    drive (virtio)."""
    args = []
    if isinstance(paths, RescuePaths):
        # The guest's own disk, not booted, plugged before the rescue disk: a guest that
        # finds its root by label (the guest image's initramfs: busybox findfs, which
        # meets the newest device node first) then mounts the rescue disk's, not its own.
        args += [
            "-drive",
            f"file={paths.original},if=none,id=orig,format=qcow2,cache=writeback",
            "-device",
            "virtio-blk-pci,drive=orig",
        ]
    if not spec.get("boot_from_volume"):
        args += [
            "-drive",
            f"file={paths.disk},if=none,id=root,format=qcow2,cache=writeback",
            "-device",
            f"virtio-blk-pci,drive=root,bootindex={1 if is_iso else 0}",
        ]
    if is_iso:
        args += [
            "-drive",
            f"file={spec['image']['path']},if=none,id=cd0,media=cdrom,format=raw,readonly=on",
            "-device",
            # ide.0: port 0 of q35's AHCI controller, or the pc machine's primary IDE
            # channel; SeaBIOS boots El Torito CDs from either (AHCI is the faster one).
            "ide-cd,drive=cd0,bus=ide.0,bootindex=0",
        ]
    args += local_disks.qemu_args([(paths.dir / n, fmt) for n, fmt, _ in local_disks.wanted(spec)])
    if paths.config.exists():
        args += [
            "-drive",
            f"file={paths.config},if=none,id=config,format=raw,readonly=on",
            "-device",
            "virtio-blk-pci,drive=config",
        ]
    return args


def boot_nic_id(port_id: str) -> str:
    """The QEMU id of the virtio-net device a guest boots with for ``port_id``
    (``qemu_interfaces.unplug_boot_nic`` finds it by this name)."""
    return f"nic-{port_id[:11]}"


def _nic_args(index: int, vif: dict[str, Any], machine: str = "q35") -> list[str]:
    """``-netdev``/``-device`` of a NIC the guest boots with; on q35 on a PCIe root port of
    its own (``bnp<index>``), as libvirt places devices, so it can be unplugged live."""
    netdev = f"net{index}"
    vif_type = vif.get("vif_type") or "noop"
    if vif_type == "noop":
        # No data plane: a NIC on a hub of its own. Nothing answers on it (no DHCP, no host
        # access), so the guest configures the port's fixed IP from network_data.json, as it
        # would on a real network; slirp's own DHCP would hand out 10.0.2.15 instead.
        backend = f"hubport,id={netdev},hubid={index}"
    elif vif_type in TAP_VIF_TYPES:
        backend = f"tap,id={netdev},ifname={vif['devname']},script=no,downscript=no"
    else:
        raise DriverError(f"unsupported vif_type {vif_type!r}")
    device = f"virtio-net-pci,netdev={netdev},mac={vif['mac_address']}"
    device += f",id={boot_nic_id(str(vif['port_id']))}"
    port: list[str] = []
    if machine.startswith(("q35", "pc-q35")):
        port = ["-device", f"pcie-root-port,id=bnp{index},bus=pcie.0,chassis={32 + index}"]
        device += f",bus=bnp{index}"
    return [*port, "-netdev", backend, "-device", device]


def start(cmd: list[str], paths: InstancePaths, uuid: str) -> int:
    """Run ``cmd`` (which daemonizes) and return the guest's pid.

    QEMU runs in ``paths.runtime`` (relative QMP socket path). Its ``-daemonize`` parent
    exits only once the machine is initialised, with status 1
    and the error on stderr when it failed, so failures are known synchronously.

    Raises:
        DriverError: QEMU failed to start (its stderr is the message).
    """
    paths.pidfile.unlink(missing_ok=True)
    paths.qmp.unlink(missing_ok=True)
    _run(cmd, "QEMU failed to start", timeout=120, cwd=paths.runtime)
    pid = find_pid(paths, uuid)
    if pid is None:
        raise DriverError("QEMU started but its process is gone")
    return pid
