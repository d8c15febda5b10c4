"""Compute's bus messages: one table per server kind, and typed clients on top.

Targets: the conductor serves ``conductor``; the agent of host ``h`` serves ``compute.h``.
Each table (``AGENT_MESSAGES``, ``CONDUCTOR_MESSAGES``) is the whole bus API of its server:
the typed client below sends only its messages and the server's ``bus.serve`` dispatches only
them, to the endpoint method of the same name (``ComputeAgent``, ``Conductor``); any other
name is refused. ``cast`` fires and forgets; ``call`` waits up to the message's timeout
(seconds) and raises ``MessagingTimeout`` (503) when the peer does not answer. Every payload
is JSON with a version field (the bus adds it and the caller's context without its token);
change a message's arguments incompatibly and you bump its ``version``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Bus, Message, MessageTable
from pocketstack.compute import live_migration_rpc, rebuild_rpc, resize_rpc

if TYPE_CHECKING:
    from pocketstack.compute.request_spec import RequestSpec

#: the compute agent's messages (target ``compute.<host>``), handled by ``ComputeAgent``
AGENT_MESSAGES = MessageTable(
    "compute",
    [
        Message("build_and_run_instance", CAST),
        Message("terminate_instance", CAST),
        Message("stop_instance", CAST),
        Message("start_instance", CAST),
        Message("reboot_instance", CAST),
        Message("get_console_output", CALL, timeout=30.0),
        # state actions (``server_actions``): casts that end in a report, like stop/start
        Message("pause_instance", CAST),
        Message("unpause_instance", CAST),
        Message("suspend_instance", CAST),
        Message("resume_instance", CAST),
        Message("rescue_instance", CAST),
        Message("unrescue_instance", CAST),
        # createImage (``server_actions.create_image``): ends in instance_snapshot_finished
        Message("snapshot_instance", CAST),
        # createBackup (``server_actions.create_backup``): the same, then the rotation
        Message("backup_instance", CAST),
        # shelve, shelveOffload, unshelve (``server_actions``, ``Conductor.unshelve_instance``)
        Message("shelve_instance", CAST),
        Message("shelve_offload_instance", CAST),
        Message("unshelve_instance", CAST),
        # calls whose failure the user sees as the API's answer (409)
        Message("set_admin_password", CALL, timeout=60.0),
        Message("trigger_crash_dump", CALL, timeout=30.0),
        Message("reset_network", CALL, timeout=60.0),
        # volumes (docs/block-storage.md "Nova's side"): the controller runs the attach
        # flow and asks the host for its connector and to hot-plug/unplug the disk
        Message("get_volume_connector", CALL, timeout=30.0),
        Message("attach_volume", CALL, timeout=120.0),
        Message("detach_volume", CALL, timeout=120.0),
        Message("extend_volume", CAST),
        # interfaces (os-interface): the controller allocates the port, the host plugs it
        Message("attach_interface", CALL, timeout=120.0),
        Message("detach_interface", CALL, timeout=120.0),
        Message("get_diagnostics", CALL, timeout=30.0),
        Message("get_console", CALL, timeout=30.0),
        # live migration (``live_migration_rpc``)
        *live_migration_rpc.AGENT_MESSAGES,
        # resize and cold migration (``resize_rpc``)
        *resize_rpc.AGENT_MESSAGES,
        # rebuild (``rebuild_rpc``)
        *rebuild_rpc.AGENT_MESSAGES,
    ],
    # the agents' operations on their own threads in one process: a spawn does not wait
    # behind the conductor's queued builds (``Message.lane``)
    lane="agents",
)

#: the lane (``Message.lane``) of the agents' frequent, short reports to the conductor
REPORTS = "reports"

#: the conductor's messages (target ``conductor``), handled by ``Conductor``
CONDUCTOR_MESSAGES = MessageTable(
    "conductor",
    [
        # version 2: a request spec, and no user's token
        Message("build_instances", CAST, version=2),
        Message("delete_instance", CALL, timeout=30.0),
        Message("terminate_finished", CAST),
        # unshelve of an offloaded server: schedule, bind its ports, cast the spawn
        Message("unshelve_instance", CAST),
        # live migration (``live_migration_rpc``)
        *live_migration_rpc.CONDUCTOR_MESSAGES,
        # resize and cold migration (``resize_rpc``)
        *resize_rpc.CONDUCTOR_MESSAGES,
        # rebuild (``rebuild_rpc``)
        *rebuild_rpc.CONDUCTOR_MESSAGES,
        # the compute agent's reports (``agent_reports``): an agent holds no database
        # credentials, it reads and writes its servers through these. Reads and the guarded
        # start of a step are calls; outcomes are casts, which wait in the conductor's queue
        # while no controller runs (a controller restart loses none). The frequent ones run
        # on a lane of their own (``Message.lane``): in one process, 1,000 queued builds
        # kept heartbeats from being written and hosts looked down.
        Message("instances_on_host", CALL, timeout=30.0, lane=REPORTS),
        Message("instance_hosts", CALL, timeout=30.0),
        Message("action_event_start", CALL, timeout=30.0, lane=REPORTS),
        Message("action_event_finish", CAST, lane=REPORTS),
        Message("instance_spawned", CAST, lane=REPORTS),
        Message("instance_spawn_failed", CAST, lane=REPORTS),
        Message("instance_power_action_finished", CAST),
        Message("instance_terminate_failed", CAST),
        Message("snapshot_task_changed", CALL, timeout=30.0),
        Message("instance_snapshot_finished", CAST),
        Message("instance_shelved", CAST),
        Message("instance_offloaded", CAST),
        Message("instance_unshelved", CAST),
        Message("instance_power_state_changed", CAST, lane=REPORTS),
        Message("report_service", CAST, lane=REPORTS),
        # the heartbeats of many hosts in one write (a fake fleet's)
        Message("report_services", CAST, lane=REPORTS),
        Message("report_compute_node", CAST, lane=REPORTS),
    ],
)

#: the keys of ``report_compute_node``'s ``allocation``: the host's ``[compute]`` options the
#: scheduler applies to its resources
ALLOCATION_KEYS = (
    "cpu_allocation_ratio",
    "ram_allocation_ratio",
    "disk_allocation_ratio",
    "reserved_host_memory_mb",
)

#: every compute message table by topic
MESSAGES = {"compute": AGENT_MESSAGES, "conductor": CONDUCTOR_MESSAGES}


class ComputeAgentClient(
    resize_rpc.ResizeAgentClient,
    rebuild_rpc.RebuildAgentClient,
    live_migration_rpc.LiveMigrationAgentClient,
):
    """Messages to the compute agent of a host (target ``compute.<host>``)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def _send(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        return self.bus.send(ctx, f"compute.{host}", AGENT_MESSAGES[method], **args)

    def build_and_run_instance(self, ctx: RequestContext, host: str, spec: dict[str, Any]) -> None:
        """Spawn the guest of ``spec`` (an InstanceSpec, ``instance_spec.build_spec``)."""
        self._send(ctx, host, "build_and_run_instance", spec=spec)

    def terminate_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Destroy the guest, then let the conductor finish the delete."""
        self._send(ctx, host, "terminate_instance", instance_uuid=instance_uuid)

    def stop_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Power the guest off."""
        self._send(ctx, host, "stop_instance", instance_uuid=instance_uuid)

    def start_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Power the guest on."""
        self._send(ctx, host, "start_instance", instance_uuid=instance_uuid)

    def reboot_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, hard: bool
    ) -> None:
        """Reboot the guest (soft: ACPI first; hard: reset)."""
        self._send(ctx, host, "reboot_instance", instance_uuid=instance_uuid, hard=hard)

    def pause_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Freeze the guest's vCPUs (QMP ``stop``) -> PAUSED."""
        self._send(ctx, host, "pause_instance", instance_uuid=instance_uuid)

    def unpause_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Let a paused guest run again (QMP ``cont``) -> ACTIVE."""
        self._send(ctx, host, "unpause_instance", instance_uuid=instance_uuid)

    def suspend_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Save the guest's memory to disk and end its process -> SUSPENDED."""
        self._send(ctx, host, "suspend_instance", instance_uuid=instance_uuid)

    def resume_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Restore a suspended guest from its saved memory -> ACTIVE."""
        self._send(ctx, host, "resume_instance", instance_uuid=instance_uuid)

    def rescue_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Boot the rescue image (the stored spec's ``rescue_image``) with the root disk
        attached too -> RESCUED."""
        self._send(ctx, host, "rescue_instance", instance_uuid=instance_uuid)

    def unrescue_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Boot the guest from its own root disk again -> ACTIVE."""
        self._send(ctx, host, "unrescue_instance", instance_uuid=instance_uuid)

    def snapshot_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Snapshot the server's root disk into the image its stored spec names
        (``snapshot``), then report ``instance_snapshot_finished``."""
        self._send(ctx, host, "snapshot_instance", instance_uuid=instance_uuid)

    def backup_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Back up the server's root disk into the image its stored spec names
        (``snapshot``, with its ``backup``), then report ``instance_snapshot_finished``."""
        self._send(ctx, host, "backup_instance", instance_uuid=instance_uuid)

    def shelve_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Power the guest off and upload its disk into the shelve image (the stored spec's
        ``shelve``), then report ``instance_shelved``."""
        self._send(ctx, host, "shelve_instance", instance_uuid=instance_uuid)

    def shelve_offload_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Destroy a shelved server's guest, then report ``instance_offloaded``."""
        self._send(ctx, host, "shelve_offload_instance", instance_uuid=instance_uuid)

    def unshelve_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Power a shelved server on again (no ``spec``), or spawn an offloaded one placed
        on ``host`` from ``spec``; then report ``instance_unshelved``."""
        self._send(ctx, host, "unshelve_instance", instance_uuid=instance_uuid, spec=spec)

    def set_admin_password(
        self, ctx: RequestContext, host: str, instance_uuid: str, user: str, password: str
    ) -> None:
        """Set ``user``'s password in the guest through its guest agent; waits up to 60 s
        and raises what the agent raised (``GuestAgentError``: 409)."""
        self._send(
            ctx,
            host,
            "set_admin_password",
            instance_uuid=instance_uuid,
            user=user,
            password=password,
        )

    def trigger_crash_dump(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Inject an NMI into the guest; waits up to 30 s."""
        self._send(ctx, host, "trigger_crash_dump", instance_uuid=instance_uuid)

    def reset_network(
        self, ctx: RequestContext, host: str, instance_uuid: str, spec: dict[str, Any]
    ) -> None:
        """Plug the VIFs of ``spec`` (the server's stored InstanceSpec) again on the host;
        waits up to 60 s."""
        self._send(ctx, host, "reset_network", instance_uuid=instance_uuid, spec=spec)

    def get_console_output(
        self, ctx: RequestContext, host: str, instance_uuid: str, length: int | None
    ) -> str:
        """The serial console log (last ``length`` lines); waits up to 30 s."""
        return self._send(
            ctx, host, "get_console_output", instance_uuid=instance_uuid, length=length
        )

    def get_volume_connector(self, ctx: RequestContext, host: str) -> dict[str, Any]:
        """The host's iSCSI/NBD connector (os-brick's shape: ``host``, ``ip``,
        ``initiator``, ``platform``, ``os_type``, ``multipath``); waits up to 30 s."""
        return self._send(ctx, host, "get_volume_connector")

    def attach_volume(
        self, ctx: RequestContext, host: str, instance_uuid: str, block_device: dict[str, Any]
    ) -> None:
        """Hot-plug a volume (``block_device``: a ``block_devices`` entry of the
        InstanceSpec, with its ``connection_info``); waits up to 120 s."""
        self._send(
            ctx, host, "attach_volume", instance_uuid=instance_uuid, block_device=block_device
        )

    def detach_volume(
        self, ctx: RequestContext, host: str, instance_uuid: str, volume_id: str
    ) -> None:
        """Unplug a volume from the guest (gone already is fine); waits up to 120 s."""
        self._send(ctx, host, "detach_volume", instance_uuid=instance_uuid, volume_id=volume_id)

    def attach_interface(
        self, ctx: RequestContext, host: str, instance_uuid: str, vif: dict[str, Any]
    ) -> None:
        """Plug a NIC for ``vif`` (a ``network_info`` entry) into the guest; waits up to
        120 s."""
        self._send(ctx, host, "attach_interface", instance_uuid=instance_uuid, vif=vif)

    def detach_interface(
        self, ctx: RequestContext, host: str, instance_uuid: str, port_id: str
    ) -> None:
        """Unplug the port's NIC from the guest (gone already is fine); waits up to 120 s."""
        self._send(ctx, host, "detach_interface", instance_uuid=instance_uuid, port_id=port_id)

    def get_diagnostics(self, ctx: RequestContext, host: str, instance_uuid: str) -> dict[str, Any]:
        """The guest's diagnostics (``ComputeDriver.get_diagnostics``); waits up to 30 s."""
        return self._send(ctx, host, "get_diagnostics", instance_uuid=instance_uuid)

    def get_console(
        self, ctx: RequestContext, host: str, instance_uuid: str, kind: str
    ) -> dict[str, Any]:
        """Where the console proxy reaches the guest's ``kind`` console (``vnc``/``serial``):
        ``{"unix": path}`` (``ComputeDriver.get_console``); waits up to 30 s."""
        return self._send(ctx, host, "get_console", instance_uuid=instance_uuid, kind=kind)

    def extend_volume(
        self, ctx: RequestContext, host: str, instance_uuid: str, volume_id: str, new_size: int
    ) -> None:
        """Let the guest see an attached volume's new size (``new_size`` bytes); a cast."""
        self._send(
            ctx,
            host,
            "extend_volume",
            instance_uuid=instance_uuid,
            volume_id=volume_id,
            new_size=new_size,
        )


class ConductorClient(
    resize_rpc.ResizeConductorClient,
    rebuild_rpc.RebuildConductorClient,
    live_migration_rpc.LiveMigrationConductorClient,
):
    """Messages to the conductor (target ``conductor``, any controller)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def _send(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        return self.bus.send(ctx, "conductor", CONDUCTOR_MESSAGES[method], **args)

    def build_instances(
        self, ctx: RequestContext, instance_uuids: list[str], request_spec: RequestSpec
    ) -> None:
        """Schedule, allocate networks and hand the servers of one request to their compute
        agents; ``request_spec``: what the API learned (``request_spec.RequestSpec``)."""
        self._send(ctx, "build_instances", instance_uuids=instance_uuids, request_spec=request_spec)

    def delete_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Carry out a recorded delete: hand it to the server's agent, or finish it at once
        (no host, or its host is down); waits up to 30 s for that decision."""
        self._send(ctx, "delete_instance", instance_uuid=instance_uuid)

    def terminate_finished(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The agent destroyed the guest: release, deallocate, mark the server deleted."""
        self._send(ctx, "terminate_finished", instance_uuid=instance_uuid)

    def unshelve_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        availability_zone: str | None,
        host: str | None,
        unpin_az: bool = False,
    ) -> None:
        """Unshelve an offloaded server (task ``unshelving``): schedule it (in
        ``availability_zone``, else its pinned zone unless ``unpin_az``; or on ``host``),
        bind its ports there, cast the spawn."""
        self._send(
            ctx,
            "unshelve_instance",
            instance_uuid=instance_uuid,
            availability_zone=availability_zone,
            host=host,
            unpin_az=unpin_az,
        )

    # -- the compute agent's reports (handled by ``agent_reports.AgentReports``) ----------
    # ``fault`` arguments are ``{"message": str, "code": int, "traceback": str | None}``.

    def instances_on_host(self, ctx: RequestContext, host: str) -> list[dict[str, Any]]:
        """The live servers of ``host`` as ``agent_reports.instance_view`` dicts (with
        ``request_id``: the newest unfinished action's, or None); waits up to 30 s."""
        return self._send(ctx, "instances_on_host", host=host)

    def instance_hosts(self, ctx: RequestContext, uuids: list[str]) -> dict[str, str | None]:
        """``{uuid: host}`` of those of ``uuids`` that are live servers (a deleted or unknown
        one is absent); waits up to 30 s."""
        return self._send(ctx, "instance_hosts", uuids=uuids)

    def action_event_start(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        event: str,
        host: str,
        expected_task_states: list[str | None] | None,
    ) -> dict[str, Any] | None:
        """Begin step ``event`` of the action of ``ctx.request_id`` if the server is live,
        on ``host`` and in one of ``expected_task_states`` (None: any): the server as an
        ``instance_view`` dict, or None (nothing recorded: it no longer waits for this)."""
        return self._send(
            ctx,
            "action_event_start",
            instance_uuid=instance_uuid,
            event=event,
            host=host,
            expected_task_states=expected_task_states,
        )

    def action_event_finish(
        self, ctx: RequestContext, instance_uuid: str, event: str, traceback: str | None
    ) -> None:
        """Finish step ``event`` (``Error`` with ``traceback`` when given, else ``Success``)."""
        self._send(
            ctx,
            "action_event_finish",
            instance_uuid=instance_uuid,
            event=event,
            traceback=traceback,
        )

    def instance_spawned(
        self, ctx: RequestContext, instance_uuid: str, host: str, power_state: int
    ) -> None:
        """The guest runs: spawn step done, server ACTIVE, ``create`` action finished."""
        self._send(
            ctx, "instance_spawned", instance_uuid=instance_uuid, host=host, power_state=power_state
        )

    def instance_spawn_failed(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any]
    ) -> None:
        """The spawn failed (the driver cleaned up): server ERROR with ``fault``, claim and
        ports released."""
        self._send(
            ctx, "instance_spawn_failed", instance_uuid=instance_uuid, host=host, fault=fault
        )

    def instance_power_action_finished(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        event: str,
        task_state: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """A stop/start/reboot (``event``, begun in ``task_state``) ended with the guest in
        ``power_state``; ``fault`` when it failed."""
        self._send(
            ctx,
            "instance_power_action_finished",
            instance_uuid=instance_uuid,
            event=event,
            task_state=task_state,
            power_state=power_state,
            fault=fault,
        )

    def snapshot_task_changed(
        self, ctx: RequestContext, instance_uuid: str, from_task: str, to_task: str
    ) -> bool:
        """A snapshot moved on (``image_snapshot`` -> ``image_pending_upload`` ->
        ``image_uploading``); whether the server was still in ``from_task``."""
        result: bool = self._send(
            ctx,
            "snapshot_task_changed",
            instance_uuid=instance_uuid,
            from_task=from_task,
            to_task=to_task,
        )
        return result

    def instance_snapshot_finished(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        image_id: str | None,
        details: str | None,
        fault: dict[str, Any] | None,
    ) -> None:
        """A snapshot into ``image_id`` ended (``details``: the step's words); ``fault``
        when it failed (the image is then deleted)."""
        self._send(
            ctx,
            "instance_snapshot_finished",
            instance_uuid=instance_uuid,
            image_id=image_id,
            details=details,
            fault=fault,
        )

    def instance_shelved(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        image_id: str | None,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """A shelve's upload into ``image_id`` ended (``fault`` when it failed)."""
        self._send(
            ctx,
            "instance_shelved",
            instance_uuid=instance_uuid,
            image_id=image_id,
            power_state=power_state,
            fault=fault,
        )

    def instance_offloaded(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any] | None
    ) -> None:
        """A shelved server's guest was destroyed on ``host`` (``fault`` when it failed)."""
        self._send(ctx, "instance_offloaded", instance_uuid=instance_uuid, host=host, fault=fault)

    def instance_unshelved(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        host: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """An unshelve on ``host`` ended (``fault`` when it failed)."""
        self._send(
            ctx,
            "instance_unshelved",
            instance_uuid=instance_uuid,
            host=host,
            power_state=power_state,
            fault=fault,
        )

    def instance_terminate_failed(
        self, ctx: RequestContext, instance_uuid: str, fault: dict[str, Any]
    ) -> None:
        """Destroying the guest failed: server ERROR with ``fault`` (delete it again)."""
        self._send(ctx, "instance_terminate_failed", instance_uuid=instance_uuid, fault=fault)

    def instance_power_state_changed(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        expected_vm_state: str,
        power_state: int,
        vm_state: str | None,
    ) -> None:
        """The agent found the guest in ``power_state`` (periodic sync, shutdown): record it
        (and ``vm_state`` when given) if the server is still ``expected_vm_state`` with no
        task."""
        self._send(
            ctx,
            "instance_power_state_changed",
            instance_uuid=instance_uuid,
            expected_vm_state=expected_vm_state,
            power_state=power_state,
            vm_state=vm_state,
        )

    def report_service(
        self, ctx: RequestContext, host: str, binary: str, topic: str, availability_zone: str
    ) -> None:
        """Heartbeat of ``binary`` on ``host`` (``liveness.report_service``); a cast."""
        self._send(
            ctx,
            "report_service",
            host=host,
            binary=binary,
            topic=topic,
            availability_zone=availability_zone,
        )

    def report_services(
        self,
        ctx: RequestContext,
        hosts: list[str],
        binary: str,
        topic: str,
        availability_zone: str,
    ) -> None:
        """Heartbeats of ``binary`` on every one of ``hosts`` (``liveness.report_services``,
        one write); a cast."""
        self._send(
            ctx,
            "report_services",
            hosts=list(hosts),
            binary=binary,
            topic=topic,
            availability_zone=availability_zone,
        )

    def report_compute_node(
        self,
        ctx: RequestContext,
        host: str,
        resources: dict[str, Any],
        allocation: dict[str, Any],
    ) -> None:
        """The host's resources (driver's ``get_host_resources()``) and its ``allocation``
        settings (``cpu_allocation_ratio``, ``ram_allocation_ratio``,
        ``disk_allocation_ratio``, ``reserved_host_memory_mb``); a cast."""
        self._send(
            ctx, "report_compute_node", host=host, resources=resources, allocation=allocation
        )
