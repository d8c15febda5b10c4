"""Server states: the API status they show as and which actions they allow."""

from __future__ import annotations

import types

import pytest

from pocketstack.common.errors import InvalidState
from pocketstack.compute import states


@pytest.mark.parametrize(
    ("vm_state", "task_state", "status"),
    [
        ("building", "scheduling", "BUILD"),
        ("building", "spawning", "BUILD"),
        ("active", None, "ACTIVE"),
        ("active", "rebooting", "REBOOT"),
        ("active", "rebooting_hard", "HARD_REBOOT"),
        ("active", "powering-off", "ACTIVE"),
        ("active", "deleting", "ACTIVE"),
        ("stopped", None, "SHUTOFF"),
        ("stopped", "powering-on", "SHUTOFF"),
        ("error", None, "ERROR"),
        ("deleted", None, "DELETED"),
        ("no-such-state", None, "UNKNOWN"),
    ],
)
def test_status_of_follows_nova(vm_state, task_state, status):
    assert states.status_of(vm_state, task_state) == status


def test_states_for_status_reverses_the_mapping():
    assert states.states_for_status("ACTIVE") == (["active"], None)
    assert states.states_for_status("shutoff") == (["stopped"], None)
    vm_states, tasks = states.states_for_status("REBOOT")
    assert vm_states == ["active"] and tasks == ["rebooting"]
    assert states.states_for_status("BOGUS") == ([], None)


def _server(vm_state, task_state=None):
    return types.SimpleNamespace(uuid="u-1", vm_state=vm_state, task_state=task_state)


@pytest.mark.parametrize(
    ("action", "vm_state", "task_state"),
    [
        ("stop", "active", None),
        ("stop", "error", None),
        ("start", "stopped", None),
        ("reboot", "active", None),
        ("reboot_hard", "active", None),
        ("reboot_hard", "stopped", None),
        ("reboot_hard", "error", None),
        ("reboot_hard", "active", "rebooting"),
        ("delete", "building", "scheduling"),
        ("delete", "active", "deleting"),
        ("delete", "error", None),
    ],
)
def test_allowed_actions(action, vm_state, task_state):
    states.check_action(_server(vm_state, task_state), action)


def test_refused_action_has_novas_message():
    with pytest.raises(InvalidState) as exc:
        states.check_action(_server("active"), "start")
    assert exc.value.status == 409
    assert exc.value.message == "Cannot 'start' instance u-1 while it is in vm_state active"


def test_refused_by_task_state_names_it():
    with pytest.raises(InvalidState) as exc:
        states.check_action(_server("active", "powering-off"), "stop")
    assert exc.value.message == (
        "Cannot 'stop' instance u-1 while it is in task_state powering-off"
    )


def test_hard_reboot_is_reported_as_reboot_and_soft_needs_active():
    with pytest.raises(InvalidState) as exc:
        states.check_action(_server("building", "spawning"), "reboot_hard")
    assert "Cannot 'reboot'" in exc.value.message
    with pytest.raises(InvalidState):
        states.check_action(_server("stopped"), "reboot")


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        states.check_action(_server("active"), "fly")
