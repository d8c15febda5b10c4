"""The driver loader (``pocketstack.common.drivers``) and the import rule it exists for: a base
module never imports a concrete driver, so drivers and their bases make no import cycle."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pocketstack.common.config import Config
from pocketstack.common.drivers import (
    COMPUTE_DRIVERS,
    IMAGE_STORES,
    NETWORK_DRIVERS,
    REGISTRIES,
    Registry,
    UnknownDriver,
    check_config,
)


def _modules_after_import(module: str) -> set[str]:
    """The ``pocketstack`` modules a fresh interpreter has loaded after importing ``module``."""
    code = (
        f"import json, sys, {module}\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('pocketstack')]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.option)
def test_base_module_imports_no_concrete_driver(registry):
    base_module = registry.base.partition(":")[0]
    loaded = _modules_after_import(base_module)
    assert base_module in loaded
    concrete = {path.partition(":")[0] for path in registry.entries.values()}
    assert not concrete & loaded


def test_the_loader_imports_no_backend():
    loaded = _modules_after_import("pocketstack.common.drivers")
    backends = {p.partition(":")[0] for r in REGISTRIES for p in [r.base, *r.entries.values()]}
    assert not backends & loaded


@pytest.mark.parametrize(
    "registry,name",
    [(r, name) for r in REGISTRIES for name in r.names],
    ids=lambda v: v if isinstance(v, str) else v.option,
)
def test_every_entry_loads_a_subclass_of_its_base_named_as_registered(registry, name):
    cls = registry.load_class(name)
    module, _, attr = registry.base.partition(":")
    assert issubclass(cls, getattr(sys.modules[module], attr))
    assert cls.name == name


def test_unknown_name_is_an_error_listing_the_known_ones():
    with pytest.raises(UnknownDriver) as info:
        COMPUTE_DRIVERS.load("xen", None)
    assert str(info.value) == "unknown compute_driver 'xen': known are fake, qemu"
    assert isinstance(info.value, ValueError)  # the CLI turns it into a one-line exit
    known = "known are fake, linuxbridge, noop"
    with pytest.raises(UnknownDriver, match=f"unknown network_driver 'ovs': {known}"):
        NETWORK_DRIVERS.load_class("ovs")
    with pytest.raises(UnknownDriver, match="unknown image_store 'rbd': known are file, swift"):
        IMAGE_STORES.check("rbd")


def test_a_class_not_derived_from_the_base_is_refused():
    bad = Registry(
        option="compute_driver",
        base="pocketstack.compute.drivers.base:ComputeDriver",
        entries={"noop": "pocketstack.network.drivers.noop:NoopDriver"},
    )
    with pytest.raises(TypeError, match="is not a"):
        bad.load_class("noop")


def test_load_builds_the_driver_with_the_arguments(tmp_path):
    conf = Config.load({"state_dir": str(tmp_path)}, environ={})
    driver = COMPUTE_DRIVERS.load("fake", conf)
    assert driver.conf is conf and driver.name == "fake"


def test_check_config(tmp_path):
    conf = Config.load({"state_dir": str(tmp_path)}, environ={})
    check_config(conf)  # the defaults are all registered
    check_config(conf.replace(compute_driver="fake"))
    check_config(conf.replace(network_driver="linuxbridge"))
    with pytest.raises(UnknownDriver, match="network_driver 'ovs'"):
        check_config(conf.replace(network_driver="ovs"))
    check_config(conf.replace(image_store="swift"))
    with pytest.raises(UnknownDriver, match="image_store 'rbd'"):
        check_config(conf.replace(image_store="rbd"))
