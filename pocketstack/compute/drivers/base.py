"""The hypervisor driver contract (after Nova's ``ComputeDriver``).

A driver runs guests on one host for the compute agent (``pocketstack.compute.agent``). The
agent owns the database and the workflow; the driver only touches the hypervisor. Rules every
driver keeps (checked by ``tests/contract/test_compute_drivers.py`` against every driver):

- ``spawn`` that fails cleans up everything it made (processes, disks, files) and raises
  ``DriverError``.
- ``destroy`` of an instance that is already gone succeeds.
- Backend ids (pids, sockets, domain names) stay inside the driver; the agent speaks uuids.
- The driver imports neither the database nor another driver.
- ``capabilities`` declares what the driver supports.

Drivers are registered by name in ``pocketstack.common.drivers.COMPUTE_DRIVERS`` and loaded
from the ``compute_driver`` option; this module imports none of them.

Instances are described by an ``InstanceSpec``, a JSON-safe dict built by the conductor and
sent over the bus::

    {
      "uuid": "…", "name": "vm1", "hostname": "vm1", "project_id": "…",
      "vcpus": 1, "memory_mb": 128, "root_gb": 1, "ephemeral_gb": 0, "swap_mb": 0,
      "image": {"id": "…", "disk_format": "qcow2", "path": "/…/images/cache/<id>",
                "properties": {…}},
      "network_info": [{"port_id": "…", "network_id": "…", "mac_address": "fa:16:3e:…",
                        "mtu": 1450, "devname": "tap…", "vif_type": "noop",
                        "fixed_ips": [{"ip_address": "10.0.0.5", "subnet_id": "…",
                                       "cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1",
                                       "enable_dhcp": true, "dns_nameservers": []}]}],
      "metadata": {…}, "user_data": "<base64>" | null,
      "public_keys": {"mykey": "ssh-ed25519 …"}, "availability_zone": "nova",
      "launch_index": 0,
      "boot_from_volume": false,
      "block_devices": [BlockDevice, ...]        (volumes, the boot volume first)
    }

A ``BlockDevice`` (``compute.block_device.spec_entry``), one attached volume::

    {"volume_id": "…", "attachment_id": "…", "device_name": "/dev/vdb",
     "boot_index": 0 | null, "disk_bus": "virtio",
     "connection_info": {"driver_volume_type": "iscsi" | "nbd", "data": {…}}}

``connection_info`` is the volume API's (docs/block-storage.md): iSCSI ``target_portal``,
``target_iqn``, ``target_lun``, ``auth_method``/``auth_username``/``auth_password`` (CHAP:
the password must never appear on a command line); NBD ``host``, ``port``, ``export``.
``ephemeral_gb`` (GiB) and ``swap_mb`` (MiB, the flavor's ``swap``) > 0 give the guest
local disks (an ext4 one labelled ``ephemeral0``, a swap one labelled ``swap0``) after the
root disk, whether or not it boots from a volume; they are deleted with the instance.
With ``boot_from_volume`` the guest has no local root disk (``image`` may lack ``path``) and
boots from the block device of boot index 0.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import Any

from pocketstack.common.errors import PocketError

InstanceSpec = dict[str, Any]
BlockDevice = dict[str, Any]

#: the iSCSI initiator name of a host's connector (``get_volume_connector``)
INITIATOR_PREFIX = "iqn.2010-10.org.pocketstack:"


class PowerState(enum.IntEnum):
    """Power states, with Nova's numbers (the API's ``OS-EXT-STS:power_state``)."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


class DriverError(PocketError):
    """The hypervisor failed an operation; the message is shown as the server's fault."""

    status = 500
    title = "Hypervisor error"


class InstanceNotRunning(DriverError):
    """An operation needs a running guest (e.g. a soft reboot) and there is none."""

    status = 409


class GuestAgentError(DriverError):
    """The guest has no QEMU guest agent, or it did not do what was asked (409)."""

    status = 409


class ComputeDriver(ABC):
    """Base of every hypervisor driver.

    Args:
        conf: ``pocketstack.common.config.Config``; drivers read ``state_dir``, ``accel``,
            ``compute_vcpus``/``compute_memory_mb``/``compute_disk_gb``.

    Attributes:
        name: registry name (``fake``, ``qemu``).
        capabilities: ``{"console_log": bool, "real_guests": bool, "config_drive": bool}``.
    """

    name = "base"
    capabilities: dict[str, bool] = {}

    def __init__(self, conf: Any):
        self.conf = conf

    def init_host(self, host: str) -> None:  # noqa: B027 - optional hook, empty by default
        """Prepare the host (directories, probes). Called once when the agent starts."""

    @abstractmethod
    def spawn(self, spec: InstanceSpec) -> None:
        """Create and start the guest described by ``spec``; returns when it is running.

        Raises:
            DriverError: nothing of the guest is left behind.
        """

    @abstractmethod
    def destroy(self, uuid: str, destroy_disks: bool = True) -> None:
        """Stop the guest hard and delete its disks and files; succeeds if already gone.
        ``destroy_disks=False`` (Nova's argument): the guest stops, its disks stay (they
        are on shared instance storage, where another host boots them)."""

    @abstractmethod
    def power_off(self, uuid: str, timeout: float = 30.0) -> None:
        """Shut the guest down: ACPI power button, then a hard stop after ``timeout`` s.

        Keeps the disks. Succeeds if the guest is already off.
        """

    @abstractmethod
    def power_on(self, spec: InstanceSpec) -> None:
        """Start a stopped guest from its existing disks (spec as given to ``spawn``)."""

    @abstractmethod
    def reboot(self, spec: InstanceSpec, hard: bool = False) -> None:
        """Soft reboot (ACPI, then hard after a timeout) or hard reset.

        A hard reboot of a guest that is not running starts it.
        """

    @abstractmethod
    def get_power_state(self, uuid: str) -> PowerState:
        """The guest's state now; ``NOSTATE`` when the driver does not know it."""

    @abstractmethod
    def list_instances(self) -> list[str]:
        """Uuids of every guest this driver has anything of on this host (running or not)."""

    @abstractmethod
    def get_console_output(self, uuid: str, length: int | None = None) -> str:
        """The serial console log, the last ``length`` lines when given.

        Raises:
            DriverError: no console log for that instance.
        """

    @abstractmethod
    def get_host_resources(self) -> dict[str, Any]:
        """Capacity of the host: ``{"vcpus": int, "memory_mb": int, "local_gb": int,
        "hypervisor_type": str, "hypervisor_version": int, "cpu_info": str}``."""

    # ------------------------------------------------------------ state actions
    # Optional: a driver without them refuses with DriverError (the server keeps its state
    # and gets the fault). ``PowerState`` after each: pause -> PAUSED, suspend ->
    # SUSPENDED (also across a restart of the agent), rescue/resume/unpause -> RUNNING.

    def pause(self, uuid: str) -> None:
        """Freeze the running guest's vCPUs, keeping its memory (QMP ``stop``).

        Raises:
            InstanceNotRunning: no running guest; DriverError: unknown instance.
        """
        raise DriverError(f"the {self.name} driver cannot pause guests")

    def unpause(self, uuid: str) -> None:
        """Let a paused guest run again (QMP ``cont``).

        Raises:
            InstanceNotRunning: no guest process; DriverError: unknown instance.
        """
        raise DriverError(f"the {self.name} driver cannot unpause guests")

    def suspend(self, uuid: str) -> None:
        """Save the guest's memory and device state to a file of the instance and end the
        guest's process (Nova's libvirt "managed save"); its disks and host resources stay.

        Raises:
            InstanceNotRunning: no running guest; DriverError: the save failed (the guest
                keeps running).
        """
        raise DriverError(f"the {self.name} driver cannot suspend guests")

    def resume(self, spec: InstanceSpec) -> None:
        """Start the suspended guest again from its saved state; the save file is deleted.
        A running guest with nothing saved is left alone (a resume carried out twice).

        Raises:
            DriverError: unknown instance, no saved state, or the restore failed.
        """
        raise DriverError(f"the {self.name} driver cannot resume guests")

    def rescue(self, spec: InstanceSpec, rescue_image: dict[str, Any]) -> None:
        """Boot the guest from a new disk made of ``rescue_image`` (the spec's ``image``
        shape, with a local ``path``), with its own root disk attached too.

        Raises:
            DriverError: unknown instance, or the rescue boot failed (the rescue disk is
                removed).
        """
        raise DriverError(f"the {self.name} driver cannot rescue guests")

    def unrescue(self, spec: InstanceSpec) -> None:
        """End a rescue: delete the rescue disk and boot from the root disk again.

        Raises:
            DriverError: unknown instance, or the guest failed to start.
        """
        raise DriverError(f"the {self.name} driver cannot unrescue guests")

    def set_admin_password(self, uuid: str, user: str, password: str) -> None:
        """Set ``user``'s password inside the guest through its QEMU guest agent.

        Raises:
            GuestAgentError: the guest has no agent, or it failed or did not answer.
        """
        raise GuestAgentError(f"the {self.name} driver cannot set passwords")

    def snapshot(self, uuid: str, dest: str, quiesce: bool) -> str:
        """Write a consistent copy of the guest's root disk to the path ``dest`` as a
        standalone qcow2 image (``createImage``), the guest running, paused, stopped or
        suspended, and left so; ``quiesce``: freeze the guest's filesystems through its
        guest agent while the copy is made, if it has one that answers. Returns the
        snapshot's event details in words, saying whether the guest was quiesced.

        Raises:
            DriverError: unknown instance, or the copy failed.
        """
        raise DriverError(f"the {self.name} driver cannot snapshot guests")

    def inject_nmi(self, uuid: str) -> None:
        """Inject a non-maskable interrupt into the guest (a crash dump in a guest set up
        for it).

        Raises:
            InstanceNotRunning: no guest process; DriverError: unknown instance.
        """
        raise DriverError(f"the {self.name} driver cannot inject an NMI")

    def reset_network(self, spec: InstanceSpec) -> None:
        """Plug the guest's VIFs on the host again (taps made again at their MTU).

        Raises:
            DriverError: unknown instance, or a VIF could not be plugged.
        """
        raise DriverError(f"the {self.name} driver cannot reset networks")

    # ------------------------------------------------------------ volumes

    def get_volume_connector(self, host: str) -> dict[str, Any]:
        """What the volume API needs to export a volume to this host (os-brick's connector):
        ``{"host", "ip" (conf ``local_ip`` or 127.0.0.1), "initiator"
        ("iqn.2010-10.org.pocketstack:<host>"), "platform": "x86_64", "os_type": "linux",
        "multipath": False}``."""
        return {
            "host": host,
            "ip": getattr(self.conf, "local_ip", "") or "127.0.0.1",
            "initiator": INITIATOR_PREFIX + host,
            "platform": "x86_64",
            "os_type": "linux",
            "multipath": False,
        }

    @abstractmethod
    def attach_volume(self, uuid: str, block_device: BlockDevice) -> None:
        """Give the guest the volume of ``block_device`` (hot-plug when it runs; a stopped
        guest gets it when started from a spec that lists it).

        Raises:
            DriverError: unknown instance, or the disk could not be plugged (nothing of it
                is left behind).
        """

    @abstractmethod
    def detach_volume(self, uuid: str, volume_id: str) -> None:
        """Take the volume away from the guest; succeeds when it is not attached.

        Raises:
            DriverError: the guest did not release the disk in time (it stays attached).
        """

    @abstractmethod
    def extend_volume(self, uuid: str, volume_id: str, new_size: int) -> None:
        """Let a running guest see the attached volume's new size (``new_size`` bytes).

        Raises:
            DriverError: the volume is not attached, or the resize failed.
        """

    def attached_volumes(self, uuid: str) -> list[str]:
        """The volume ids the guest has now (for tests and reconciliation)."""
        return []

    # ------------------------------------------------------------ interfaces, diagnostics

    def attach_interface(self, uuid: str, vif: dict[str, Any]) -> None:
        """Give the guest a NIC for ``vif`` (a ``network_info`` entry: ``port_id``,
        ``mac_address``, ``devname``, ``vif_type``, ``mtu``): hot-plugged when it runs, from
        its spec when started otherwise. Drivers without it refuse.

        Raises:
            DriverError: unknown instance, the port is plugged already, or the NIC could not
                be plugged (nothing of it is left behind).
        """
        raise DriverError(f"the {self.name} driver cannot attach interfaces")

    def detach_interface(self, uuid: str, port_id: str) -> None:
        """Take the port's NIC away from the guest; succeeds when it has none.

        Raises:
            DriverError: the guest did not release the NIC in time (it stays plugged).
        """
        raise DriverError(f"the {self.name} driver cannot detach interfaces")

    def get_console(self, uuid: str, kind: str) -> dict[str, Any]:
        """Where the console proxy reaches a running guest's console ``kind``: ``vnc`` (an
        RFB server) or ``serial`` (the first serial port as a byte stream). Returns
        ``{"unix": path}``, a stream socket on this host (a path starting with NUL is an
        abstract socket); the proxy connects to it once per console session.

        Raises:
            DriverError: unknown instance, not running, or no such console (the driver or
                this guest has none).
        """
        raise DriverError(f"the {self.name} driver has no {kind} console")

    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        """The guest's figures in Nova's 2.48 diagnostics shape: ``state``, ``driver``,
        ``hypervisor``, ``hypervisor_os``, ``uptime`` (s), ``config_drive``, ``num_cpus``,
        ``num_nics``, ``num_disks``, ``memory_details`` {``maximum``, ``used``} (MiB),
        ``cpu_details`` [{``id``, ``time`` (ns), ``utilisation``}], ``nic_details``
        [{``mac_address``, ``rx_octets``, ``rx_errors``, ``rx_drop``, ``rx_packets``,
        ``rx_rate``, ``tx_*`` the same}], ``disk_details`` [{``read_bytes``,
        ``read_requests``, ``write_bytes``, ``write_requests``, ``errors_count``}]; figures
        the driver cannot know are None.

        Raises:
            DriverError: unknown instance, or the driver has no diagnostics.
        """
        raise DriverError(f"the {self.name} driver has no diagnostics")

    # -- resize and cold migration (``compute.agent_migrations``; docs/server-actions.md)

    def resize_target_dir(self, uuid: str) -> str:
        """On a move's destination: make the empty instance directory the source copies the
        guest's disks into, and return its path ("" for a driver without files).

        Raises:
            DriverError: the instance exists here already, or the driver cannot move guests.
        """
        raise DriverError(f"the {self.name} driver cannot resize or migrate guests")

    def park_instance(self, uuid: str) -> None:
        """On a move's source: power the guest off and park it: kept for a revert, no
        longer listed by ``list_instances`` (so the destination may hold the same uuid).

        Raises:
            DriverError: unknown instance.
        """
        raise DriverError(f"the {self.name} driver cannot resize or migrate guests")

    def copy_parked_disks(self, uuid: str, dest_dir: str) -> None:
        """On a move's source: copy the parked guest's disks into ``dest_dir`` (the
        destination's ``resize_target_dir``; "" copies nothing).

        Raises:
            DriverError: no parked guest, or the copy failed.
        """
        raise DriverError(f"the {self.name} driver cannot resize or migrate guests")

    def finish_migration(self, spec: InstanceSpec, power_on: bool) -> None:
        """On a move's destination: grow the copied root disk to ``spec["root_gb"]`` and
        start the guest with the spec's flavor (``vcpus``, ``memory_mb``) and ports (left
        off unless ``power_on``).

        Raises:
            DriverError: any step failed (the destination's files are then removed).
        """
        raise DriverError(f"the {self.name} driver cannot resize or migrate guests")

    def confirm_migration(self, uuid: str) -> None:  # noqa: B027 - optional hook
        """On the source of a confirmed move: delete the parked guest; idempotent."""

    def finish_revert_migration(self, spec: InstanceSpec, power_on: bool) -> None:
        """On the source of a reverted move: unpark the guest (its old flavor, ``spec``)
        and start it when ``power_on``.

        Raises:
            DriverError: no parked guest of that uuid here.
        """
        raise DriverError(f"the {self.name} driver cannot resize or migrate guests")

    def parked_instances(self) -> list[str]:
        """Uuids of the guests parked by ``park_instance`` on this host."""
        return []
