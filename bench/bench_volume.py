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
4. attach to a running guest (seconds) and the guest's sequential write MB/s on a volume
   against its local root disk: printed "not measured" until Nova's attach (issue 8, V3)
   is in the tree.

Every temporary directory (and the cloud, with ``--api``) the bench makes is removed at the
end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository
from bench_cloud import Cloud, print_figures  # noqa: E402  (same directory)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="size of the backed-up volume")
    parser.add_argument("--api", action="store_true", help="figure 1 through pocketstack up")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-volume-"))
    try:
        rows = [thin_create_api(tmp) if args.api else thin_create_driver(tmp)]
        rows += backup_figures(tmp, args.mib)
        rows.append(
            ("attach a volume to a running guest", "< 5 s", "not measured (attach not in tree)")
        )
        rows.append(
            (
                "guest sequential write, volume / local root disk",
                "> 0.5",
                "not measured (attach not in tree)",
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_figures(rows, f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
