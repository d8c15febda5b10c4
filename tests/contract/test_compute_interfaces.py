"""The drivers' interfaces and diagnostics (``ComputeDriver.attach_interface``,
``detach_interface``, ``get_diagnostics`` in ``drivers.base``), run against every driver
with the contract harness of ``test_compute_drivers``: a NIC plugged into a running guest
counts in its diagnostics, the same port twice is refused, unplugging it (twice) leaves the
guest as it booted. Under QEMU the figures are real: vCPU time, the flavor's memory."""

from __future__ import annotations

import pytest

from pocketstack.compute.drivers.base import DriverError
from tests.contract import test_compute_drivers as contract

#: the contract suite's session fixture of the guest image, shared
guest_image = contract.guest_image


@pytest.fixture(params=contract.DRIVERS)
def h(request, tmp_path):
    """The contract harness (``test_compute_drivers.Harness``) of each driver."""
    harness = contract.Harness(request.param, tmp_path / "state", request)
    try:
        yield harness
    finally:
        harness.cleanup()


def _vif(spec: dict) -> dict:
    """A second port for the guest of ``spec`` (noop: no tap on the host)."""
    vif = dict(spec["network_info"][0])
    vif.update(
        port_id="0a1b2c3d-4444-5555-6666-" + spec["uuid"][:12],
        mac_address="fa:16:3e:aa:" + spec["uuid"][:2] + ":" + spec["uuid"][2:4],
        devname="tap" + spec["uuid"][24:35],
    )
    return vif


def test_interface_attach_and_detach_show_in_diagnostics(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.wait_console(spec["uuid"], h.ready_line(spec), timeout=contract.BOOT_TIMEOUT * 3)
    booted = h.driver.get_diagnostics(spec["uuid"])
    assert booted["num_nics"] == 1 and booted["num_cpus"] == 1
    assert booted["memory_details"]["maximum"] == 128
    assert [n["mac_address"] for n in booted["nic_details"]] == [
        spec["network_info"][0]["mac_address"]
    ]
    assert all(c["time"] is not None and c["time"] >= 0 for c in booted["cpu_details"])

    vif = _vif(spec)
    h.driver.attach_interface(spec["uuid"], vif)
    plugged = h.driver.get_diagnostics(spec["uuid"])
    assert [n["mac_address"] for n in plugged["nic_details"]] == [
        spec["network_info"][0]["mac_address"],
        vif["mac_address"],
    ]
    with pytest.raises(DriverError):
        h.driver.attach_interface(spec["uuid"], vif)

    h.driver.detach_interface(spec["uuid"], vif["port_id"])
    h.driver.detach_interface(spec["uuid"], vif["port_id"])  # gone already: fine
    assert h.driver.get_diagnostics(spec["uuid"])["num_nics"] == 1
