"""The one transition table per resource (docs/block-storage.md, "States")."""

from __future__ import annotations

import pytest

from pocketstack.common import errors
from pocketstack.volume import exceptions as exc
from pocketstack.volume import states
from pocketstack.volume.models import Snapshot, Volume, VolumeAttachment


def _volume(status: str) -> Volume:
    return Volume(id="v1", project_id="p", status=status, deleted=False)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("creating", "available"),
        ("creating", "error"),
        ("available", "reserved"),
        ("reserved", "attaching"),
        ("attaching", "in-use"),
        ("in-use", "detaching"),
        ("detaching", "available"),
        ("reserved", "available"),
        ("available", "extending"),
        ("in-use", "extending"),
        ("extending", "error_extending"),
        ("available", "uploading"),
        ("error", "deleting"),
        ("deleting", "deleted"),
        ("deleting", "error_deleting"),
    ],
)
def test_the_documented_volume_transitions_are_allowed(start, end):
    volume = _volume(start)
    states.transition(volume, end)
    assert volume.status == end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("creating", "in-use"),
        ("in-use", "deleting"),
        ("deleting", "available"),
        ("error", "in-use"),
    ],
)
def test_other_volume_transitions_are_refused(start, end):
    volume = _volume(start)
    with pytest.raises(errors.InvalidState):
        states.transition(volume, end)
    assert volume.status == start


def test_deleted_marks_the_row_soft_deleted():
    volume = _volume("deleting")
    states.transition(volume, "deleted")
    assert volume.deleted and volume.deleted_at is not None


def test_require_answers_cinders_400_naming_the_allowed_statuses():
    with pytest.raises(exc.InvalidVolume) as err:
        states.require(_volume("in-use"), states.DELETING, exc.InvalidVolume, "Volume")
    assert err.value.status == 400
    assert err.value.message == (
        "Invalid volume: Volume status must be available or error or error_deleting or "
        "error_extending or error_restoring to delete, currently in-use."
    )


def test_reset_takes_any_known_status_but_no_unknown_one():
    volume = _volume("error_deleting")
    states.reset(volume, "available")
    assert volume.status == "available"
    with pytest.raises(errors.BadRequest):
        states.reset(volume, "sleeping")


def test_snapshot_and_attachment_tables():
    snap = Snapshot(id="s", status="creating", deleted=False)
    with pytest.raises(errors.InvalidState):
        states.transition(snap, "deleting")
    att = VolumeAttachment(id="a", attach_status="reserved")
    states.transition(att, "attaching")
    states.transition(att, "attached")
    assert att.attach_status == "attached"


def test_agent_host_of_cinders_host_string():
    assert states.agent_host("node1@file#file") == "node1"
    assert states.agent_host(None) is None
