"""Block storage figures, printed as a table.

    .venv/bin/python bench/bench_volume.py [--mib 256] [--api]

1. seconds to create a 1 GiB thin volume: with ``--api`` through a ``pocketstack up`` cloud
   (``POST /volume/v3/{project}/volumes`` until ``available``, fake compute driver), else
   the file driver's ``create_volume`` on this host (what the volume agent runs);
2. backup and restore MB/s of a volume of ``--mib`` MiB (256) holding real data: the bytes
   of this machine's ``/usr`` files (programs, libraries, text: compressible as a disk's
   are), through ``BackupService`` into a file store (32 MiB chunks, zlib level 1, two
   worker threads), restore into a new sparse file, checked byte for byte;
3. an incremental backup after 1% of the volume's 32 KiB blocks changed: seconds and how
   many bytes it stored, against the full backup's;
4. with ``--attach``: a real guest (``pocketstack up --compute-driver qemu``, TCG here) and a
   1 GiB volume: seconds from ``POST /servers/{id}/os-volume_attachments`` to the volume
   ``in-use``, then the guest's sequential write of 64 MiB (``dd bs=1M conv=fsync``, timed
   with ``/proc/uptime`` by a user_data script, read from the console) onto the volume
   (iSCSI through QEMU's libiscsi to tgtd) against onto its local root disk (qcow2
   overlay), as a ratio. Without ``--attach`` both are printed "not measured".

Every temporary directory (and the cloud, with ``--api``) the bench makes is removed at the
end, also on failure.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository
from bench_cloud import Cloud, _ids, print_figures  # noqa: E402  (same directory)

from pocketstack.volume.backup import BackupService, FileBackupStore  # noqa: E402
from tests.helpers import free_port  # noqa: E402

MIB = 1024 * 1024
Row = tuple[str, str, str]


def real_data(path: Path, size: int) -> None:
    """Fill ``path`` with ``size`` bytes of this machine's ``/usr`` files, in path order."""
    written = 0
    with open(path, "wb") as out:
        for root, _dirs, files in sorted(os.walk("/usr")):
            for name in sorted(files):
                file = Path(root, name)
                if file.is_symlink() or not file.is_file():
                    continue
                try:
                    data = file.read_bytes()[: size - written]
                except OSError:
                    continue
                out.write(data)
                written += len(data)
                if written >= size:
                    return
    raise RuntimeError(f"/usr holds less than {size} bytes")


def thin_create_driver(tmp: Path) -> Row:
    """Figure 1 without a cloud: the file driver's ``create_volume`` of 1 GiB."""
    from pocketstack.volume.drivers.file import FileDriver

    conf = types.SimpleNamespace(volume_format="raw", state_dir=str(tmp))
    driver = FileDriver(conf, tmp / "pool")
    t0 = time.monotonic()
    driver.create_volume("bench-thin", 1)
    seconds = time.monotonic() - t0
    used = os.stat(driver.volume_path("bench-thin")).st_blocks * 512
    return ("volume create 1 GiB thin (file driver)", "< 1 s", f"{seconds:.3f} s, {used} B used")


def thin_create_api(tmp: Path) -> Row:
    """Figure 1 through a ``pocketstack up`` cloud: POST until ``available``."""
    cloud = Cloud(tmp / "cloud", "fake", free_port())
    try:
        cloud.start()
        token = cloud.token("admin")
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.0"}
        with httpx.Client(base_url=cloud.url, headers=headers, timeout=30) as http:
            project = http.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": token})
            project_id = project.json()["token"]["project"]["id"]
            base = f"/volume/v3/{project_id}/volumes"
            t0 = time.monotonic()
            made = http.post(base, json={"volume": {"size": 1, "name": "bench-thin"}})
            made.raise_for_status()
            volume_id = made.json()["volume"]["id"]
            status = made.json()["volume"]["status"]
            while status == "creating" and time.monotonic() - t0 < 60:
                time.sleep(0.01)
                status = http.get(f"{base}/{volume_id}").json()["volume"]["status"]
            seconds = time.monotonic() - t0
        return (
            "volume create 1 GiB thin (API to available)",
            "< 1 s",
            f"{seconds:.3f} s ({status})",
        )
    finally:
        cloud.stop()


def backup_figures(tmp: Path, mib: int) -> list[Row]:
    """Figures 2 and 3: full backup, restore, incremental of a volume of real data."""
    size = mib * MIB
    volume = tmp / "volume"
    real_data(volume, size)
    service = BackupService(None, types.SimpleNamespace(), store=FileBackupStore(tmp / "store"))
    backup = {"id": "bench-full", "volume_id": "bench", "created_at": None}
    t0 = time.monotonic()
    full = service.create(backup, str(volume), None)
    backup_s = time.monotonic() - t0
    stored = sum(f.stat().st_size for f in (tmp / "store").rglob("*") if f.is_file())

    target = tmp / "restored"
    with open(target, "wb") as f:
        f.truncate(size)
    ref = {**backup, "container": full["container"], "service_metadata": full["service_metadata"]}
    t0 = time.monotonic()
    service.restore(ref, str(target))
    restore_s = time.monotonic() - t0
    if target.read_bytes() != volume.read_bytes():
        raise RuntimeError("restored volume differs from the source")

    blocks = size // service.block_size
    rng = random.Random(8)
    with open(volume, "r+b") as f:
        for index in rng.sample(range(blocks), max(1, blocks // 100)):
            f.seek(index * service.block_size)
            f.write(rng.randbytes(4096))
    t0 = time.monotonic()
    incr = service.create({"id": "bench-incr", "volume_id": "bench"}, str(volume), ref)
    incr_s = time.monotonic() - t0
    incr_dir = tmp / "store" / incr["container"] / incr["service_metadata"]["prefix"]
    incr_bytes = sum(f.stat().st_size for f in incr_dir.iterdir())
    return [
        (
            f"backup {mib} MiB of real data (full)",
            "> 50 MB/s",
            f"{size / MIB / backup_s:.0f} MB/s ({backup_s:.2f} s, stored {stored / MIB:.0f} MiB, "
            f"{full['object_count']} objects)",
        ),
        (
            f"restore {mib} MiB to a new thin volume",
            "> 50 MB/s",
            f"{size / MIB / restore_s:.0f} MB/s ({restore_s:.2f} s, byte-identical)",
        ),
        (
            "incremental backup after 1% of blocks changed",
            "< full",
            f"{incr_s:.2f} s, stored {incr_bytes / MIB:.1f} MiB in {incr['object_count']} objects",
        ),
    ]


#: the guest's user_data: once the volume's disk (serial ``KEY``) appears, write 64 MiB onto
#: it, then 64 MiB into a file on the root disk, and print the uptimes around each
GUEST_SCRIPT = r"""#!/bin/sh
(
while true; do
    for d in /sys/block/vd*; do
        if [ "$(cat "$d/serial" 2>/dev/null)" = "KEY" ]; then dev=${d##*/}; fi
    done
    [ -n "$dev" ] && break
    sleep 0.2
done
a=$(cut -d' ' -f1 /proc/uptime)
dd if=/dev/zero of=/dev/$dev bs=1M count=64 conv=fsync 2>/dev/null
b=$(cut -d' ' -f1 /proc/uptime)
echo "VOLBENCH-VOLUME $a $b"
a=$(cut -d' ' -f1 /proc/uptime)
dd if=/dev/zero of=/root/volbench bs=1M count=64 conv=fsync 2>/dev/null
b=$(cut -d' ' -f1 /proc/uptime)
rm -f /root/volbench
echo "VOLBENCH-ROOT $a $b"
) &
"""


def attach_figures(tmp: Path) -> list[Row]:
    """Figure 4: attach seconds and the guest's write ratio, volume / root disk."""
    cloud = Cloud(tmp / "qemu", "qemu", free_port())
    try:
        cloud.start()
        token = cloud.token("demo")
        flavor, image, net = _ids(cloud, token)
        http = httpx.Client(base_url=cloud.url, headers={"X-Auth-Token": token}, timeout=60)
        project = http.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": token})
        volumes = f"/volume/v3/{project.json()['token']['project']['id']}/volumes"
        made = http.post(volumes, json={"volume": {"size": 1, "name": "bench-attach"}})
        volume_id = made.raise_for_status().json()["volume"]["id"]

        def volume_status() -> str:
            return str(http.get(f"{volumes}/{volume_id}").json()["volume"]["status"])

        wait(lambda: volume_status() == "available")
        script = GUEST_SCRIPT.replace("KEY", volume_id[:20]).encode()
        body = {
            "name": "benchvm",
            "imageRef": image,
            "flavorRef": flavor,
            "networks": [{"uuid": net}],
            "user_data": base64.b64encode(script).decode(),
        }
        server = http.post("/compute/v2.1/servers", json={"server": body})
        server_id = server.raise_for_status().json()["server"]["id"]
        wait(lambda: "pocketstack guest benchvm ready" in console(http, server_id), 300)
        t0 = time.monotonic()
        http.post(
            f"/compute/v2.1/servers/{server_id}/os-volume_attachments",
            json={"volumeAttachment": {"volumeId": volume_id}},
        ).raise_for_status()
        wait(lambda: volume_status() == "in-use")
        attach_s = time.monotonic() - t0
        log = wait(lambda: done_console(http, server_id), 300)
        spans = {
            m.group(1): float(m.group(3)) - float(m.group(2))
            for m in re.finditer(r"VOLBENCH-(\w+) ([\d.]+) ([\d.]+)", log)
        }
        vol_mb, root_mb = 64 / spans["VOLUME"], 64 / spans["ROOT"]
        http.delete(f"/compute/v2.1/servers/{server_id}")
        return [
            ("attach a volume to a running guest (API to in-use)", "< 5 s", f"{attach_s:.2f} s"),
            (
                "guest write, volume / local root disk",
                "> 0.5",
                f"{vol_mb / root_mb:.2f} ({vol_mb:.0f} MB/s over iSCSI, {root_mb:.0f} MB/s local)",
            ),
        ]
    finally:
        cloud.stop()


def console(http: httpx.Client, server_id: str) -> str:
    """The guest's console log (Nova's ``os-getConsoleOutput``)."""
    r = http.post(
        f"/compute/v2.1/servers/{server_id}/action", json={"os-getConsoleOutput": {"length": 200}}
    )
    return str(r.json()["output"]) if r.status_code == 200 else ""


def done_console(http: httpx.Client, server_id: str) -> str:
    """The console log once the guest printed both figures, else ``""``."""
    out = console(http, server_id)
    return out if "VOLBENCH-ROOT" in out else ""


def wait(check: Any, timeout: float = 120) -> Any:
    """Poll ``check`` until it returns something truthy; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="size of the backed-up volume")
    parser.add_argument("--api", action="store_true", help="figure 1 through pocketstack up")
    parser.add_argument("--attach", action="store_true", help="figure 4 with a real guest")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-volume-"))
    try:
        rows = [thin_create_api(tmp) if args.api else thin_create_driver(tmp)]
        rows += backup_figures(tmp, args.mib)
        if args.attach:
            rows += attach_figures(tmp)
        else:
            rows.append(("attach a volume to a running guest", "< 5 s", "not measured"))
            rows.append(("guest write, volume / local root disk", "> 0.5", "not measured"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_figures(rows, f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
