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


# ---------------------------------------------------------------------------- transition table


def _table_transitions():
    """Every ``(from, to)`` the table holds, spelled out from ``TRANSITIONS`` and
    ``NO_TASK_CHANGES`` the way the module's docstring reads them."""
    found = set()
    for task, row in states.TRANSITIONS.items():
        for vm in row.begins_in:
            for previous in row.replaces:
                if previous is None or vm in states.TRANSITIONS[previous].begins_in:
                    found.add(((vm, previous), (vm, task)))
            for end in row.success | row.failure:
                found.add(((vm, task), (vm if end == states.SAME else end, None)))
    for vm, ends in states.NO_TASK_CHANGES.items():
        found.update(((vm, None), (end, None)) for end in ends)
    return sorted(((f, t) for f, t in found if f != t), key=str)


TABLE = _table_transitions()

#: what the code does today (API, conductor, agent and its reports): the table must hold it
PERFORMED = [
    # the API: power actions and delete begin a task
    (("active", None), ("active", "powering-off")),
    (("error", None), ("error", "powering-off")),
    (("stopped", None), ("stopped", "powering-on")),
    (("active", None), ("active", "rebooting")),
    (("active", "rebooting"), ("active", "rebooting_hard")),
    (("stopped", None), ("stopped", "rebooting_hard")),
    (("building", "spawning"), ("building", "deleting")),
    (("error", None), ("error", "deleting")),
    # the conductor: the build's controller steps, a failed build, the end of a delete
    (("building", "scheduling"), ("building", "networking")),
    (("building", "networking"), ("building", "block_device_mapping")),
    (("building", "block_device_mapping"), ("building", "spawning")),
    (("building", "networking"), ("error", None)),
    (("building", "deleting"), ("error", None)),
    (("active", "deleting"), ("deleted", None)),
    # the agent (or the conductor on its report): spawn, power tasks, destroy, sync
    (("building", "spawning"), ("active", None)),
    (("building", "spawning"), ("error", None)),
    (("active", "powering-off"), ("stopped", None)),
    (("active", "powering-off"), ("active", None)),
    (("stopped", "powering-on"), ("active", None)),
    (("active", "rebooting_hard"), ("active", None)),
    (("stopped", "deleting"), ("error", None)),
    (("active", None), ("stopped", None)),
]

#: changes the table refuses
REFUSED = [
    (("active", None), ("building", "spawning")),  # a build never starts again
    (("stopped", None), ("stopped", "powering-off")),  # already off
    (("active", "powering-off"), ("active", "powering-on")),  # one task at a time
    (("building", "scheduling"), ("building", "spawning")),  # a build skips no step
    (("building", "scheduling"), ("active", None)),  # only a spawn ends active
    (("active", "rebooting"), ("error", None)),  # a failed reboot keeps its vm_state
    (("stopped", None), ("active", None)),  # a stopped server starts through a task
    (("deleted", None), ("deleted", "deleting")),  # a deleted server is gone
    (("active", None), ("active", "no-such-task")),
]


@pytest.mark.parametrize(("before", "after"), PERFORMED)
def test_the_table_holds_every_transition_the_code_performs(before, after):
    assert (before, after) in TABLE
    assert states.allowed(before, after)


@pytest.mark.parametrize(("before", "after"), TABLE)
def test_every_transition_of_the_table_is_allowed(before, after):
    assert states.allowed(before, after)
    server = _server(*before)
    states.transition(server, vm_state=after[0], task_state=after[1])
    assert (server.vm_state, server.task_state) == after


@pytest.mark.parametrize(("before", "after"), REFUSED)
def test_transitions_outside_the_table_are_refused_and_nothing_is_assigned(before, after):
    assert not states.allowed(before, after)
    server = _server(*before)
    with pytest.raises(states.IllegalTransition, match="is not a transition of states.TRANSITIONS"):
        states.transition(server, vm_state=after[0], task_state=after[1])
    assert (server.vm_state, server.task_state) == before


def test_nothing_changing_is_always_allowed_and_omitted_states_are_kept():
    assert states.allowed(("active", "deleting"), ("active", "deleting"))
    server = _server("active", "powering-off")
    states.transition(server, task_state=None)  # a failed stop: vm_state unchanged
    assert (server.vm_state, server.task_state) == ("active", None)
    with pytest.raises(TypeError):
        states.transition(server, power_state=1)


def test_check_action_reads_the_table():
    for action, task in states.ACTION_TASKS.items():
        row = states.TRANSITIONS[task]
        for vm in sorted(row.begins_in):
            previous = next(iter(sorted(row.replaces, key=str)))
            states.check_action(_server(vm, previous), action)
    assert states.CREATED == ("building", "scheduling")
