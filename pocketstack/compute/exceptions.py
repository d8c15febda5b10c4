"""Compute errors, named by meaning (rendered in Nova's error style by the API layer).

Messages follow Nova's where a client or a user may read them (e.g. ``Instance <id> could not
be found.``). These are the server lifecycle's errors; flavor, keypair, quota and hypervisor
errors live next to their managers (``flavors.py``, ``keypairs.py``...).

Constructors keep ``PocketError``'s signature (a message) so the bus can rebuild an error
sent back from an agent; ``for_id`` helpers build Nova's messages.
"""

from __future__ import annotations

from pocketstack.common import errors


class ServerNotFound(errors.NotFound):
    """404: unknown server, or another project's (never revealed)."""

    @classmethod
    def for_id(cls, server_id: str) -> ServerNotFound:
        """The error with Nova's message for ``server_id``."""
        return cls(f"Instance {server_id} could not be found.")


class InstanceActionNotFound(errors.NotFound):
    """404: no action with that request id on that server."""

    @classmethod
    def for_request(cls, request_id: str, server_id: str) -> InstanceActionNotFound:
        """The error with Nova's message."""
        return cls(f"Action for request_id {request_id} on instance {server_id} not found")


class InstanceInvalidState(errors.InvalidState):
    """409: ``Cannot '<action>' instance <uuid> while it is in vm_state <x>``."""


class InstanceNotReady(errors.Conflict):
    """409: the server is not ready for this request (e.g. console of a building server)."""


class ConsoleNotAvailable(errors.NotFound):
    """404: the hypervisor has no console log for this server."""

    def default_message(self) -> str:
        return "Guest does not have a console available."


class MetadataItemNotFound(errors.NotFound):
    """404: ``DELETE /servers/{id}/metadata/{key}`` of a key the server does not have."""

    def default_message(self) -> str:
        return "Metadata item was not found"


class FlavorMemoryTooSmall(errors.BadRequest):
    """400: the image's ``min_ram`` is more than the flavor's RAM."""

    def default_message(self) -> str:
        return "Flavor's memory is too small for requested image."


class FlavorDiskTooSmall(errors.BadRequest):
    """400: the image's ``min_disk`` or size is more than the flavor's root disk."""

    def default_message(self) -> str:
        return "Flavor's disk is too small for requested image."


class ImageNotActive(errors.BadRequest):
    """400: the image is not ``active`` (queued, saving, deactivated)."""

    @classmethod
    def for_id(cls, image_id: str) -> ImageNotActive:
        """The error with Nova's message."""
        return cls(f"Image {image_id} is not active.")


class AvailabilityZoneNotFound(errors.BadRequest):
    """400: Nova answers an unknown requested availability zone with a 400."""

    def default_message(self) -> str:
        return "The requested availability zone is not available"


class VolumeBDMNotFound(errors.NotFound):
    """404: the server has no such volume attached (Nova's ``VolumeBDMNotFound``)."""

    @classmethod
    def for_volume(cls, volume_id: str) -> VolumeBDMNotFound:
        """The error with Nova's message."""
        return cls(f"No volume Block Device Mapping with id {volume_id}.")


class InvalidVolume(errors.BadRequest):
    """400: a volume that cannot be used here (Nova's ``InvalidVolume``: wrong status,
    another availability zone, attached already)."""

    @classmethod
    def because(cls, reason: str) -> InvalidVolume:
        """The error with Nova's message: ``Invalid volume: <reason>``."""
        return cls(f"Invalid volume: {reason}")


class VolumeNotCreated(errors.PocketError):
    """500: a volume the build created did not become ``available`` in time (or failed)."""

    status = 500


class InstanceIsLocked(errors.Conflict):
    """409: a locked server refuses the actions of a non-admin (Nova's ``InstanceIsLocked``)."""

    @classmethod
    def for_id(cls, server_id: str) -> InstanceIsLocked:
        """The error with Nova's message for ``server_id``."""
        return cls(f"Instance {server_id} is locked")


class InstanceNotRescuable(errors.BadRequest):
    """400: a server that cannot be rescued (a volume-backed one, as Nova before 2.87)."""


class GuestAgentNotEnabled(errors.Conflict):
    """409: ``changePassword`` of a guest without a QEMU guest agent (the image property
    ``hw_qemu_guest_agent``), Nova's ``InstanceAgentNotEnabled``."""

    def default_message(self) -> str:
        return "QEMU guest agent is not enabled"


class PasswordSetFailed(errors.Conflict):
    """409: the guest agent did not set the password (Nova's ``InstancePasswordSetFailed``)."""


class ConsoleTypeInvalid(errors.BadRequest):
    """400: a console type the protocol does not have (Nova's ``ConsoleTypeInvalid``)."""

    @classmethod
    def for_type(cls, console_type: str) -> ConsoleTypeInvalid:
        """The error with Nova's message."""
        return cls(f"Invalid console type {console_type}")


class ConsoleTypeUnavailable(errors.BadRequest):
    """400: a console this cloud or this guest does not offer (Nova's
    ``ConsoleTypeUnavailable``: SPICE, RDP, MKS, or a guest started without the socket)."""

    @classmethod
    def for_type(cls, console_type: str) -> ConsoleTypeUnavailable:
        """The error with Nova's message."""
        return cls(f"Unavailable console type {console_type}.")
