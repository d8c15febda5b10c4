"""Block storage quotas: Cinder's defaults from [volume], usage counted from the rows
(snapshots count in gigabytes), Cinder's 413s and 400s."""

from __future__ import annotations

import pytest

from pocketstack.volume import exceptions as exc
from pocketstack.volume.volumes import VolumeCreate
from tests.unit.volume.conftest import ADMIN, DEMO, wait_status


def test_defaults_are_cinders(volume_cloud):
    cloud, _agent = volume_cloud
    assert cloud.volume.quotas.defaults() == {
        "volumes": 10,
        "snapshots": 10,
        "gigabytes": 1000,
        "backups": 10,
        "backup_gigabytes": 1000,
        "per_volume_gigabytes": -1,
    }


def test_snapshots_count_in_gigabytes_and_limits_are_enforced(volume_cloud):
    cloud, _agent = volume_cloud
    cloud.volume.quotas.update(ADMIN, "p-demo", {"gigabytes": 5, "snapshots": 1})
    volume = cloud.volume.volumes.create(DEMO, VolumeCreate(size=2)).volume
    wait_status(cloud, volume.id, "available")
    cloud.volume.snapshots.create(DEMO, volume.id)
    used = cloud.volume.quotas.details(DEMO, "p-demo")
    assert (used["gigabytes"].in_use, used["snapshots"].in_use) == (4, 1)
    with pytest.raises(exc.VolumeSizeExceedsAvailableQuota) as err:
        cloud.volume.volumes.create(DEMO, VolumeCreate(size=2))
    assert err.value.status == 413
    with pytest.raises(exc.VolumeLimitExceeded, match="SnapshotLimitExceeded"):
        cloud.volume.snapshots.create(DEMO, volume.id)
    with pytest.raises(exc.VolumeSizeExceedsAvailableQuota):
        cloud.volume.volume_actions.extend(DEMO, volume.id, 4)


def test_per_volume_limit(volume_cloud):
    cloud, _agent = volume_cloud
    cloud.volume.quotas.update(ADMIN, "p-demo", {"per_volume_gigabytes": 2})
    with pytest.raises(exc.VolumeSizeExceedsLimit):
        cloud.volume.volumes.create(DEMO, VolumeCreate(size=3))


def test_update_refuses_unknown_keys_and_limits_below_usage(volume_cloud):
    cloud, _agent = volume_cloud
    with pytest.raises(exc.InvalidInput):
        cloud.volume.quotas.update(ADMIN, "p-demo", {"cores": 1})
    volume = cloud.volume.volumes.create(DEMO, VolumeCreate(size=2)).volume
    wait_status(cloud, volume.id, "available")
    with pytest.raises(exc.InvalidQuotaValue):
        cloud.volume.quotas.update(ADMIN, "p-demo", {"gigabytes": 1})
    cloud.volume.quotas.update(ADMIN, "p-demo", {"gigabytes": -1})
    cloud.volume.quotas.delete(ADMIN, "p-demo")
    assert cloud.volume.quotas.get(DEMO, "p-demo")["gigabytes"] == 1000
