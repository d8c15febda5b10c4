"""Block storage errors, named and worded as Cinder's (``cinder/exception.py``); the API
renders them as Cinder's fault bodies (``api/errors.py``)."""

from __future__ import annotations

from pocketstack.common import errors


class VolumeNotFound(errors.NotFound):
    """404: no volume with that id visible to the caller (another project's is 404 too)."""

    def __init__(self, volume_id: str):
        super().__init__(f"Volume {volume_id} could not be found.")


class SnapshotNotFound(errors.NotFound):
    """404: no snapshot with that id visible to the caller."""

    def __init__(self, snapshot_id: str):
        super().__init__(f"Snapshot {snapshot_id} could not be found.")


class VolumeTypeNotFound(errors.NotFound):
    """404: no volume type with that id (or name) visible to the caller."""

    def __init__(self, type_id: str):
        super().__init__(f"Volume type {type_id} could not be found.")


class VolumeTypeNotFoundByName(errors.NotFound):
    """404: no volume type of that name (Cinder's message for a create naming a type)."""

    def __init__(self, name: str):
        super().__init__(f"Volume type with name {name} could not be found.")


class VolumeTypeExtraSpecsNotFound(errors.NotFound):
    """404: the type has no such extra spec."""

    def __init__(self, type_id: str, key: str):
        super().__init__(f"Volume Type {type_id} has no extra specs with key {key}.")


class VolumeMetadataNotFound(errors.NotFound):
    """404: the volume has no such metadata key."""

    def __init__(self, volume_id: str, key: str):
        super().__init__(f"Volume {volume_id} has no metadata with key {key}.")


class SnapshotMetadataNotFound(errors.NotFound):
    """404: the snapshot has no such metadata key."""

    def __init__(self, snapshot_id: str, key: str):
        super().__init__(f"Snapshot {snapshot_id} has no metadata with key {key}.")


class VolumeAttachmentNotFound(errors.NotFound):
    """404: no attachment with that id visible to the caller."""

    def __init__(self, attachment_id: str):
        super().__init__(
            f"Volume attachment could not be found with filter: attachment_id = {attachment_id}."
        )


class VolumeTypeAccessNotFound(errors.NotFound):
    """404: the project has no access to the private type."""

    def __init__(self, type_id: str, project_id: str):
        super().__init__(f"Volume type access not found for {type_id} / {project_id} combination.")


class ServiceNotFound(errors.NotFound):
    """404: no volume service on that host with that binary."""

    def __init__(self, host: str, binary: str):
        super().__init__(f"Service {binary} on host {host} could not be found.")


class BackupNotFound(errors.NotFound):
    """404: no backup with that id visible to the caller (another project's is 404 too)."""

    def __init__(self, backup_id: str):
        super().__init__(f"Backup {backup_id} could not be found.")


class InvalidBackup(errors.BadRequest):
    """400: the backup's status, dependents or parent forbid the action."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid backup: {reason}")


class InvalidInput(errors.BadRequest):
    """400: Cinder's generic "Invalid input received: ..."."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid input received: {reason}")


class InvalidVolume(errors.BadRequest):
    """400: the volume's status (or attachments, snapshots) forbids the action."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid volume: {reason}")


class InvalidSnapshot(errors.BadRequest):
    """400: the snapshot's status forbids the action."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid snapshot: {reason}")


class InvalidVolumeType(errors.BadRequest):
    """400: a bad volume type (a type create or a volume create naming it)."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid volume type: {reason}")


class InvalidAttachment(errors.BadRequest):
    """400: the attachment's state forbids the action."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid attachment: {reason}")


class VolumeTypeExists(errors.Conflict):
    """409: a volume type of that name exists."""

    def __init__(self, name: str):
        super().__init__(f"Volume Type {name} already exists.")


class VolumeTypeInUse(errors.BadRequest):
    """400: volumes still use the type."""

    def __init__(self, type_id: str):
        super().__init__(
            f"Volume Type {type_id} deletion is not allowed with volumes present with the type."
        )


class VolumeTypeAccessExists(errors.Conflict):
    """409: the project already has access to the type."""

    def __init__(self, type_id: str, project_id: str):
        super().__init__(
            f"Volume type access for {type_id} / {project_id} combination already exists."
        )


class VolumeTypeUpdateFailed(errors.BadRequest):
    """400: the default type cannot be deleted, or a public type given projects."""


class QuotaError(errors.PocketError):
    """413: over quota (Cinder's ``OverQuota`` family, rendered as ``overLimit``)."""

    status = 413
    title = "Request Entity Too Large"


class VolumeSizeExceedsAvailableQuota(QuotaError):
    """413: the new gigabytes pass the project's ``gigabytes`` quota."""

    def __init__(self, requested: int, quota: int, consumed: int, name: str = "gigabytes"):
        super().__init__(
            f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            f"{name} quota. Requested {requested}G, quota is {quota}G and {consumed}G has "
            "been consumed."
        )


class VolumeSizeExceedsLimit(QuotaError):
    """413: one volume larger than ``per_volume_gigabytes``."""

    def __init__(self, size: int, limit: int):
        super().__init__(
            f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum "
            f"allowed limit {limit}G."
        )


class VolumeLimitExceeded(QuotaError):
    """413: one more volume (or snapshot, backup) than the quota allows."""

    def __init__(self, allowed: int, name: str = "volumes"):
        kind = {"volumes": "volumes", "snapshots": "snapshots", "backups": "backups"}[name]
        label = {"volumes": "VolumeLimitExceeded", "snapshots": "SnapshotLimitExceeded"}.get(
            name, "BackupLimitExceeded"
        )
        super().__init__(
            f"{label}: Maximum number of {kind} allowed ({allowed}) exceeded for quota '{name}'."
        )


class InvalidQuotaValue(errors.BadRequest):
    """400: a quota below what the project uses, or out of range."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid input received: {reason}")


class NoValidBackend(errors.PocketError):
    """No backend passes the scheduler's filters; recorded as the volume's fault (the
    volume goes to ``error``), never answered to an API client."""

    status = 500
    title = "No valid backend"

    def __init__(self, reason: str):
        super().__init__(f"No valid backend was found. {reason}")


class VersionNotFound(errors.NotFound):
    """404: a Block Storage API version this cloud does not serve (``/volume/v2``)."""
