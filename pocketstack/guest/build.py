"""Build the default guest image (``cirros``) from files installed by Debian packages.

Nothing is downloaded. The result is a BIOS-bootable qcow2 disk:

- an MBR from syslinux (``mbr.bin``) and an MBR partition table written by ``sfdisk``;
- partition 1: a FAT boot filesystem (``mkfs.fat`` + ``syslinux --install`` through mtools)
  holding the Debian cloud kernel, a gzip'd initramfs and ``syslinux.cfg``;
- partition 2: an ext4 root filesystem filled by ``mke2fs -d`` (no mount), persistent,
  with busybox-static, dropbear and the guest boot scripts from ``files/``.

The initramfs (written in Python as a newc cpio, so it can hold ``/dev/console`` without
root) loads the virtio/isofs/vfat/button modules and switch_roots to ``/dev/vda2``. What the
guest does at boot is documented in ``files/rcS``.

The same guest also builds as a live ISO (:func:`build_iso`): an El Torito (no emulation)
ISO9660 CD, volume label :data:`ISO_LABEL` (never ``config-2``), booted by ISOLINUX, whose
initramfs carries the whole root filesystem tree. ``pocketstack.live`` on the kernel command
line makes ``files/initramfs-init`` run ``/sbin/init`` from RAM instead of switch_root, so
the boot scripts are the very same files; nothing persists across reboots. No isohybrid MBR:
SeaBIOS boots the CD through El Torito; the ISO is not meant to boot as a hard disk.

API: :func:`build_image`, :func:`ensure_image`, :func:`build_iso`, :func:`ensure_iso`;
``python -m pocketstack.guest.build DEST.qcow2|DEST.iso``.
Debian packages needed: see :data:`DEBIAN_PACKAGES`.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pocketstack.common.errors import PocketError

#: Bump when the recipe changes in a way the file hashes below do not capture.
RECIPE_VERSION = 2
FILES = Path(__file__).with_name("files")
IMAGE_PREFIX = "cirros-pocketstack-"

#: Debian packages whose files the build uses (the setup script installs these).
DEBIAN_PACKAGES = (
    "linux-image-cloud-amd64",
    "busybox-static",
    "dropbear-bin",
    "syslinux",
    "syslinux-common",
    "isolinux",
    "mtools",
    "dosfstools",
    "fdisk",
    "e2fsprogs",
    "qemu-utils",
    "qemu-guest-agent",
)
#: host tool -> Debian package, checked before building.
TOOLS = {
    "mkfs.fat": "dosfstools",
    "syslinux": "syslinux",
    "mcopy": "mtools",
    "sfdisk": "fdisk",
    "mke2fs": "e2fsprogs",
    "qemu-img": "qemu-utils",
    "ldd": "libc-bin",
}
BUSYBOX = Path("/bin/busybox")
DROPBEAR_BINARIES = ("/usr/sbin/dropbear", "/usr/bin/dropbearkey")
#: Debian's QEMU guest agent, started by ``files/rcS`` on the virtio-serial port
#: ``org.qemu.guest_agent.0`` (images registered with ``hw_qemu_guest_agent=yes``).
QEMU_GA = Path("/usr/sbin/qemu-ga")
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
ISOLINUX_BIN = Path("/usr/lib/ISOLINUX/isolinux.bin")
LDLINUX_C32 = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")
#: Volume label of the live ISO (the config drive is ``config-2``; rcS looks only for that).
ISO_LABEL = "POCKETSTACK_LIVE"
ISO_PREFIX = "cirros-pocketstack-live-"
#: Modules the initramfs loads (with their dependencies from modules.dep); missing ones
#: (built in, or absent from another kernel flavour) are skipped.
MODULES = (
    "virtio_pci",
    "virtio_blk",
    "virtio_net",
    "virtio_scsi",
    "virtio_rng",
    "virtio_console",
    "isofs",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    "nls_iso8859-1",
    "button",
    "evdev",
)
#: The root filesystem by its label (:data:`ROOT_LABEL`), not ``/dev/vda2``: a guest booted
#: from a volume may see its boot disk after the config drive (virtio disks are named in
#: PCI probe order), so the device name of the root disk is not known in advance.
ROOT_LABEL = "cirros-rootfs"
KERNEL_CMDLINE = f"root=LABEL={ROOT_LABEL} console=ttyS0 quiet loglevel=3"
LIVE_CMDLINE = "pocketstack.live console=ttyS0 quiet loglevel=3"
MIB = 1024 * 1024
BOOT_START_MIB, BOOT_SIZE_MIB, ROOT_SIZE_MIB = 1, 32, 200


class GuestBuildError(PocketError):
    """The guest image could not be built (missing tool/package or a failing step)."""

    status = 500
    title = "Guest Image Build Failed"


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd`` with check=True; raise GuestBuildError with its stderr when it fails."""
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)
    except FileNotFoundError as exc:
        raise GuestBuildError(f"{cmd[0]} not found: install {TOOLS.get(cmd[0], cmd[0])}") from exc
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip()[-800:]
        raise GuestBuildError(f"{' '.join(cmd)} failed ({exc.returncode}): {detail}") from exc


def check_host(live: bool = False) -> None:
    """Raise GuestBuildError naming the Debian package of the first missing tool or file.

    ``live``: check what :func:`build_iso` needs (ISOLINUX) instead of the disk tools.
    """
    tools = {"ldd": "libc-bin"} if live else TOOLS
    for tool, package in tools.items():
        if shutil.which(tool) is None and not Path("/sbin", tool).exists():
            raise GuestBuildError(f"{tool} not found: install the Debian package {package}")
    needed = {BUSYBOX: "busybox-static", SYSLINUX_MBR: "syslinux-common"}
    if live:
        needed = {
            BUSYBOX: "busybox-static",
            ISOLINUX_BIN: "isolinux",
            LDLINUX_C32: "syslinux-common",
        }
    needed.update({Path(p): "dropbear-bin" for p in DROPBEAR_BINARIES})
    needed[QEMU_GA] = "qemu-guest-agent"
    for path, package in needed.items():
        if not path.exists():
            raise GuestBuildError(f"{path} not found: install the Debian package {package}")
    find_kernel()


def find_kernel(
    boot: Path = Path("/boot"), modules: Path = Path("/lib/modules")
) -> tuple[Path, str]:
    """The newest ``vmlinuz-<version>`` that has ``modules/<version>/modules.dep``.

    Cloud kernels (``*-cloud-amd64``) are preferred: they boot fastest under TCG.
    Returns (kernel path, version). Raises GuestBuildError when there is none.
    """
    found = [
        k
        for k in boot.glob("vmlinuz-*")
        if (modules / k.name.removeprefix("vmlinuz-") / "modules.dep").exists()
    ]
    if not found:
        raise GuestBuildError(f"no kernel with modules in {boot}: install linux-image-cloud-amd64")
    found.sort(key=lambda k: (k.name.endswith("-cloud-amd64"), k.stat().st_mtime))
    kernel = found[-1]
    return kernel, kernel.name.removeprefix("vmlinuz-")


def resolve_modules(modules_dep: str, names: tuple[str, ...] | list[str]) -> list[str]:
    """Order the modules ``names`` and their dependencies so each comes after what it needs.

    ``modules_dep`` is the text of ``modules.dep`` (``path: dep1 dep2`` per line). Names match
    the file name without ``.ko*`` (``-`` and ``_`` are equivalent). Names not in the file
    (built-in) are skipped. Returns paths relative to the modules directory.
    """
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in modules_dep.splitlines():
        if ":" not in line:
            continue
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        by_name[module_name(path)] = path
    ordered: list[str] = []

    def visit(path: str) -> None:
        if path in ordered:
            return
        for dep in reversed(deps.get(path, [])):
            visit(dep)
        ordered.append(path)

    for name in names:
        found = by_name.get(name.replace("-", "_"))
        if found:
            visit(found)
    return ordered


def module_name(path: str) -> str:
    """``kernel/fs/nls/nls_iso8859-1.ko.xz`` -> ``nls_iso8859_1``."""
    return Path(path).name.split(".ko")[0].replace("-", "_")


def newc_entry(
    name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0), ino: int = 0
) -> bytes:
    """One newc (``070701``) cpio record owned by root; ``mode`` includes the file type bits."""
    encoded = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    record = header + encoded
    record += b"\0" * (-len(record) % 4) + data
    return record + b"\0" * (-len(record) % 4)


def write_cpio(entries: list[tuple[str, int, bytes, tuple[int, int]]]) -> bytes:
    """A newc cpio archive of ``(name, mode, data, (rdev major, minor))`` plus the trailer."""
    out = [newc_entry(n, m, d, r, ino=i + 1) for i, (n, m, d, r) in enumerate(entries)]
    out.append(newc_entry("TRAILER!!!", 0))
    return b"".join(out)


CpioEntry = tuple[str, int, bytes, tuple[int, int]]


def build_initramfs(kernel_version: str, modules_dir: Path = Path("/lib/modules")) -> bytes:
    """The gzip'd initramfs: busybox, the modules of :data:`MODULES`, ``/init``."""
    dirs = ["bin", "sbin", "dev", "proc", "sys", "etc", "newroot", "lib", "lib/modules"]
    entries: list[CpioEntry] = [(d, 0o40755, b"", (0, 0)) for d in dirs]
    entries.append(("bin/busybox", 0o100755, BUSYBOX.read_bytes(), (0, 0)))
    for applet in ("sh", "mount", "insmod", "usleep", "findfs", "switch_root", "cat"):
        entries.append((f"bin/{applet}", 0o120777, b"busybox", (0, 0)))
    entries += initramfs_boot_entries(kernel_version, modules_dir)
    return gzip.compress(write_cpio(entries), compresslevel=6, mtime=0)


def build_live_initramfs(
    root: Path, kernel_version: str, modules_dir: Path = Path("/lib/modules")
) -> bytes:
    """The gzip'd initramfs of the live ISO: the whole tree ``root`` (see
    :func:`populate_rootfs`) plus the modules, ``/dev/console`` and ``/init``."""
    entries = tree_entries(root)
    names = {e[0] for e in entries}
    for d in ("lib", "lib/modules", "dev", "proc", "sys", "etc"):
        if d not in names:
            entries.append((d, 0o40755, b"", (0, 0)))
    entries += initramfs_boot_entries(kernel_version, modules_dir)
    return gzip.compress(write_cpio(entries), compresslevel=6, mtime=0)


def tree_entries(root: Path) -> list[CpioEntry]:
    """cpio entries for every directory, file and symlink under ``root`` (parents first,
    sorted; owner root; modes as on disk). Other file types are skipped."""
    entries: list[CpioEntry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames) + sorted(filenames):
            path = base / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if path.is_symlink():
                entries.append((rel, 0o120777, os.readlink(path).encode(), (0, 0)))
            elif path.is_dir():
                entries.append((rel, 0o40000 | (st.st_mode & 0o7777), b"", (0, 0)))
            elif path.is_file():
                entries.append((rel, 0o100000 | (st.st_mode & 0o7777), path.read_bytes(), (0, 0)))
    return entries


def initramfs_boot_entries(kernel_version: str, modules_dir: Path) -> list[CpioEntry]:
    """``/dev/console``, the modules of :data:`MODULES` (flat in ``/lib/modules``) with
    ``/etc/modules`` listing their load order, and ``/init`` (``files/initramfs-init``)."""
    kdir = modules_dir / kernel_version
    mods = resolve_modules((kdir / "modules.dep").read_text(), MODULES)
    entries: list[CpioEntry] = [("dev/console", 0o20600, b"", (5, 1))]
    listing = []
    for rel in mods:
        flat = Path(rel).name
        entries.append((f"lib/modules/{flat}", 0o100644, (kdir / rel).read_bytes(), (0, 0)))
        listing.append(flat)
    entries.append(("etc/modules", 0o100644, ("\n".join(listing) + "\n").encode(), (0, 0)))
    init = (FILES / "initramfs-init").read_bytes()
    entries.append(("init", 0o100755, init, (0, 0)))
    return entries


def shared_libraries(binary: str) -> list[Path]:
    """Absolute paths of the shared libraries ``ldd`` names for ``binary`` (with the loader)."""
    libs = []
    for line in run(["ldd", binary]).stdout.splitlines():
        parts = line.split()
        for part in parts:
            if part.startswith("/"):
                libs.append(Path(part))
                break
    return libs


def copy_file(src: Path, root: Path, mode: int | None = None) -> None:
    """Copy ``src`` (symlinks resolved) to the same absolute path under ``root``."""
    dest = root / str(src).lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    os.chmod(dest, mode if mode is not None else (src.stat().st_mode & 0o7777))


def install_file(name: str, root: Path, target: str, mode: int = 0o644) -> None:
    """Install ``files/<name>`` at ``target`` under ``root``."""
    dest = root / target.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FILES / name, dest)
    os.chmod(dest, mode)


@contextlib.contextmanager
def _tree_umask() -> Iterator[None]:
    """Umask 022 while the guest tree is written: its modes go into the image as they are on
    disk, so they must be the recipe's, not the caller's (``pocketstack`` runs with 077)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def populate_rootfs(root: Path, live: bool = False) -> None:
    """Fill the folder ``root`` with the guest's root filesystem tree (``live``: for the
    ISO's initramfs, with no root disk in ``/etc/fstab``), whatever the process umask."""
    with _tree_umask():
        _populate_rootfs(root, live)


def _populate_rootfs(root: Path, live: bool) -> None:
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "run",
        "tmp",
        "mnt",
        "root",
        "var/log",
        "var/lib/pocketstack",
        "etc/dropbear",
        "etc/acpi/PWRF",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    os.chmod(root / "root", 0o700)
    copy_file(BUSYBOX, root, 0o755)
    applets = run([str(BUSYBOX), "--list-full"]).stdout.split()
    for applet in applets:
        link = root / applet
        if not link.exists() and not link.is_symlink() and applet != "bin/busybox":
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath("/bin/busybox", "/" + str(Path(applet).parent)))
    for binary in (*DROPBEAR_BINARIES, str(QEMU_GA)):
        copy_file(Path(binary), root, 0o755)
        for lib in shared_libraries(binary):
            if not (root / str(lib).lstrip("/")).exists():
                copy_file(lib, root, 0o755)
    write_etc(root, live)


def write_etc(root: Path, live: bool = False) -> None:
    """Scripts from ``files/`` and the small /etc files (root account with no password)."""
    install_file("inittab", root, "/etc/inittab")
    install_file("rcS", root, "/etc/init.d/rcS", 0o755)
    install_file("rcK", root, "/etc/init.d/rcK", 0o755)
    install_file("udhcpc.script", root, "/usr/share/udhcpc/default.script", 0o755)
    install_file("power-button", root, "/etc/acpi/PWRF/00000080", 0o755)
    install_file("jsonflat.awk", root, "/usr/lib/pocketstack/jsonflat.awk")
    install_file("chpasswd", root, "/usr/sbin/chpasswd", 0o755)
    etc = {
        "hostname": "cirros\n",
        "passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "shadow": "root:*:19000:0:99999:7:::\n",
        "group": "root:x:0:\ntty:x:5:\n",
        "shells": "/bin/sh\n/bin/ash\n",
        "hosts": "127.0.0.1\tlocalhost\n",
        "fstab": "rootfs\t/\trootfs\trw\t0\t0\n"
        if live
        else f"LABEL={ROOT_LABEL}\t/\text4\trw,relatime\t0\t1\n",
        "profile": "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PS1='\\u@\\h:\\w\\$ '\n",
        "pocketstack-image": f"recipe {recipe_hash()}\n",
    }
    for name, text in etc.items():
        (root / "etc" / name).write_text(text)
    os.chmod(root / "etc/shadow", 0o600)


def make_boot_fs(path: Path, kernel: Path, initrd: bytes, work: Path) -> None:
    """A FAT image of :data:`BOOT_SIZE_MIB` with syslinux, the kernel and the initramfs."""
    run(["mkfs.fat", "-C", "-n", "BOOT", str(path), str(BOOT_SIZE_MIB * 1024)])
    run(["syslinux", "--install", str(path)])
    cfg = work / "syslinux.cfg"
    cfg.write_text(syslinux_cfg())
    (work / "initrd.gz").write_bytes(initrd)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    files = ((kernel, "vmlinuz"), (work / "initrd.gz", "initrd.gz"), (cfg, "syslinux.cfg"))
    for src, name in files:
        run(["mcopy", "-o", "-i", str(path), str(src), f"::{name}"], env=env)


def syslinux_cfg(cmdline: str = KERNEL_CMDLINE) -> str:
    """The syslinux (and isolinux) configuration: boot the one entry at once, messages on
    the serial port; ``/vmlinuz`` and ``/initrd.gz`` at the root of the boot filesystem."""
    return (
        "SERIAL 0 115200\n"
        "DEFAULT pocketstack\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "LABEL pocketstack\n"
        "  LINUX /vmlinuz\n"
        "  INITRD /initrd.gz\n"
        f"  APPEND {cmdline}\n"
    )


def make_root_fs(path: Path, folder: Path) -> None:
    """An ext4 image of :data:`ROOT_SIZE_MIB` filled from ``folder`` by ``mke2fs -d``."""
    run(
        [
            "mke2fs",
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            ROOT_LABEL,
            "-E",
            "root_owner=0:0",
            "-d",
            str(folder),
            str(path),
            f"{ROOT_SIZE_MIB}M",
        ]
    )


def partition_table() -> str:
    """sfdisk input: a bootable FAT partition 1 and a Linux partition 2 (MiB aligned)."""
    boot_start = BOOT_START_MIB * MIB // 512
    boot_size = BOOT_SIZE_MIB * MIB // 512
    return (
        "label: dos\n"
        f"start={boot_start}, size={boot_size}, type=c, bootable\n"
        f"start={boot_start + boot_size}, size={ROOT_SIZE_MIB * MIB // 512}, type=83\n"
    )


def assemble_disk(raw: Path, boot_fs: Path, root_fs: Path) -> None:
    """A sparse raw disk: syslinux MBR, partition table, then both filesystem images."""
    total = (BOOT_START_MIB + BOOT_SIZE_MIB + ROOT_SIZE_MIB) * MIB
    with raw.open("wb") as disk:
        disk.truncate(total)
        disk.write(SYSLINUX_MBR.read_bytes()[:440])
    run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(raw)], input=partition_table())
    offsets = ((boot_fs, BOOT_START_MIB), (root_fs, BOOT_START_MIB + BOOT_SIZE_MIB))
    with raw.open("r+b") as disk:
        for image, start_mib in offsets:
            disk.seek(start_mib * MIB)
            copy_sparse(image, disk)


def copy_sparse(src: Path, dest) -> None:
    """Copy ``src`` into the open file ``dest`` at its position, seeking over zero blocks."""
    block = MIB
    zero = bytes(block)
    with src.open("rb") as f:
        while chunk := f.read(block):
            if chunk == zero[: len(chunk)]:
                dest.seek(len(chunk), os.SEEK_CUR)
            else:
                dest.write(chunk)


def build_image(dest: Path, work_dir: Path | None = None) -> Path:
    """Build the guest qcow2 image at ``dest`` (written to a temp name, then renamed).

    ``work_dir`` holds the intermediate files (a temporary directory, removed afterwards,
    when None). Returns ``dest``. Raises GuestBuildError naming a missing tool or package,
    or the step that failed.
    """
    check_host()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="guest-build-") as tmp:
        work = Path(tmp)
        kernel, version = find_kernel()
        make_boot_fs(work / "boot.fat", kernel, build_initramfs(version), work)
        populate_rootfs(work / "root")
        make_root_fs(work / "root.ext4", work / "root")
        assemble_disk(work / "disk.raw", work / "boot.fat", work / "root.ext4")
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        try:
            run(["qemu-img", "convert", "-O", "qcow2", str(work / "disk.raw"), str(partial)])
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
    return dest


def recipe_hash() -> str:
    """12 hex digits identifying the recipe: this module, ``files/*``, the kernel version,
    the guest agent binary (a Debian update of ``qemu-guest-agent`` rebuilds the image)."""
    h = hashlib.sha256(f"{RECIPE_VERSION}".encode())
    h.update(Path(__file__).read_bytes())
    for f in sorted(FILES.iterdir()):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    with contextlib.suppress(OSError):
        h.update(QEMU_GA.read_bytes())
    try:
        h.update(find_kernel()[1].encode())
    except GuestBuildError:
        pass
    return h.hexdigest()[:12]


def ensure_image(cache_dir: Path) -> Path:
    """The cached image ``cache_dir/cirros-pocketstack-<recipe hash>.qcow2``, built if missing.

    A changed recipe (scripts, this module, kernel version) gives a new name, so a stale image
    is never reused; older images are left in place (overlays may still use them). Concurrent
    callers are serialised by a lock file in ``cache_dir``. Raises GuestBuildError.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    image = cache_dir / f"{IMAGE_PREFIX}{recipe_hash()}.qcow2"
    if image.exists():
        return image
    with (cache_dir / ".guest-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not image.exists():
            build_image(image, work_dir=cache_dir)
    return image


def build_iso(dest: Path, work_dir: Path | None = None) -> Path:
    """Build the live ISO of the guest at ``dest`` (written to a temp name, then renamed).

    Layout (ISO9660 level 1 names, Rock Ridge and Joliet names in lower case): ``/vmlinuz``,
    ``/initrd.gz`` (the live initramfs, see :func:`build_live_initramfs`),
    ``/isolinux/isolinux.bin`` (the El Torito no-emulation boot image, boot info table
    patched in), ``/isolinux/ldlinux.c32``, ``/isolinux/isolinux.cfg`` and the boot catalog
    ``/isolinux/boot.cat``; volume label :data:`ISO_LABEL`. Returns ``dest``.

    Raises:
        GuestBuildError: a missing tool or package, or a failing step.
    """
    import pycdlib

    check_host(live=True)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    kernel, version = find_kernel()
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="guest-iso-") as tmp:
        root = Path(tmp, "root")
        populate_rootfs(root, live=True)
        files = {
            "/vmlinuz": kernel.read_bytes(),
            "/initrd.gz": build_live_initramfs(root, version),
            "/isolinux/isolinux.bin": ISOLINUX_BIN.read_bytes(),
            "/isolinux/ldlinux.c32": LDLINUX_C32.read_bytes(),
            "/isolinux/isolinux.cfg": syslinux_cfg(LIVE_CMDLINE).encode(),
        }
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=1, joliet=3, rock_ridge="1.09", vol_ident=ISO_LABEL)
        iso.add_directory("/ISOLINUX", rr_name="isolinux", joliet_path="/isolinux")
        for path, data in files.items():
            iso.add_fp(
                io.BytesIO(data),
                len(data),
                iso9660_name(path),
                rr_name=path.rsplit("/", 1)[1],
                joliet_path=path,
            )
        iso.add_eltorito(
            iso9660_name("/isolinux/isolinux.bin"),
            bootcatfile=iso9660_name("/isolinux/boot.cat"),
            rr_bootcatname="boot.cat",
            joliet_bootcatfile="/isolinux/boot.cat",
            boot_load_size=4,
            boot_info_table=True,
        )
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        try:
            iso.write(str(partial))
            iso.close()
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
    return dest


def iso9660_name(path: str) -> str:
    """``/isolinux/isolinux.bin`` -> ``/ISOLINUX/ISOLINUX.BIN;1``, ``/vmlinuz`` ->
    ``/VMLINUZ.;1`` (level 1: 8.3 upper case; ``-`` becomes ``_``)."""
    parts = path.strip("/").upper().replace("-", "_").split("/")
    *dirs, name = parts
    stem, _, ext = name.partition(".")
    return "/" + "/".join([*dirs, f"{stem[:8]}.{ext[:3]};1"])


def ensure_iso(cache_dir: Path) -> Path:
    """The cached live ISO ``cache_dir/cirros-pocketstack-live-<recipe hash>.iso``, built
    if missing (same recipe hash and lock as :func:`ensure_image`). Raises GuestBuildError."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    iso = cache_dir / f"{ISO_PREFIX}{recipe_hash()}.iso"
    if iso.exists():
        return iso
    with (cache_dir / ".guest-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not iso.exists():
            build_iso(iso, work_dir=cache_dir)
    return iso


def main(argv: list[str] | None = None) -> int:
    """``python -m pocketstack.guest.build DEST``: build the qcow2 image (or the live ISO when
    DEST ends in ``.iso``) at DEST, print size and time."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m pocketstack.guest.build DEST.qcow2|DEST.iso", file=sys.stderr)
        return 2
    start = time.monotonic()
    builder = build_iso if args[0].endswith(".iso") else build_image
    try:
        dest = builder(Path(args[0]))
    except GuestBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = dest.stat().st_size / MIB
    print(f"built {dest} ({size:.1f} MiB) in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
