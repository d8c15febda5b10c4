"""Unit tests for the pure helpers of pocketstack.guest.build (real tools where used)."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import stat
import subprocess

import pytest

from pocketstack.guest import build

DEP = """\
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko \
kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko \
kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/fs/nls/nls_iso8859-1.ko.xz:
"""


def test_resolve_modules_puts_dependencies_first_once():
    order = build.resolve_modules(DEP, ["virtio_pci", "virtio_net", "ext4_builtin"])
    names = [build.module_name(p) for p in order]
    assert len(names) == len(set(names))
    assert set(names) == {
        "virtio_ring",
        "virtio",
        "virtio_pci_legacy_dev",
        "virtio_pci",
        "failover",
        "net_failover",
        "virtio_net",
    }
    for path in order:
        line = next(x for x in DEP.splitlines() if x.startswith(path + ":"))
        for dep in line.split(":")[1].split():
            assert order.index(dep) < order.index(path)


def test_resolve_modules_matches_dash_and_underscore():
    assert build.resolve_modules(DEP, ["nls_iso8859-1"]) == ["kernel/fs/nls/nls_iso8859-1.ko.xz"]
    assert build.module_name("kernel/fs/nls/nls_iso8859-1.ko.xz") == "nls_iso8859_1"


def test_resolve_modules_on_this_kernel_finds_virtio_and_isofs():
    try:
        _, version = build.find_kernel()
    except build.GuestBuildError:
        pytest.skip("no kernel with modules installed")
    dep = (build.Path("/lib/modules") / version / "modules.dep").read_text()
    names = {build.module_name(p) for p in build.resolve_modules(dep, build.MODULES)}
    assert {"virtio_pci", "virtio_blk", "virtio_net", "isofs", "vfat", "button"} <= names


@pytest.mark.skipif(shutil.which("cpio") is None, reason="needs cpio to read the archive")
def test_write_cpio_is_readable_by_cpio(tmp_path):
    archive = build.write_cpio(
        [
            ("dev", 0o40755, b"", (0, 0)),
            ("dev/console", 0o20600, b"", (5, 1)),
            ("init", 0o100755, b"#!/bin/sh\necho hi\n", (0, 0)),
            ("sh", 0o120777, b"busybox", (0, 0)),
        ]
    )
    listing = subprocess.run(
        ["cpio", "-itv", "--quiet"], input=archive, capture_output=True, check=True
    ).stdout.decode()
    assert re.search(r"^crw------- .* root +root +5, +1 .* dev/console$", listing, re.M)
    assert re.search(r"^-rwxr-xr-x .* root +root +18 .* init$", listing, re.M)
    assert re.search(r"^lrwxrwxrwx .* sh -> busybox$", listing, re.M)
    subprocess.run(["cpio", "-id", "--quiet"], input=archive, cwd=tmp_path, check=True)
    assert (tmp_path / "init").read_bytes() == b"#!/bin/sh\necho hi\n"


def test_newc_records_are_4_byte_aligned():
    for name in ("a", "ab", "abc", "abcd"):
        for data in (b"", b"x", b"xyz", b"wxyz"):
            assert len(build.newc_entry(name, 0o100644, data)) % 4 == 0


def test_syslinux_cfg_boots_at_once_on_the_serial_console():
    cfg = build.syslinux_cfg()
    assert "TIMEOUT 0" in cfg and "PROMPT 0" in cfg
    assert "console=ttyS0" in cfg and "root=LABEL=cirros-rootfs" in cfg
    assert "INITRD /initrd.gz" in cfg


@pytest.mark.skipif(shutil.which("sfdisk") is None, reason="needs sfdisk")
def test_partition_table_applies_with_sfdisk(tmp_path):
    disk = tmp_path / "disk.raw"
    total = build.BOOT_START_MIB + build.BOOT_SIZE_MIB + build.ROOT_SIZE_MIB
    disk.write_bytes(b"")
    with disk.open("r+b") as f:
        f.truncate(total * build.MIB)
    subprocess.run(
        ["sfdisk", "--quiet", str(disk)], input=build.partition_table(), text=True, check=True
    )
    table = json.loads(
        subprocess.run(
            ["sfdisk", "--json", str(disk)], capture_output=True, text=True, check=True
        ).stdout
    )["partitiontable"]
    boot, root = table["partitions"]
    assert boot["start"] == 2048 and boot.get("bootable") is True and boot["type"] == "c"
    assert root["start"] == boot["start"] + boot["size"] and root["type"] == "83"
    assert (root["start"] + root["size"]) * 512 == total * build.MIB


def test_recipe_hash_is_stable_hex():
    assert re.fullmatch(r"[0-9a-f]{12}", build.recipe_hash())
    assert build.recipe_hash() == build.recipe_hash()


def test_ensure_image_reuses_the_cached_image(tmp_path):
    cached = tmp_path / f"{build.IMAGE_PREFIX}{build.recipe_hash()}.qcow2"
    cached.write_bytes(b"already built")
    assert build.ensure_image(tmp_path) == cached
    assert cached.read_bytes() == b"already built"


def test_run_names_the_missing_tool():
    with pytest.raises(build.GuestBuildError, match="no-such-tool-xyz not found"):
        build.run(["no-such-tool-xyz"])


def test_run_reports_stderr_of_a_failing_step():
    with pytest.raises(build.GuestBuildError, match="boom"):
        build.run(["sh", "-c", "echo boom >&2; exit 3"])


@pytest.mark.skipif(not build.BUSYBOX.exists(), reason="needs busybox-static")
def test_initramfs_holds_init_console_and_modules():
    try:
        _, version = build.find_kernel()
    except build.GuestBuildError:
        pytest.skip("no kernel with modules installed")
    archive = gzip.decompress(build.build_initramfs(version))
    assert b"dev/console\0" in archive and b"init\0" in archive
    assert b"virtio_blk.ko" in archive and b"isofs.ko" in archive


@pytest.mark.skipif(not build.BUSYBOX.exists(), reason="needs busybox-static")
def test_rootfs_modes_are_the_recipes_whatever_the_umask(tmp_path):
    """``pocketstack`` runs with umask 077; the guest tree (whose modes go into the image as
    they are on disk) must not inherit it, and the caller's umask is given back."""
    previous = os.umask(0o077)
    try:
        build.populate_rootfs(tmp_path / "root")
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(previous)
    root = tmp_path / "root"

    def mode(rel: str) -> int:
        return stat.S_IMODE((root / rel).lstat().st_mode)

    assert mode("etc") == mode("usr/bin") == mode("var/lib/pocketstack") == 0o755
    assert mode("etc/passwd") == mode("etc/hostname") == 0o644
    assert mode("etc/init.d/rcS") == mode("bin/busybox") == 0o755
    assert mode("root") == 0o700 and mode("etc/shadow") == 0o600 and mode("tmp") == 0o1777
