"""Snapshot seconds of a running real guest, beside the floor, printed as a table.

    .venv/bin/python bench/bench_snapshot.py [--rounds 3]

A ``pocketstack up`` with the QEMU driver in a temporary state directory on 127.0.0.1 boots
one m1.tiny cirros server (its image says ``hw_qemu_guest_agent=yes``, so each snapshot is
quiesced through the guest agent) and waits for its ready line; then, ``--rounds`` times,
``createImage`` is timed from the POST to the new image being ``active`` in Glance and the
server showing no task (what ``openstack server image create --wait`` waits for). The
snapshot instance-action event's details say whether it was quiesced.

The floor, in the same run: ``qemu-img convert -U -O qcow2`` of the running guest's root
disk (its overlay and the base image flattened into one qcow2, the copy pocketstack makes)
into a temporary file: what a snapshot costs without the freeze, the API, the upload to
Glance and the workflow around them. The server, the images, the cloud and its directory
are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cloud import Cloud, print_figures  # noqa: E402  (the same cloud handling)
from bench_power import _boot  # noqa: E402

from tests.helpers import free_port  # noqa: E402  (bench_cloud put the repository on the path)


def _snapshot(cloud: Cloud, h: dict[str, str], sid: str, name: str) -> tuple[float, str]:
    """``(seconds from the createImage POST to the image active and the server without a
    task, the new image's id)``."""
    url = f"{cloud.url}/compute/v2.1/servers/{sid}"
    t0 = time.monotonic()
    r = httpx.post(
        f"{url}/action",
        headers={**h, "OpenStack-API-Version": "compute 2.45"},
        json={"createImage": {"name": name}},
    )
    if r.status_code != 202:
        raise RuntimeError(f"createImage: {r.status_code} {r.text}")
    image_id = r.json()["image_id"]
    while time.monotonic() - t0 < 600:
        image = httpx.get(f"{cloud.url}/image/v2/images/{image_id}", headers=h)
        server = httpx.get(url, headers=h).json()["server"]
        if image.status_code == 200 and image.json()["status"] == "active":
            if server.get("OS-EXT-STS:task_state") is None:
                return time.monotonic() - t0, image_id
        if image.status_code == 404 or server["status"] == "ERROR":
            raise RuntimeError("createImage failed (image gone or server ERROR)")
        time.sleep(0.05)
    raise RuntimeError("createImage: not done within 600 s")


def _quiesced(cloud: Cloud, h: dict[str, str], sid: str) -> str:
    """The newest snapshot step's details (2.84 shows them), e.g. whether it was quiesced."""
    base = f"{cloud.url}/compute/v2.1/servers/{sid}/os-instance-actions"
    h84 = {**h, "OpenStack-API-Version": "compute 2.84"}
    actions = httpx.get(base, headers=h84).json()["instanceActions"]
    newest = next(a for a in actions if a["action"] == "createImage")
    events = httpx.get(f"{base}/{newest['request_id']}", headers=h84).json()["instanceAction"]
    details = [e.get("details") or "" for e in events["events"] if "snapshot" in e["event"]]
    return "; ".join(d for d in details if d) or "(no details)"


def _floor(state_dir: Path, sid: str, tmp: Path) -> float:
    """Seconds of a ``qemu-img convert -U -O qcow2`` of the running guest's root disk."""
    disks = [p for p in state_dir.rglob(f"{sid}/disk") if p.is_file()]
    if not disks:
        raise RuntimeError(f"no root disk of {sid} under {state_dir}")
    out = tmp / "floor.qcow2"
    t0 = time.monotonic()
    subprocess.run(
        ["qemu-img", "convert", "-U", "-O", "qcow2", str(disks[0]), str(out)], check=True
    )
    seconds = time.monotonic() - t0
    out.unlink()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pocketstack-bench-snapshot-"))
    cloud = Cloud(tmp / "state", "qemu", free_port())
    ours: list[float] = []
    floor: list[float] = []
    detail = ""
    try:
        cloud.start()
        h = {"X-Auth-Token": cloud.token("demo")}
        sid = _boot(cloud, h)
        for n in range(args.rounds):
            floor.append(_floor(cloud.state_dir, sid, tmp))
            seconds, image_id = _snapshot(cloud, h, sid, f"bench-snap-{n}")
            ours.append(seconds)
            detail = _quiesced(cloud, h, sid)
            httpx.delete(f"{cloud.url}/image/v2/images/{image_id}", headers=h)
        httpx.delete(f"{cloud.url}/compute/v2.1/servers/{sid}", headers=h)
    finally:
        cloud.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def fig(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"

    rows = [
        (
            f"qemu-img convert of the running disk, the floor (median of {len(floor)})",
            "",
            fig(floor),
        ),
        (f"createImage -> image active, server no task (median of {len(ours)})", "", fig(ours)),
        (
            "ratio to the floor (medians)",
            "",
            f"{statistics.median(ours) / statistics.median(floor):.1f}",
        ),
    ]
    print_figures(rows, f"{os.cpu_count()} cores, qemu (TCG), m1.tiny cirros; last event: {detail}")


if __name__ == "__main__":
    main()
