"""Server states as Nova names them, the API status they show as, and which actions they allow.

A server has three states (Nova's ``vm_states``, ``task_states``, ``power_state``):

- ``vm_state``: the stable state the server is in (``building``, ``active``, ``stopped``,
  ``error``, ``deleted``).
- ``task_state``: the transition running now, or ``None`` (``scheduling``, ``spawning``,
  ``powering-off``, ``rebooting``, ``deleting``...).
- ``power_state``: what the hypervisor reports (``drivers.base.PowerState``).

The API shows one ``status`` computed from the first two (``status_of``), e.g. ``active`` +
``rebooting`` is ``REBOOT``; ``check_action`` refuses an action the states do not allow with
Nova's 409 message.
"""

from __future__ import annotations

from typing import Any

from pocketstack.compute.exceptions import InstanceInvalidState

# vm states
BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
PAUSED = "paused"
SUSPENDED = "suspended"
ERROR = "error"
DELETED = "deleted"
SOFT_DELETED = "soft-delete"

# task states
SCHEDULING = "scheduling"
NETWORKING = "networking"
BLOCK_DEVICE_MAPPING = "block_device_mapping"
SPAWNING = "spawning"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
DELETING = "deleting"

#: task states of a build in the controller (before the compute agent has the server)
BUILD_TASKS = (SCHEDULING, NETWORKING, BLOCK_DEVICE_MAPPING)

#: vm_state -> (default status, {task_state: status})
_STATUS = {
    BUILDING: ("BUILD", {}),
    ACTIVE: ("ACTIVE", {REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT"}),
    STOPPED: ("SHUTOFF", {REBOOTING_HARD: "HARD_REBOOT"}),
    PAUSED: ("PAUSED", {}),
    SUSPENDED: ("SUSPENDED", {}),
    ERROR: ("ERROR", {REBOOTING_HARD: "HARD_REBOOT"}),
    DELETED: ("DELETED", {}),
    SOFT_DELETED: ("SOFT_DELETED", {}),
}


def status_of(vm_state: str, task_state: str | None) -> str:
    """The API ``status`` of a server (Nova's mapping), ``UNKNOWN`` for unmapped states."""
    default, by_task = _STATUS.get(vm_state, ("UNKNOWN", {}))
    return by_task.get(task_state or "", default)


def states_for_status(status: str) -> tuple[list[str], list[str] | None]:
    """Reverse of ``status_of`` for the ``status`` list filter.

    Returns ``(vm_states, task_states)``; ``task_states`` is ``None`` when any task state
    matches (``ACTIVE`` includes rebooting servers, as in Nova). An unknown status gives
    ``([], None)`` (nothing matches).
    """
    status = status.upper()
    vm_states: list[str] = []
    task_states: set[str] = set()
    for vm_state, (default, by_task) in _STATUS.items():
        if default == status:
            vm_states.append(vm_state)
        for task, name in by_task.items():
            if name == status:
                vm_states.append(vm_state)
                task_states.add(task)
    if task_states:
        return sorted(set(vm_states)), sorted(task_states)
    return vm_states, None


#: action -> (vm_states allowed, task_states allowed); ``None`` means any.
_ALLOWED: dict[str, tuple[frozenset[str] | None, frozenset[str | None] | None]] = {
    "stop": (frozenset({ACTIVE, ERROR}), frozenset({None})),
    "start": (frozenset({STOPPED}), frozenset({None})),
    "reboot": (frozenset({ACTIVE}), frozenset({None})),
    "reboot_hard": (
        frozenset({ACTIVE, STOPPED, ERROR}),
        frozenset({None, REBOOTING, REBOOTING_HARD}),
    ),
    "delete": (None, None),
    "update": (None, None),
    "console_output": (frozenset({ACTIVE, STOPPED, ERROR, PAUSED, SUSPENDED}), None),
}

#: the name the error message shows for an internal action name
_PUBLIC_NAME = {"reboot_hard": "reboot"}


def check_action(instance: Any, action: str) -> None:
    """Refuse ``action`` unless the server's vm_state and task_state allow it.

    Args:
        instance: anything with ``uuid``, ``vm_state`` and ``task_state`` (an ``Instance``).
        action: ``stop``, ``start``, ``reboot`` (soft), ``reboot_hard``, ``delete``,
            ``update`` or ``console_output``.

    Raises:
        InstanceInvalidState: 409 ``Cannot '<action>' instance <uuid> while it is in
            vm_state <x>`` (or ``task_state <y>`` when the transition is the obstacle).
        ValueError: an unknown action name (a programming error).
    """
    if action not in _ALLOWED:
        raise ValueError(f"unknown server action {action!r}")
    vm_states, task_states = _ALLOWED[action]
    name = _PUBLIC_NAME.get(action, action)
    if vm_states is not None and instance.vm_state not in vm_states:
        raise InstanceInvalidState(
            f"Cannot '{name}' instance {instance.uuid} while it is in vm_state {instance.vm_state}"
        )
    if task_states is not None and instance.task_state not in task_states:
        raise InstanceInvalidState(
            f"Cannot '{name}' instance {instance.uuid} while it is in "
            f"task_state {instance.task_state}"
        )
