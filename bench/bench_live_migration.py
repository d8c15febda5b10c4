"""Live-migration seconds and downtime of a 256 MiB guest, pocketstack against plain QEMU.

    .venv/bin/python bench/bench_live_migration.py [--skip-cloud]

1. The floor, by hand in this run: two plain ``qemu-system-x86_64`` processes on 127.0.0.1
   (the project's guest image, ``-m 256``, the accelerator pocketstack would pick), the
   source booted to its ready line, then QMP ``migrate`` to the other started with
   ``-incoming tcp:...``: once memory only (both open the same disk: shared storage), once
   with the ``block`` capability and ``block-incremental`` (the destination has its own
   overlay on the same image: what pocketstack's block migration does). Total seconds and
   downtime (ms) from ``query-migrate`` (``total-time``, ``downtime``).
2. pocketstack: a lab of two hosts (``pocketstack up --hosts 2``), an m1.tiny (256 MiB)
   server booted on host1 to its ready line, ``os-migrateLive`` to host2 with
   ``block_migration: auto``; seconds from the POST until the server shows host2 with no
   task, as a client polling every 100 ms sees it, and QEMU's total and downtime from the
   ``compute_live_migration`` event's details. Twice, in two labs: block migration (each lab
   host has its own instance directory), and memory only (``--shared-instance-storage``:
   both hosts keep their guests in one directory).

Ratios pocketstack / floor are printed. Everything made is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cloud import Cloud, _ids, print_figures  # noqa: E402

from pocketstack.bootstrap import guest_cache_dir  # noqa: E402
from pocketstack.compute.drivers import qemu_process as qp  # noqa: E402
from pocketstack.compute.drivers.qmp import QMPClient, QMPError  # noqa: E402
from pocketstack.guest.build import ensure_image  # noqa: E402
from tests.helpers import free_port  # noqa: E402

MEMORY_MB = 256
READY = "pocketstack guest"


# ------------------------------------------------------------------ the floor (plain QEMU)


def _qemu(workdir: Path, name: str, disk: Path, extra: list[str]) -> subprocess.Popen:
    cmd = [
        qp.QEMU, "-name", name, "-M", "q35", "-accel", qp.choose_accel("auto"),
        "-cpu", "max", "-m", str(MEMORY_MB), "-nodefaults", "-display", "none",
        "-drive", f"file={disk},if=none,id=root,format=qcow2,cache=writeback",
        "-device", "virtio-blk-pci,drive=root",
        "-chardev", f"socket,id=qmp,path={name}.qmp,server=on,wait=off",
        "-mon", "chardev=qmp,mode=control",
        "-serial", f"file:{name}.log", *extra,
    ]  # fmt: skip
    return subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def _qmp(path: Path, command: str, **args: Any) -> Any:
    with QMPClient(path) as client:
        return client.execute(command, args or None)


def _overlay(base: Path, path: Path) -> None:
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(path)],
        check=True,
    )


def floor(workdir: Path, base: Path, block: bool) -> tuple[float, int]:
    """One plain QEMU migration on loopback: (total seconds, downtime ms)."""
    src_disk, dst_disk = workdir / "src.qcow2", workdir / "dst.qcow2"
    for path in (src_disk, dst_disk):
        path.unlink(missing_ok=True)
    _overlay(base, src_disk)
    if block:
        _overlay(base, dst_disk)
    port = free_port()
    procs = [_qemu(workdir, "src", src_disk, [])]
    try:
        _wait(lambda: READY in _text(workdir / "src.log"), 300, "the source's ready line")
        dst = dst_disk if block else src_disk
        procs.append(_qemu(workdir, "dst", dst, ["-incoming", f"tcp:127.0.0.1:{port}"]))
        _wait(lambda: _listening(workdir / "dst.qmp", procs[-1]), 60, "the destination's listener")
        src = workdir / "src.qmp"
        _qmp(
            src, "migrate-set-capabilities", capabilities=[{"capability": "block", "state": block}]
        )
        params: dict[str, Any] = {"max-bandwidth": 8 * 1024**3}
        if block:
            params["block-incremental"] = True
        _qmp(src, "migrate-set-parameters", **params)
        _qmp(src, "migrate", uri=f"tcp:127.0.0.1:{port}")
        info = _wait(
            lambda: (lambda i: i if i.get("status") in ("completed", "failed") else None)(
                _qmp(src, "query-migrate")
            ),
            600,
            "the migration",
        )
        if info["status"] != "completed":
            raise RuntimeError(f"plain migration failed: {info}")
        return info["total-time"] / 1000, int(info["downtime"])
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for name in ("src", "dst"):
            (workdir / f"{name}.qmp").unlink(missing_ok=True)
            (workdir / f"{name}.log").unlink(missing_ok=True)


def _listening(qmp: Path, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"destination QEMU ended: {proc.stderr.read() if proc.stderr else ''}")
    try:  # QMP answers once the main loop runs: -incoming listens by then
        return _qmp(qmp, "query-status").get("status") == "inmigrate"
    except (OSError, QMPError):
        return False


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# ------------------------------------------------------------------ pocketstack (lab)


class LabCloud(Cloud):
    stop_timeout = 120.0

    def __init__(self, state_dir: Path, port: int, prefix: str, shared: bool = False):
        super().__init__(state_dir, "qemu", port)
        self.prefix = prefix
        self.shared = shared

    def up_args(self) -> list[str]:
        shared = ["--shared-instance-storage"] if self.shared else []
        return ["--hosts", "2", "--lab-prefix", self.prefix, *shared]


def pocketstack_move(tmp: Path, shared: bool) -> tuple[float, float, int]:
    """(client seconds, QEMU total seconds, downtime ms) of one live migration in a lab,
    block migration or (``shared``) memory only on shared instance storage."""
    from pocketstack.lab import Lab, random_prefix

    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    cloud = LabCloud(tmp / ("state-shared" if shared else "state"), free_port(), prefix, shared)
    try:
        cloud.start()
        h = {"X-Auth-Token": cloud.token("admin"), "OpenStack-API-Version": "compute 2.84"}
        compute = f"{cloud.url}/compute/v2.1"
        flavor, image, net = _ids(cloud, h["X-Auth-Token"])
        body = {"name": "lmvm", "imageRef": image, "flavorRef": flavor}
        body |= {"networks": [{"uuid": net}], "availability_zone": "nova:host1"}
        r = httpx.post(f"{compute}/servers", json={"server": body}, headers=h, timeout=30)
        r.raise_for_status()
        sid = r.json()["server"]["id"]
        _wait(lambda: _console_ready(compute, h, sid), 300, "the guest's ready line")
        t0 = time.monotonic()
        move = {"os-migrateLive": {"host": "host2", "block_migration": "auto"}}
        httpx.post(f"{compute}/servers/{sid}/action", json=move, headers=h).raise_for_status()

        def moved() -> bool:
            s = httpx.get(f"{compute}/servers/{sid}", headers=h).json()["server"]
            if s["status"] == "ERROR":
                raise RuntimeError(f"server ERROR: {s.get('fault')}")
            return s["OS-EXT-STS:task_state"] is None and s["OS-EXT-SRV-ATTR:host"] == "host2"

        deadline = time.monotonic() + 600
        while not moved():
            if time.monotonic() > deadline:
                raise RuntimeError("the live migration did not end in 600 s")
            time.sleep(0.1)
        seconds = time.monotonic() - t0
        total, downtime = _event_figures(compute, h, sid)
        httpx.delete(f"{compute}/servers/{sid}", headers=h)
        return seconds, total, downtime
    finally:
        cloud.stop()
        lab.teardown()


def _console_ready(compute: str, h: dict[str, str], sid: str) -> bool:
    r = httpx.post(
        f"{compute}/servers/{sid}/action", headers=h, json={"os-getConsoleOutput": {"length": 50}}
    )
    return r.status_code == 200 and "lmvm ready" in r.json()["output"]


def _event_figures(compute: str, h: dict[str, str], sid: str) -> tuple[float, int]:
    acts = httpx.get(f"{compute}/servers/{sid}/os-instance-actions", headers=h).json()
    req = next(a for a in acts["instanceActions"] if a["action"] == "live-migration")
    url = f"{compute}/servers/{sid}/os-instance-actions/{req['request_id']}"
    events = httpx.get(url, headers=h).json()["instanceAction"]["events"]
    details = next(e["details"] for e in events if e["event"] == "compute_live_migration")
    m = re.search(r"total (\d+) ms, downtime (\d+) ms", details or "")
    if not m:
        raise RuntimeError(f"no figures in {details!r}")
    return int(m.group(1)) / 1000, int(m.group(2))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-cloud", action="store_true", help="only the plain QEMU floor")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-lm-"))
    rows: list[tuple[str, str, str]] = []
    try:
        base = ensure_image(guest_cache_dir())
        shared_s, shared_ms = floor(tmp, base, block=False)
        block_s, block_ms = floor(tmp, base, block=True)
        rows += [
            ("plain QEMU migrate, shared (memory only): total s", "-", f"{shared_s:.2f}"),
            ("plain QEMU migrate, shared: downtime ms", "-", str(shared_ms)),
            ("plain QEMU migrate, block (incremental): total s", "-", f"{block_s:.2f}"),
            ("plain QEMU migrate, block: downtime ms", "-", str(block_ms)),
        ]
        if not args.skip_cloud:
            floors = {"block": (block_s, block_ms), "shared": (shared_s, shared_ms)}
            for kind, (floor_s, floor_ms) in floors.items():
                seconds, total, downtime = pocketstack_move(tmp, shared=kind == "shared")
                rows += [
                    (f"pocketstack live migration, {kind}: API to done s", "-", f"{seconds:.2f}"),
                    (f"pocketstack live migration, {kind}: QEMU total s", "-", f"{total:.2f}"),
                    (f"pocketstack live migration, {kind}: downtime ms", "-", str(downtime)),
                    (
                        f"ratio pocketstack / plain QEMU ({kind}, total s)",
                        "-",
                        _ratio(seconds, floor_s),
                    ),
                    (
                        f"ratio pocketstack / plain QEMU ({kind}, downtime)",
                        "-",
                        _ratio(downtime, max(floor_ms, 1)),
                    ),
                ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_figures(rows, f"{os.cpu_count()} cores, accel {qp.choose_accel('auto')}")


if __name__ == "__main__":
    main()
