"""Unit tests for the live ISO of the guest (pocketstack.guest.build.build_iso), read back with
pycdlib: layout, volume label, El Torito boot record, ISOLINUX config, the live initramfs."""

from __future__ import annotations

import gzip
import io

import pycdlib
import pytest

from pocketstack.guest import build


def _need_host():
    try:
        build.check_host(live=True)
    except build.GuestBuildError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def live_iso(tmp_path_factory):
    _need_host()
    dest = tmp_path_factory.mktemp("iso") / "live.iso"
    assert build.build_iso(dest) == dest
    iso = pycdlib.PyCdlib()
    iso.open(str(dest))
    yield iso
    iso.close()


def _read(iso, rr_path: str) -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, rr_path=rr_path)
    return out.getvalue()


def _cpio_members(archive: bytes) -> dict[str, tuple[int, bytes]]:
    """{name: (mode, data)} of a newc cpio archive."""
    members, pos = {}, 0
    while True:
        assert archive[pos : pos + 6] == b"070701"
        fields = [int(archive[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        pos += 110
        name = archive[pos : pos + namesize - 1].decode()
        pos += namesize + (-(110 + namesize) % 4)
        data = archive[pos : pos + size]
        pos += size + (-size % 4)
        if name == "TRAILER!!!":
            return members
        members[name] = (mode, data)


def test_iso9660_names_are_level_1():
    assert build.iso9660_name("/isolinux/isolinux.bin") == "/ISOLINUX/ISOLINUX.BIN;1"
    assert build.iso9660_name("/vmlinuz") == "/VMLINUZ.;1"
    assert build.iso9660_name("/initrd.gz") == "/INITRD.GZ;1"


def test_iso_layout_label_and_el_torito(live_iso):
    assert live_iso.pvd.volume_identifier.decode().strip() == build.ISO_LABEL
    assert build.ISO_LABEL.lower() != "config-2"
    names = {
        child.rock_ridge.name().decode()
        for child in live_iso.list_children(rr_path="/isolinux")
        if child.rock_ridge and not child.is_dot() and not child.is_dotdot()
    }
    assert {"isolinux.bin", "ldlinux.c32", "isolinux.cfg", "boot.cat"} <= names
    assert _read(live_iso, "/vmlinuz") == build.find_kernel()[0].read_bytes()
    assert live_iso.eltorito_boot_catalog is not None
    entry = live_iso.eltorito_boot_catalog.initial_entry
    assert entry.boot_indicator == 0x88 and entry.boot_media_type == 0  # bootable, no emulation
    boot = live_iso.get_record(rr_path="/isolinux/isolinux.bin")
    assert entry.get_rba() == boot.extent_location()
    assert entry.sector_count == 4


def test_isolinux_cfg_boots_live_on_the_serial_console(live_iso):
    cfg = _read(live_iso, "/isolinux/isolinux.cfg").decode()
    assert "SERIAL 0 115200" in cfg and "TIMEOUT 0" in cfg
    assert "APPEND pocketstack.live console=ttyS0" in cfg and "root=" not in cfg
    assert "LINUX /vmlinuz" in cfg and "INITRD /initrd.gz" in cfg


def test_live_initramfs_carries_the_guest_userland_and_the_same_scripts(live_iso):
    members = _cpio_members(gzip.decompress(_read(live_iso, "/initrd.gz")))
    assert members["init"][1] == (build.FILES / "initramfs-init").read_bytes()
    assert members["etc/init.d/rcS"][1] == (build.FILES / "rcS").read_bytes()
    assert members["etc/inittab"][1] == (build.FILES / "inittab").read_bytes()
    assert members["dev/console"][0] == 0o20600
    assert members["sbin/init"][0] & 0o170000 == 0o120000  # busybox applet symlink
    assert "usr/sbin/dropbear" in members and "bin/busybox" in members
    assert "rootfs" in members["etc/fstab"][1].decode()
    assert any(name.startswith("lib/modules/isofs.ko") for name in members)
    # the live branch of the shared init runs /sbin/init from RAM, no switch_root
    assert "pocketstack.live" in members["init"][1].decode()


def test_ensure_iso_reuses_the_cached_iso(tmp_path):
    cached = tmp_path / f"{build.ISO_PREFIX}{build.recipe_hash()}.iso"
    cached.write_bytes(b"already built")
    assert build.ensure_iso(tmp_path) == cached
    assert cached.read_bytes() == b"already built"
