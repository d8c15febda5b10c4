"""A real guest survives shelve, offload and unshelve (issue 10): ``pocketstack up`` with the
QEMU driver (``shelved_offload_time`` 0: a shelve offloads at once), the ``openstack`` CLI.
The guest (the project's guest image) writes and syncs a file on its root filesystem from
its user_data, whose "done" marker the guest keeps on that filesystem too (user_data runs
once per instance uuid); ``openstack server shelve --wait`` powers it off and uploads its
disk, the offload kills its QEMU and removes its directory; ``openstack server unshelve
--wait`` spawns it again from the shelve image, and the guest finds its disk as it left it:
it says its user_data already ran and the file is there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningCloud, launch_cloud, qemu_pids
from tests.helpers import SHELVE_SCRIPT, wait_console, wait_until

ADMIN = "pocketstack-admin"


@pytest.fixture
def cloud(tmp_path) -> Iterator[RunningCloud]:
    """A cloud with the qemu driver; ``launch_cloud`` kills its guests afterwards."""
    with launch_cloud(tmp_path / "state", driver="qemu") as running:
        yield running


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_shelved_and_offloaded_guest_comes_back_with_its_disk(cloud, tmp_path: Path):
    script = tmp_path / "shelve.sh"
    script.write_text(SHELVE_SCRIPT)
    boot = ["--flavor", "m1.tiny", "--network", "private", "--user-data", str(script)]
    made = cloud.openstack("server", "create", "--image", "cirros", *boot, "shelfsrc")
    cloud.wait_for_server("shelfsrc", "ACTIVE", timeout=120)
    wait_console(cloud, "shelfsrc", r"SHELVETEST-WROTE written-by-shelfsrc")
    instance_dir = Path(cloud.state_dir, "instances", made["id"])
    assert qemu_pids(Path(cloud.state_dir)) and instance_dir.is_dir()
    addresses = cloud.openstack("server", "show", "shelfsrc")["addresses"]

    cloud.openstack("server", "shelve", "--wait", "shelfsrc", json_output=False)
    admin = cloud.sdk(ADMIN)
    wait_until(
        lambda: admin.compute.get_server(made["id"]).status == "SHELVED_OFFLOADED",
        120,
        "the offload",
    )
    shelved = admin.compute.get_server(made["id"])
    assert not shelved.compute_host
    assert not qemu_pids(Path(cloud.state_dir)) and not instance_dir.exists()
    image = cloud.openstack("image", "show", "shelfsrc-shelved")
    assert image["status"] == "active" and image["disk_format"] == "qcow2"

    cloud.openstack("server", "unshelve", "--wait", "shelfsrc", json_output=False)
    back = cloud.wait_for_server("shelfsrc", "ACTIVE", timeout=120)
    assert back["id"] == made["id"]
    assert back["addresses"] == addresses
    wait_console(cloud, "shelfsrc", rf"user_data already ran for instance {made['id']}")
    wait_until(
        lambda: not [i for i in admin.image.images() if i.name == "shelfsrc-shelved"],
        60,
        "the shelve image to be deleted",
    )
