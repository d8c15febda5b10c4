"""The volume scheduler: filters (zone, type, thin-aware capacity) and the capacity weigher
over the cinder-volume rows in the database."""

from __future__ import annotations

import datetime as dt

import pytest

from pocketstack.common.db import utcnow
from pocketstack.volume import exceptions as exc
from pocketstack.volume.models import Volume, VolumeService
from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest
from pocketstack.volume.scheduler.filters.capacity import CapacityFilter
from pocketstack.volume.scheduler.filters.volume_type import VolumeTypeFilter


def _service(s, host, zone="nova", age=0.0, disabled=False, **caps):
    now = utcnow() - dt.timedelta(seconds=age)
    base = {
        "total_capacity_gb": 10.0,
        "free_capacity_gb": 10.0,
        "thin_provisioning_support": True,
        "max_over_subscription_ratio": 2.0,
        "volume_backend_name": "file",
    }
    s.add(
        VolumeService(
            host=host,
            binary="cinder-volume",
            availability_zone=zone,
            backend=f"{host}@file",
            capabilities={**base, **caps},
            disabled=disabled,
            created_at=now,
            updated_at=now,
        )
    )


def test_the_backend_with_most_room_wins_and_its_volumes_count(cloud):
    with cloud.db.transaction() as s:
        _service(s, "a")
        _service(s, "b", total_capacity_gb=20.0)
        s.flush()
        assert cloud.volume.scheduler.select(s, 5, "nova", {}) == "b@file#file"
        s.add(Volume(project_id="p", size=30, host="b@file#file", status="available"))
        s.flush()
        assert cloud.volume.scheduler.select(s, 5, "nova", {}) == "a@file#file"


def test_down_disabled_and_other_zone_backends_are_skipped(cloud):
    with cloud.db.transaction() as s:
        _service(s, "old", age=3600)
        _service(s, "off", disabled=True)
        _service(s, "far", zone="az2")
        s.flush()
        with pytest.raises(exc.NoValidBackend, match="AvailabilityZoneFilter"):
            cloud.volume.scheduler.select(s, 1, "nova", {})
        assert cloud.volume.scheduler.select(s, 1, "az2", {}) == "far@file#file"


def test_no_backend_at_all_is_a_clear_error(cloud):
    with cloud.db.transaction() as s, pytest.raises(exc.NoValidBackend, match="No volume service"):
        cloud.volume.scheduler.select(s, 1, None, {})


def _backend(**caps):
    return BackendState("h", "h@file", "file", "nova", caps)


def test_capacity_filter_thick_and_thin():
    flt = CapacityFilter(default_ratio=20.0)
    thick = _backend(total_capacity_gb=10, free_capacity_gb=4, thin_provisioning_support=False)
    assert flt.backend_passes(thick, VolumeRequest(4, None))
    assert not flt.backend_passes(thick, VolumeRequest(5, None))
    thin = _backend(
        total_capacity_gb=10,
        free_capacity_gb=1,
        thin_provisioning_support=True,
        max_over_subscription_ratio=3,
    )
    thin.provisioned_gb = 25
    assert flt.backend_passes(thin, VolumeRequest(5, None))
    assert not flt.backend_passes(thin, VolumeRequest(6, None))
    full = _backend(total_capacity_gb=10, free_capacity_gb=0, thin_provisioning_support=True)
    assert not flt.backend_passes(full, VolumeRequest(1, None))


def test_volume_type_filter_matches_the_backend_name():
    flt = VolumeTypeFilter()
    backend = _backend(volume_backend_name="file", thin_provisioning_support=True)
    assert flt.backend_passes(backend, VolumeRequest(1, None, {"volume_backend_name": "file"}))
    assert not flt.backend_passes(backend, VolumeRequest(1, None, {"volume_backend_name": "x"}))
    thin = {"capabilities:thin_provisioning_support": "<is> True"}
    assert flt.backend_passes(backend, VolumeRequest(1, None, thin))
    assert flt.backend_passes(backend, VolumeRequest(1, None, {"unrelated": "x"}))
