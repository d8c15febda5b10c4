"""Errors of the Image service (rendered in Glance's error style by the HTTP layer)."""

from __future__ import annotations

from pocketstack.common import errors


class ImageNotFound(errors.NotFound):
    """404: no image with that id, or one the caller may not see."""


class MemberNotFound(errors.NotFound):
    """404: the project is not a member of the image (or the caller may not see it)."""


class ImageRangeNotSatisfiable(errors.PocketError):
    """416: a ``Range`` of an image download that no byte of the data satisfies."""

    status = 416
    title = "Requested Range Not Satisfiable"


class ImageForbidden(errors.Forbidden):
    """403: the caller sees the image but may not change it (not the owner, read-only field,
    a public image by a non-admin, members of a non-shared image...)."""


class ImageProtected(errors.Forbidden):
    """403: delete of an image whose ``protected`` flag is set."""


class InvalidImageStatus(errors.Conflict):
    """409: the image's status does not allow the action (e.g. upload to an active image)."""


class DuplicateMember(errors.Conflict):
    """409: the project is already a member of the image."""


class PropertyNotFound(errors.Conflict):
    """409: a JSON-patch ``replace``/``remove`` of a property the image does not have
    (Glance answers 409 here)."""


class ImageDataNotFound(errors.NotFound):
    """404: the image record is active but its data is not in this host's store."""


class ImageSizeLimitExceeded(errors.RequestTooLarge):
    """413: the image data is larger than ``image_size_cap`` (Glance's "The incoming image is
    too large")."""


class StorageQuotaFull(errors.RequestTooLarge):
    """413: the data would take the owner project past ``image_user_storage_quota`` (Glance's
    "Image exceeds the storage quota")."""


class UploadLeaseLost(errors.Conflict):
    """409: another controller took the image's data lease over while this one was still
    uploading (this one had stopped renewing it for longer than ``image_upload_lease``)."""
