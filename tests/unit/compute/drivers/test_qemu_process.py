"""Unit tests of the qemu driver's helpers: command line, /proc matching, disks, QMP client."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.drivers.qmp import QMPClient, QMPError


def _spec(**changes):
    spec = {
        "uuid": "u-1",
        "vcpus": 2,
        "memory_mb": 256,
        "root_gb": 1,
        "image": {"disk_format": "qcow2", "path": "/img/base"},
        "network_info": [
            {
                "port_id": "p",
                "mac_address": "fa:16:3e:00:00:01",
                "devname": "tapp",
                "vif_type": "noop",
            }
        ],
    }
    spec.update(changes)
    return spec


def _opts(cmd):
    return list(zip(cmd, cmd[1:], strict=False))


def test_command_line_q35_virtio_daemonized(tmp_path):
    paths = qp.InstancePaths(tmp_path / "u-1")
    cmd = qp.build_command(_spec(), paths, "tcg")
    opts = _opts(cmd)
    assert ("-name", "pocketstack-u-1") in opts and ("-accel", "tcg") in opts
    assert ("-M", "q35,graphics=off") in opts and ("-cpu", "max") in opts
    assert ("-smp", "2") in opts and ("-m", "256") in opts
    assert "-daemonize" in cmd and ("-pidfile", str(paths.pidfile)) in opts
    assert "virtio-blk-pci,drive=root,bootindex=0" in cmd
    assert "hubport,id=net0,hubid=0" in cmd
    nic = [a for a in cmd if a.startswith("virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01,")]
    assert nic and nic[0].endswith(",bus=bnp0")  # a root port of its own: unpluggable live
    assert "pcie-root-port,id=bnp0,bus=pcie.0,chassis=32" in cmd
    assert any("append=on" in a and str(paths.console) in a for a in cmd)
    assert "socket,id=qmp,path=qmp.sock,server=on,wait=off" in cmd


def test_command_line_iso_boots_a_cd_on_q35_ahci(tmp_path):
    spec = _spec(image={"disk_format": "iso", "path": "/img/x.iso"})
    cmd = qp.build_command(spec, qp.InstancePaths(tmp_path / "u-1"), "kvm")
    assert ("-M", "q35,graphics=off") in _opts(cmd) and ("-cpu", "host") in _opts(cmd)
    assert "ide-cd,drive=cd0,bus=ide.0,bootindex=0" in cmd
    assert "virtio-blk-pci,drive=root,bootindex=1" in cmd


def test_command_line_machine_from_hw_machine_type(tmp_path):
    paths = qp.InstancePaths(tmp_path / "u-1")
    spec = _spec(
        image={"disk_format": "iso", "path": "/x", "properties": {"hw_machine_type": "pc"}}
    )
    assert ("-M", "pc,graphics=off") in _opts(qp.build_command(spec, paths, "tcg"))
    spec["image"]["properties"]["hw_machine_type"] = "pc,accel=kvm"
    with pytest.raises(DriverError):
        qp.build_command(spec, paths, "tcg")


def test_command_line_tap_and_unknown_vif(tmp_path):
    paths = qp.InstancePaths(tmp_path / "u-1")
    vif = {"port_id": "p", "mac_address": "fa:16:3e:00:00:02", "devname": "tap1", "vif_type": "tap"}
    cmd = qp.build_command(_spec(network_info=[vif]), paths, "tcg")
    assert "tap,id=net0,ifname=tap1,script=no,downscript=no" in cmd
    with pytest.raises(DriverError):
        qp.build_command(_spec(network_info=[dict(vif, vif_type="ovs")]), paths, "tcg")


def test_guest_of_matches_only_our_state_dir():
    inst = Path("/s/instances")
    argv = [
        "/usr/bin/qemu-system-x86_64",
        "-name",
        "pocketstack-abc",
        "-pidfile",
        "/s/instances/abc/pid",
    ]
    assert qp._guest_of(argv, inst) == "abc"
    assert qp._guest_of(argv, Path("/other/instances")) is None
    assert qp._guest_of(["/bin/sleep", "-name", "pocketstack-abc"], inst) is None


def test_choose_accel_rejects_unknown():
    assert qp.choose_accel("tcg") == "tcg"
    with pytest.raises(DriverError):
        qp.choose_accel("xen")


def test_qemu_version_is_an_int():
    version, banner = qp.qemu_version()
    assert version > 2_000_000 and "QEMU" in banner


def test_root_disk_overlay_and_too_small_flavor(tmp_path):
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "2G"], check=True)
    paths = qp.InstancePaths(tmp_path)
    with pytest.raises(DriverError, match="smaller than the image"):
        qp.create_root_disk(_spec(image={"disk_format": "qcow2", "path": str(base)}), paths)
    spec = _spec(root_gb=0, image={"disk_format": "qcow2", "path": str(base)})
    qp.create_root_disk(spec, paths)
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output", "json", str(paths.disk)],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert info["virtual-size"] == 2 * 1024**3 and info["backing-filename"] == str(base)


def _qmp_server(path: Path, replies: list[list[dict]]) -> threading.Thread:
    """A one-connection QMP server answering each command line with its list of messages."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        with conn, conn.makefile("rwb") as f:
            f.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
            f.flush()
            for messages in replies:
                f.readline()
                f.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
                f.flush()
        srv.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_qmp_client_skips_events_and_raises_errors(tmp_path):
    sock = tmp_path / "q.sock"
    _qmp_server(
        sock,
        [
            [{"return": {}}],
            [{"event": "RESET"}, {"return": {"status": "running"}}],
            [{"error": {"class": "GenericError", "desc": "nope"}}],
        ],
    )
    with QMPClient(sock) as client:
        assert client.execute("query-status") == {"status": "running"}
        with pytest.raises(QMPError, match="nope"):
            client.execute("bogus")


def test_qmp_client_no_socket(tmp_path):
    with pytest.raises(QMPError):
        QMPClient(tmp_path / "missing.sock", timeout=1)


def test_kvm_needs_the_cpus_virtualization_flags(tmp_path):
    # a paravirtual KVM (kvm-pvm) opens /dev/kvm and runs the firmware, then stops guests in
    # their boot loader: without vmx/svm the driver never picks KVM
    pvm = tmp_path / "pvm"
    pvm.write_text("processor\t: 0\nflags\t\t: fpu vme de pse tsc msr sse2 hypervisor\n")
    intel = tmp_path / "intel"
    intel.write_text("processor\t: 0\nflags\t\t: fpu vme vmx sse2\n")
    amd = tmp_path / "amd"
    amd.write_text("processor\t: 0\nflags\t\t: fpu svm sse2\n")
    assert not qp.cpu_has_virtualization(str(pvm))
    assert qp.cpu_has_virtualization(str(intel))
    assert qp.cpu_has_virtualization(str(amd))
    assert not qp.cpu_has_virtualization(str(tmp_path / "missing"))
    if not qp.cpu_has_virtualization():
        assert not qp.kvm_works()
