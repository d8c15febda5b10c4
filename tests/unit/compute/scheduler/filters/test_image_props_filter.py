"""ImagePropertiesFilter: architecture, hypervisor type and vm mode of the image."""

import pytest

from pocketstack.compute.scheduler.filters.image_props_filter import ImagePropertiesFilter
from pocketstack.compute.scheduler.host_state import HostState, arch_from_cpu_info

QEMU_X86 = HostState("h", "h", hypervisor_type="QEMU", architecture="x86_64")


def passes(host, props):
    return ImagePropertiesFilter().host_passes(host, {"image_properties": props})


def test_image_without_properties_runs_anywhere():
    assert passes(QEMU_X86, {})
    assert ImagePropertiesFilter().host_passes(QEMU_X86, {})


@pytest.mark.parametrize(
    "props",
    [
        {"hw_architecture": "x86_64"},
        {"architecture": "amd64"},
        {"hw_architecture": "X86_64"},
    ],
)
def test_matching_architecture_passes(props):
    assert passes(QEMU_X86, props)


@pytest.mark.parametrize(
    "props",
    [
        {"hw_architecture": "aarch64"},
        {"architecture": "arm64"},
        {"hw_architecture": "vax"},
    ],
)
def test_other_architecture_fails(props):
    assert not passes(QEMU_X86, props)


def test_host_of_unknown_architecture_accepts_any():
    fake = HostState("h", "h", hypervisor_type="fake", architecture=arch_from_cpu_info("fake"))
    assert passes(fake, {"hw_architecture": "aarch64"})


@pytest.mark.parametrize("props", [{"img_hv_type": "qemu"}, {"hypervisor_type": "QEMU"}])
def test_matching_hypervisor_type_passes(props):
    assert passes(QEMU_X86, props)


def test_other_hypervisor_type_fails():
    assert not passes(QEMU_X86, {"img_hv_type": "xen"})


def test_vm_mode_hvm_only():
    assert passes(QEMU_X86, {"hw_vm_mode": "hvm"})
    assert not passes(QEMU_X86, {"vm_mode": "xen"})


def test_arch_from_cpu_info():
    assert arch_from_cpu_info("x86_64 (QEMU emulator version 8.2.2)") == "x86_64"
    assert arch_from_cpu_info("fake") is None
    assert arch_from_cpu_info("") is None
