"""Server states as Nova names them, the transitions between them, the API status they show
as and which actions they allow (Nova's ``nova/compute/vm_states.py`` and ``task_states.py``;
Compute API reference "Server status" / "Servers - run an action").

A server has three states (Nova's ``vm_states``, ``task_states``, ``power_state``):

- ``vm_state``: the stable state the server is in (``building``, ``active``, ``stopped``,
  ``paused``, ``suspended``, ``rescued``, ``error``, ``deleted``).
- ``task_state``: the transition running now, or ``None`` (``scheduling``, ``spawning``,
  ``powering-off``, ``rebooting``, ``deleting``...).
- ``power_state``: what the hypervisor reports (``drivers.base.PowerState``).

The API shows one ``status`` computed from the first two (``status_of``), e.g. ``active`` +
``rebooting`` is ``REBOOT``; ``check_action`` refuses an action the states do not allow with
Nova's 409 message.

The transition table
--------------------
``TRANSITIONS`` says, for each ``task_state``, in which ``vm_state`` it may begin, which task it
may replace (``None``: no task was running), and in which ``vm_state`` it ends when it works
and when it fails (``SAME``: the ``vm_state`` it began in). ``NO_TASK_CHANGES`` holds the
only changes made while no task runs (the power-state sync finding a guest shut down).
``CREATED`` is the state a new server is inserted in. ``allowed(from, to)`` reads them:

- a task begins (or replaces the running one, e.g. a build step hands over to the next):
  ``(vm, old task) -> (vm, task)`` when ``vm`` is in the task's ``begins_in`` and
  ``old task`` in its ``replaces``; the ``vm_state`` does not change when a task begins;
- a task ends: ``(vm, task) -> (new vm, None)`` when ``new vm`` is in its ``success`` or
  ``failure`` (``SAME`` allows ``new vm == vm``);
- no task: ``(vm, None) -> (new vm, None)`` when ``NO_TASK_CHANGES`` has it;
- nothing changes: always allowed.

How to use it
-------------
Every write of ``vm_state``/``task_state`` goes through the table:

- a compare-and-set ``UPDATE``: ``actions.update_instance(target, uuid, expected, **values)``
  checks the row's current state (which must also hold ``expected``) against the table
  before writing, and raises ``IllegalTransition`` (nothing written) when it is not there;
- a row loaded in the caller's transaction: ``states.transition(inst, task_state=DELETING)``
  checks then assigns (never ``inst.vm_state = ...`` directly);
- a new server: insert it in ``CREATED``.

``IllegalTransition`` is a programming error (a 500 if it reaches the API), never a user's
409: a user asking for an action the state does not allow gets ``check_action``'s
``InstanceInvalidState``, which reads the same table. A new task (resize, migrate...) is a
new row of ``TRANSITIONS`` (and its action in ``ACTION_TASKS``), nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pocketstack.compute.exceptions import InstanceInvalidState

# vm states
BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
PAUSED = "paused"
SUSPENDED = "suspended"
RESCUED = "rescued"
ERROR = "error"
DELETED = "deleted"
SOFT_DELETED = "soft-delete"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"
#: a resized or cold-migrated server waiting for confirm or revert (status VERIFY_RESIZE)
RESIZED = "resized"

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
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
UPDATING_PASSWORD = "updating_password"
# createImage (``snapshots``): the API begins image_snapshot, the agent moves on to
# image_pending_upload once the disk copy is made and image_uploading while it uploads
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"
# createBackup begins image_backup instead, then the same two
IMAGE_BACKUP = "image_backup"
SNAPSHOT_TASKS = (IMAGE_SNAPSHOT, IMAGE_BACKUP, IMAGE_PENDING_UPLOAD, IMAGE_UPLOADING)
# shelve (``server_actions.shelve``): the API begins shelving, the agent powers the guest off,
# copies and uploads its disk (the two image tasks) -> shelved; the offload (at once when
# ``shelved_offload_time`` is 0) runs shelving_offloading -> shelved_offloaded; unshelve
# runs unshelving (on the same host) or unshelving -> spawning (scheduled again)
SHELVING = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"
SHELVE_TASKS = (SHELVING, SHELVING_IMAGE_PENDING_UPLOAD, SHELVING_IMAGE_UPLOADING)
# resize and cold migration (``compute.resize``): the API begins resize_prep, the conductor
# schedules and moves on to resize_migrating (the source agent stops the guest and copies
# its disks), resize_migrated (copied) and resize_finish (the destination agent spawns) ->
# resized (VERIFY_RESIZE); confirm runs resize_confirming, revert resize_reverting
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_CONFIRMING = "resize_confirming"
RESIZE_REVERTING = "resize_reverting"
RESIZE_TASKS = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH)
# rebuild and evacuate (``compute.rebuild``, ``compute.evacuate``): rebuilding (the API, or the
# conductor for an evacuation) -> rebuild_block_device_mapping -> rebuild_spawning (agent)
REBUILDING = "rebuilding"
REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
REBUILD_SPAWNING = "rebuild_spawning"
REBUILD_TASKS = (REBUILDING, REBUILD_BLOCK_DEVICE_MAPPING, REBUILD_SPAWNING)
# live migration (``compute.live_migration``), Nova's ``task_states.MIGRATING``
MIGRATING = "migrating"

#: task states of a build in the controller (before the compute agent has the server)
BUILD_TASKS = (SCHEDULING, NETWORKING, BLOCK_DEVICE_MAPPING)

#: ``(vm_state, task_state)`` of a server when the API inserts it
CREATED = (BUILDING, SCHEDULING)

#: every vm_state of a server that is not deleted
LIVE = frozenset(
    {BUILDING, ACTIVE, STOPPED, PAUSED, SUSPENDED, RESCUED, ERROR, SOFT_DELETED}
    | {SHELVED, SHELVED_OFFLOADED, RESIZED}
)

#: in a task's ``failure``: the task ends in the vm_state it began in
SAME = "<same vm_state>"


@dataclass(frozen=True)
class Task:
    """One ``task_state``: where it may begin and where it ends (a row of ``TRANSITIONS``).

    Attributes:
        begins_in: vm_states the task may begin in (and runs in: a task never changes the
            vm_state while it runs).
        replaces: task_states it may take over from; ``None`` is "no task running".
        success: vm_states it ends in when it worked (empty: it never ends by itself, it
            hands over to the next task).
        failure: vm_states it ends in when it failed (``SAME``: the one it began in).
    """

    begins_in: frozenset[str]
    replaces: frozenset[str | None]
    success: frozenset[str]
    failure: frozenset[str]

    @classmethod
    def of(cls, begins_in: Any, replaces: Any, success: Any, failure: Any) -> Task:
        """A row from plain sets (keeps the table short)."""
        return cls(
            frozenset(begins_in), frozenset(replaces), frozenset(success), frozenset(failure)
        )


#: every task_state a server may be in, and "no task"
ANY_TASK: frozenset[str | None] = frozenset(
    {None, SCHEDULING, NETWORKING, BLOCK_DEVICE_MAPPING, SPAWNING}
    | {POWERING_OFF, POWERING_ON, REBOOTING, REBOOTING_HARD, DELETING}
    | {PAUSING, UNPAUSING, SUSPENDING, RESUMING, RESCUING, UNRESCUING, UPDATING_PASSWORD}
    | set(SNAPSHOT_TASKS)
    | {*SHELVE_TASKS, SHELVING_OFFLOADING, UNSHELVING}
    | {*RESIZE_TASKS, RESIZE_CONFIRMING, RESIZE_REVERTING}
    | {*REBUILD_TASKS, MIGRATING}
)

#: task_state -> where it begins and where it ends. Read as Nova's state diagram:
#:
#:   task_state            begins in (replacing)               ends well    ends badly
#:   scheduling            building (no task)                  -            error
#:   networking            building (scheduling)               -            error
#:   block_device_mapping  building (networking)               -            error
#:   spawning              building (block_device_mapping),    active       error;
#:                         shelved_offloaded (unshelving)                   unchanged
#:   powering-off          active, error (no task)             the guest's  unchanged
#:   powering-on           stopped (no task)                   the guest's  unchanged
#:   rebooting             active (no task)                    the guest's  unchanged
#:   rebooting_hard        active, stopped, paused,            the guest's  unchanged
#:                         suspended, error (no task,
#:                         rebooting, rebooting_hard)
#:   pausing               active (no task)                    paused       unchanged
#:   unpausing             paused (no task)                    active       unchanged
#:   suspending            active (no task)                    suspended    unchanged
#:   resuming              suspended (no task)                 active       unchanged
#:   rescuing              active, stopped, error (no task)    rescued      unchanged
#:   unrescuing            rescued (no task)                   active       unchanged
#:   updating_password     active (no task)                    active       unchanged
#:   image_snapshot        active, stopped, paused,            -            unchanged
#:                         suspended (no task)
#:   image_backup          the same (no task)                  -            unchanged
#:   image_pending_upload  the same (image_snapshot, _backup)  -            unchanged
#:   image_uploading       the same (image_pending_upload)     unchanged    unchanged
#:   shelving              active, stopped, paused,            -            unchanged
#:                         suspended (no task)
#:   shelving_image_pending_upload  the same (shelving)        -            unchanged
#:   shelving_image_uploading  the same (..._pending_upload)   shelved      unchanged
#:   shelving_offloading   shelved (no task)                   shelved_off. unchanged
#:   unshelving            shelved, shelved_offloaded          active       unchanged
#:                         (no task)
#:   resize_prep ->        active, stopped (no task, then      resized      unchanged,
#:   ..._migrating ->      each the previous one)                           error
#:   ..._migrated -> resize_finish
#:   resize_confirming,    resized (no task)                   active,      unchanged,
#:   resize_reverting                                          stopped      error
#:   rebuilding ->         active, stopped, error (no task,    active,      unchanged,
#:   rebuild_block_device_mapping -> rebuild_spawning          stopped      error
#:                         then each the previous one)
#:   migrating             active, paused (no task)            -            unchanged, error
#:   deleting              any live state (any task)           deleted      error
#:
#: The build walks scheduling -> networking -> block_device_mapping (conductor) -> spawning
#: (agent) -> active; a power task ends in the state the guest is found in (active when it
#: runs, else stopped); a delete ends deleted, or error when the guest could not be destroyed.
#: vm_states a snapshot (Nova's ``snapshot``: active, stopped, paused, suspended) begins in
_SNAPSHOT_STATES = frozenset({ACTIVE, STOPPED, PAUSED, SUSPENDED})

#: vm_states a rebuild (and an evacuation) begins in
_REBUILD_STATES = frozenset({ACTIVE, STOPPED, ERROR})

TRANSITIONS: dict[str, Task] = {
    SCHEDULING: Task.of(begins_in={BUILDING}, replaces={None}, success=(), failure={ERROR}),
    NETWORKING: Task.of(begins_in={BUILDING}, replaces={SCHEDULING}, success=(), failure={ERROR}),
    BLOCK_DEVICE_MAPPING: Task.of(
        begins_in={BUILDING}, replaces={NETWORKING}, success=(), failure={ERROR}
    ),
    SPAWNING: Task.of(
        begins_in={BUILDING, SHELVED_OFFLOADED},
        replaces={BLOCK_DEVICE_MAPPING, UNSHELVING},
        success={ACTIVE},
        failure={ERROR, SAME},  # a failed unshelve stays offloaded
    ),
    POWERING_OFF: Task.of(
        begins_in={ACTIVE, ERROR}, replaces={None}, success={STOPPED, ACTIVE}, failure={SAME}
    ),
    POWERING_ON: Task.of(
        begins_in={STOPPED}, replaces={None}, success={ACTIVE, STOPPED}, failure={SAME}
    ),
    REBOOTING: Task.of(
        begins_in={ACTIVE}, replaces={None}, success={ACTIVE, STOPPED}, failure={SAME}
    ),
    REBOOTING_HARD: Task.of(
        begins_in={ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR},
        replaces={None, REBOOTING, REBOOTING_HARD},
        success={ACTIVE, STOPPED},
        failure={SAME},
    ),
    PAUSING: Task.of(begins_in={ACTIVE}, replaces={None}, success={PAUSED}, failure={SAME}),
    UNPAUSING: Task.of(begins_in={PAUSED}, replaces={None}, success={ACTIVE}, failure={SAME}),
    SUSPENDING: Task.of(begins_in={ACTIVE}, replaces={None}, success={SUSPENDED}, failure={SAME}),
    RESUMING: Task.of(begins_in={SUSPENDED}, replaces={None}, success={ACTIVE}, failure={SAME}),
    RESCUING: Task.of(
        begins_in={ACTIVE, STOPPED, ERROR}, replaces={None}, success={RESCUED}, failure={SAME}
    ),
    UNRESCUING: Task.of(begins_in={RESCUED}, replaces={None}, success={ACTIVE}, failure={SAME}),
    UPDATING_PASSWORD: Task.of(
        begins_in={ACTIVE}, replaces={None}, success={ACTIVE}, failure={SAME}
    ),
    IMAGE_SNAPSHOT: Task.of(
        begins_in=_SNAPSHOT_STATES, replaces={None}, success=(), failure={SAME}
    ),
    IMAGE_BACKUP: Task.of(begins_in=_SNAPSHOT_STATES, replaces={None}, success=(), failure={SAME}),
    IMAGE_PENDING_UPLOAD: Task.of(
        begins_in=_SNAPSHOT_STATES,
        replaces={IMAGE_SNAPSHOT, IMAGE_BACKUP},
        success=(),
        failure={SAME},
    ),
    IMAGE_UPLOADING: Task.of(
        begins_in=_SNAPSHOT_STATES,
        replaces={IMAGE_PENDING_UPLOAD},
        success=(),  # ends where it began: SAME, below
        failure={SAME},
    ),
    SHELVING: Task.of(begins_in=_SNAPSHOT_STATES, replaces={None}, success=(), failure={SAME}),
    SHELVING_IMAGE_PENDING_UPLOAD: Task.of(
        begins_in=_SNAPSHOT_STATES, replaces={SHELVING}, success=(), failure={SAME}
    ),
    SHELVING_IMAGE_UPLOADING: Task.of(
        begins_in=_SNAPSHOT_STATES,
        replaces={SHELVING_IMAGE_PENDING_UPLOAD},
        success={SHELVED},
        failure={SAME},
    ),
    SHELVING_OFFLOADING: Task.of(
        begins_in={SHELVED}, replaces={None}, success={SHELVED_OFFLOADED}, failure={SAME}
    ),
    UNSHELVING: Task.of(
        begins_in={SHELVED, SHELVED_OFFLOADED}, replaces={None}, success={ACTIVE}, failure={SAME}
    ),
    DELETING: Task.of(begins_in=LIVE, replaces=ANY_TASK, success={DELETED}, failure={ERROR}),
    # resize/migrate (``compute.resize``): from active or stopped; a failure before the
    # destination runs the guest ends where it began (or error when it is lost)
    RESIZE_PREP: Task.of(
        begins_in={ACTIVE, STOPPED}, replaces={None}, success=(), failure={SAME, ERROR}
    ),
    RESIZE_MIGRATING: Task.of(
        begins_in={ACTIVE, STOPPED}, replaces={RESIZE_PREP}, success=(), failure={SAME, ERROR}
    ),
    RESIZE_MIGRATED: Task.of(
        begins_in={ACTIVE, STOPPED}, replaces={RESIZE_MIGRATING}, success=(), failure={SAME, ERROR}
    ),
    RESIZE_FINISH: Task.of(
        begins_in={ACTIVE, STOPPED},
        replaces={RESIZE_MIGRATED},
        success={RESIZED},
        failure={SAME, ERROR},
    ),
    RESIZE_CONFIRMING: Task.of(
        begins_in={RESIZED}, replaces={None}, success={ACTIVE, STOPPED}, failure={SAME, ERROR}
    ),
    RESIZE_REVERTING: Task.of(
        begins_in={RESIZED}, replaces={None}, success={ACTIVE, STOPPED}, failure={SAME, ERROR}
    ),
    # rebuild/evacuate: the root disk made again from the image (kept on shared storage by an
    # evacuation); a failed spawn ends in error, and a rebuild from error may mend it
    REBUILDING: Task.of(
        begins_in=_REBUILD_STATES, replaces={None}, success=(), failure={SAME, ERROR}
    ),
    REBUILD_BLOCK_DEVICE_MAPPING: Task.of(
        begins_in=_REBUILD_STATES, replaces={REBUILDING}, success=(), failure={SAME, ERROR}
    ),
    REBUILD_SPAWNING: Task.of(
        begins_in=_REBUILD_STATES,
        replaces={REBUILD_BLOCK_DEVICE_MAPPING},
        success={ACTIVE, STOPPED},
        failure={SAME, ERROR},
    ),
    # live migration: the guest keeps its vm_state; it ends where it runs
    MIGRATING: Task.of(
        begins_in={ACTIVE, PAUSED}, replaces={None}, success=(), failure={SAME, ERROR}
    ),
}

#: task_state -> the vm_state it ends in when it worked, whatever the guest's power state
#: says (the power tasks above end in the state the guest is found in instead)
TASK_RESULTS: dict[str, str] = {
    PAUSING: PAUSED,
    UNPAUSING: ACTIVE,
    SUSPENDING: SUSPENDED,
    RESUMING: ACTIVE,
    RESCUING: RESCUED,
    UNRESCUING: ACTIVE,
    UPDATING_PASSWORD: ACTIVE,
}

#: vm_state -> vm_states it may change to while no task runs: the agent's power-state sync
#: finding an active server's guest shut down (Nova's ``_sync_instance_power_state``)
NO_TASK_CHANGES: dict[str, frozenset[str]] = {
    ACTIVE: frozenset({STOPPED}),
    PAUSED: frozenset({STOPPED}),  # a paused guest's QEMU is gone (the host restarted)
}

#: the vm_states an admin may force with ``os-resetState`` (``reset``), from any live state
RESET_STATES = frozenset({ACTIVE, ERROR})

#: API action (``check_action``'s name) -> the task it begins
ACTION_TASKS = {
    "stop": POWERING_OFF,
    "start": POWERING_ON,
    "reboot": REBOOTING,
    "reboot_hard": REBOOTING_HARD,
    "delete": DELETING,
    "pause": PAUSING,
    "unpause": UNPAUSING,
    "suspend": SUSPENDING,
    "resume": RESUMING,
    "rescue": RESCUING,
    "unrescue": UNRESCUING,
    "change_password": UPDATING_PASSWORD,
    "create_image": IMAGE_SNAPSHOT,
    "create_backup": IMAGE_BACKUP,
    "shelve": SHELVING,
    "shelve_offload": SHELVING_OFFLOADING,
    "unshelve": UNSHELVING,
    "resize": RESIZE_PREP,
    "migrate": RESIZE_PREP,
    "confirm_resize": RESIZE_CONFIRMING,
    "revert_resize": RESIZE_REVERTING,
    "rebuild": REBUILDING,
    "evacuate": REBUILDING,
    "live_migrate": MIGRATING,
}


class IllegalTransition(RuntimeError):
    """A state change the table does not hold: a programming error, not a user's 409."""


def allowed(from_state: tuple[str, str | None], to_state: tuple[str, str | None]) -> bool:
    """Whether ``(vm_state, task_state)`` may change to ``to_state`` (see the module doc)."""
    (vm, task), (new_vm, new_task) = from_state, to_state
    if from_state == to_state:
        return True
    if new_task is not None:  # a task begins, or takes over from the running one
        row = TRANSITIONS.get(new_task)
        return row is not None and new_vm == vm and vm in row.begins_in and task in row.replaces
    if task is None:  # no task runs: only the power-state sync changes the vm_state
        return new_vm in NO_TASK_CHANGES.get(vm, frozenset())
    row = TRANSITIONS.get(task)
    if row is None or vm not in row.begins_in:
        return False
    return new_vm in row.success or new_vm in row.failure or (SAME in row.failure and new_vm == vm)


def check_transition(
    uuid: str, from_state: tuple[str, str | None], to_state: tuple[str, str | None]
) -> None:
    """Raise ``IllegalTransition`` unless the table allows ``from_state -> to_state``.

    Raises:
        IllegalTransition: ``server <uuid>: (vm, task) -> (vm, task) is not in states.TRANSITIONS``.
    """
    if not allowed(from_state, to_state):
        raise IllegalTransition(
            f"server {uuid}: {from_state} -> {to_state} is not a transition of states.TRANSITIONS"
        )


def transition(instance: Any, **changes: str | None) -> None:
    """Change ``vm_state``/``task_state`` of a loaded row (an ``Instance`` in the caller's
    session) through the table: checks, then assigns.

    Args:
        instance: anything with ``uuid``, ``vm_state`` and ``task_state``.
        changes: ``vm_state=...`` and/or ``task_state=...`` (omitted: unchanged).

    Raises:
        IllegalTransition: the table does not hold the change (nothing is assigned).
        TypeError: another keyword than ``vm_state``/``task_state``.
    """
    unknown = set(changes) - {"vm_state", "task_state"}
    if unknown:
        raise TypeError(f"transition() changes only vm_state and task_state, not {unknown}")
    before = (instance.vm_state, instance.task_state)
    after = (changes.get("vm_state", before[0]), changes.get("task_state", before[1]))
    check_transition(instance.uuid, before, after)
    instance.vm_state, instance.task_state = after


def reset(instance: Any, vm_state: str) -> None:
    """``os-resetState``: an admin forces a live server to ``vm_state`` (``active`` or
    ``error``) with no task, whatever it is doing (Nova's ``admin_state_reset``): the one
    change outside ``TRANSITIONS``, which is why it has a function of its own.

    Raises:
        IllegalTransition: ``vm_state`` is not in ``RESET_STATES`` or the server is not live.
    """
    if vm_state not in RESET_STATES or instance.vm_state not in LIVE:
        raise IllegalTransition(
            f"server {instance.uuid}: cannot reset {instance.vm_state} to {vm_state}"
        )
    instance.vm_state, instance.task_state = vm_state, None


#: vm_state -> (default status, {task_state: status})
_STATUS = {
    BUILDING: ("BUILD", {}),
    ACTIVE: (
        "ACTIVE",
        {
            REBOOTING: "REBOOT",
            REBOOTING_HARD: "HARD_REBOOT",
            UPDATING_PASSWORD: "PASSWORD",
            MIGRATING: "MIGRATING",
            **dict.fromkeys(RESIZE_TASKS, "RESIZE"),
            **dict.fromkeys(REBUILD_TASKS, "REBUILD"),
        },
    ),
    STOPPED: (
        "SHUTOFF",
        {
            REBOOTING_HARD: "HARD_REBOOT",
            **dict.fromkeys(RESIZE_TASKS, "RESIZE"),
            **dict.fromkeys(REBUILD_TASKS, "REBUILD"),
        },
    ),
    RESIZED: ("VERIFY_RESIZE", {RESIZE_REVERTING: "REVERT_RESIZE"}),
    PAUSED: ("PAUSED", {REBOOTING_HARD: "HARD_REBOOT"}),
    SUSPENDED: ("SUSPENDED", {REBOOTING_HARD: "HARD_REBOOT"}),
    RESCUED: ("RESCUE", {}),
    ERROR: ("ERROR", {REBOOTING_HARD: "HARD_REBOOT", **dict.fromkeys(REBUILD_TASKS, "REBUILD")}),
    DELETED: ("DELETED", {}),
    SOFT_DELETED: ("SOFT_DELETED", {}),
    SHELVED: ("SHELVED", {}),
    SHELVED_OFFLOADED: ("SHELVED_OFFLOADED", {}),
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


#: actions that begin no task -> (vm_states allowed, task_states allowed); ``None``: any
_READS: dict[str, tuple[frozenset[str] | None, frozenset[str | None] | None]] = {
    "update": (None, None),
    "console_output": (
        frozenset({ACTIVE, STOPPED, ERROR, PAUSED, SUSPENDED, RESCUED, RESIZED}),
        None,
    ),
    # Nova's trigger_crash_dump: NMI into a guest that has a QEMU (no task)
    "trigger_crash_dump": (frozenset({ACTIVE, PAUSED, RESCUED, ERROR}), frozenset({None})),
    # Nova's attach/detach: a running, stopped or paused server with no task (``volumes``)
    "attach_volume": (frozenset({ACTIVE, STOPPED, PAUSED}), frozenset({None})),
    "detach_volume": (frozenset({ACTIVE, STOPPED, PAUSED}), frozenset({None})),
    # remote consoles (``consoles``): a guest whose QEMU runs
    "get_vnc_console": (frozenset({ACTIVE, PAUSED, RESCUED}), None),
    "get_serial_console": (frozenset({ACTIVE, PAUSED, RESCUED}), None),
}

#: the name the error message shows for an internal action name
_PUBLIC_NAME = {
    "reboot_hard": "reboot",
    "change_password": "set_admin_password",
    "create_image": "createImage",
    "create_backup": "createBackup",
    "shelve_offload": "shelveOffload",
    "confirm_resize": "confirmResize",
    "revert_resize": "revertResize",
}


def _allowed_for(action: str) -> tuple[frozenset[str] | None, frozenset[str | None] | None]:
    if action in ACTION_TASKS:
        row = TRANSITIONS[ACTION_TASKS[action]]
        return row.begins_in, row.replaces
    if action in _READS:
        return _READS[action]
    raise ValueError(f"unknown server action {action!r}")


def check_action(instance: Any, action: str) -> None:
    """Refuse ``action`` unless the server's vm_state and task_state allow it.

    An action that begins a task (``ACTION_TASKS``) is allowed where ``TRANSITIONS`` lets that
    task begin; ``update`` and ``console_output`` begin none.

    Args:
        instance: anything with ``uuid``, ``vm_state`` and ``task_state`` (an ``Instance``).
        action: ``stop``, ``start``, ``reboot`` (soft), ``reboot_hard``, ``delete``,
            ``update`` or ``console_output``.

    Raises:
        InstanceInvalidState: 409 ``Cannot '<action>' instance <uuid> while it is in
            vm_state <x>`` (or ``task_state <y>`` when the transition is the obstacle).
        ValueError: an unknown action name (a programming error).
    """
    vm_states, task_states = _allowed_for(action)
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
