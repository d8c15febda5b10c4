"""The default volume type lands on the configured driver's backend: a fake-driver cloud
(``pocketstack up --volume-driver fake``, what the interop run uses) once made
``__DEFAULT__`` with ``volume_backend_name = file``, which its ``fake`` backend never
passes, so every volume went to ``error``."""

from __future__ import annotations

import pytest

from pocketstack.common.config import Config
from pocketstack.service import Cloud


@pytest.mark.parametrize("driver", ["file", "fake"])
def test_default_type_names_the_configured_drivers_backend(tmp_path, db, bus, driver):
    conf = Config.load(
        {"state_dir": str(tmp_path / "state"), "compute_driver": "fake", "volume_driver": driver},
        environ={},
    )
    cloud = Cloud(conf, db, bus)
    cloud.volume.bootstrap()
    made = cloud.volume.types.ensure_default()
    assert made.name == "__DEFAULT__"
    assert made.extra_specs == {"volume_backend_name": driver}
