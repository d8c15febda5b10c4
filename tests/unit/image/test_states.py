"""Image statuses: the transition table, the one function that writes a status, and the
actions the API checks against the same table."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from pocketstack.image import states
from pocketstack.image.exceptions import ImageForbidden, InvalidImageStatus
from pocketstack.image.models import Image
from pocketstack.image.uploads import UploadLeases

STATUSES = sorted(states.TRANSITIONS)
ALLOWED = [(old, new) for old in STATUSES for new in sorted(states.TRANSITIONS[old])]
REFUSED = [
    (old, new)
    for old in STATUSES
    for new in STATUSES
    if old != new and new not in states.TRANSITIONS[old]
]


def insert(db, status, **values):
    with db.transaction() as s:
        image = Image(status=status, owner="p-demo", visibility="private", **values)
        s.add(image)
        s.flush()
        return image.id


def row(db, image_id):
    with db.reader() as s:
        return s.execute(sa.select(Image.status, Image.size).where(Image.id == image_id)).one()


def test_the_table_knows_every_status_it_names():
    named = {new for targets in states.TRANSITIONS.values() for new in targets}
    assert named <= set(states.TRANSITIONS)
    assert set(states.RESET_STATUS) == {states.SAVING, states.UPLOADING, states.IMPORTING}


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_every_transition_of_the_table_is_written_with_its_values(db, old, new):
    image_id = insert(db, old, size=1)
    with db.transaction() as s:
        assert states.transition(s, image_id, old, new, size=7)
    assert tuple(row(db, image_id)) == (new, 7)


@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_a_transition_the_table_lacks_is_refused_and_writes_nothing(db, old, new):
    image_id = insert(db, old, size=1)
    with db.transaction() as s:
        with pytest.raises(InvalidImageStatus, match=f"from {old} to {new} is not allowed"):
            states.transition(s, image_id, old, new, size=7)
    assert tuple(row(db, image_id)) == (old, 1)


def test_a_transition_from_a_status_the_image_has_left_writes_nothing(db):
    image_id = insert(db, states.SAVING, size=1)
    with db.transaction() as s:
        assert not states.transition(s, image_id, states.QUEUED, states.UPLOADING, size=7)
    assert tuple(row(db, image_id)) == (states.SAVING, 1)


def test_a_transition_of_a_gone_image_writes_nothing(db):
    with db.transaction() as s:
        assert not states.transition(s, "no-such-image", states.QUEUED, states.SAVING)


def _race(db, image_id, moves):
    """Run each ``(old, new)`` of ``moves`` in its own thread and transaction, all started
    together; returns each thread's outcome."""
    barrier = threading.Barrier(len(moves))
    outcomes: dict[str, bool] = {}
    errors: list[BaseException] = []

    def run(old, new):
        try:
            barrier.wait(timeout=10)
            with db.transaction() as s:
                outcomes[new] = states.transition(s, image_id, old, new)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=move) for move in moves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and not any(t.is_alive() for t in threads)
    return outcomes


def test_of_two_concurrent_transitions_from_one_status_the_loser_is_refused(any_db):
    image_id = insert(any_db, states.QUEUED)
    outcomes = _race(
        any_db, image_id, [(states.QUEUED, states.SAVING), (states.QUEUED, states.UPLOADING)]
    )
    assert sorted(outcomes.values()) == [False, True]
    (winner,) = [new for new, won in outcomes.items() if won]
    assert row(any_db, image_id).status == winner


def test_every_action_moves_along_the_table():
    for action, moves in states.ACTIONS.items():
        for old, new in moves.items():
            assert states.allowed(old, new), (action, old, new)
    assert states.action_target("deactivate", states.QUEUED) is None
    assert states.action_target("reactivate", states.SAVING) is None
    assert states.action_target("upload", states.ACTIVE) is None
    assert states.action_target("import", states.UPLOADING) == states.IMPORTING


def test_a_lease_is_taken_only_along_the_table(db):
    leases = UploadLeases(db, 60)
    image_id = insert(db, states.ACTIVE)
    with db.transaction() as s:
        with pytest.raises(InvalidImageStatus):
            leases.take(s, image_id, states.ACTIVE, states.SAVING)
    assert row(db, image_id).status == states.ACTIVE and leases.held() == []


def test_deactivate_and_reactivate_read_the_action_table(images, demo, admin, cloud):
    image = images.create(demo, {"name": "q", "disk_format": "raw", "container_format": "bare"}, {})
    with pytest.raises(ImageForbidden, match="Not allowed to deactivate image in status 'queued'"):
        images.deactivate(admin, image.id)
    with pytest.raises(ImageForbidden, match="Not allowed to reactivate image in status 'queued'"):
        images.reactivate(admin, image.id)
    assert row(cloud.db, image.id).status == states.QUEUED
    with cloud.db.transaction() as s:
        assert states.transition(s, image.id, states.QUEUED, states.ACTIVE)
    images.deactivate(admin, image.id)
    images.deactivate(admin, image.id)  # Glance: 204 again
    assert row(cloud.db, image.id).status == states.DEACTIVATED
    images.reactivate(admin, image.id)
    assert row(cloud.db, image.id).status == states.ACTIVE
