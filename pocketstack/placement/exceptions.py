"""Placement errors, worded as Placement's (``placement/exception.py``) and carrying its
error ``code`` (microversion 1.23, e.g. ``placement.concurrent_update``); the API renders
them as ``{"errors": [{"status", "title", "detail", "code", "request_id"}]}``
(``api/errors.py``)."""

from __future__ import annotations

from pocketstack.common import errors

#: the code of an error that names none (Placement's ``placement.undefined_code``)
UNDEFINED = "placement.undefined_code"


class ConcurrentUpdate(errors.Conflict):
    """409 ``placement.concurrent_update``: a stale provider or consumer generation (the
    caller re-reads and retries)."""

    code = "placement.concurrent_update"


class ProviderGenerationConflict(ConcurrentUpdate):
    """409: the provider generation the caller sent is not the current one."""

    def __init__(self, uuid: str):
        super().__init__(
            f"resource provider generation conflict: the generation of resource provider "
            f"{uuid} has changed; re-read it and retry."
        )


class ConsumerGenerationConflict(ConcurrentUpdate):
    """409: the consumer generation sent is not the current one (or the consumer exists
    and ``null`` was sent, or it does not and a number was)."""

    def __init__(self, consumer: str, detail: str):
        super().__init__(f"consumer generation conflict for consumer {consumer}: {detail}")


class ResourceProviderNotFound(errors.NotFound):
    """404: no provider with that UUID."""

    def __init__(self, uuid: str):
        super().__init__(f"No resource provider with uuid {uuid} found")


class ResourceClassNotFound(errors.NotFound):
    """404: no resource class of that name."""

    def __init__(self, name: str):
        super().__init__(f"No such resource class {name}.")


class TraitNotFound(errors.NotFound):
    """404: no trait of that name."""

    def __init__(self, name: str):
        super().__init__(f"No such trait(s): {name}.")


class InventoryNotFound(errors.NotFound):
    """404: the provider has no inventory of that class."""

    def __init__(self, rc: str, uuid: str):
        super().__init__(f"No inventory of class {rc} for {uuid}")


class AllocationsNotFound(errors.NotFound):
    """404: the consumer has no allocations (a ``DELETE /allocations/{consumer}``)."""

    def __init__(self, consumer: str):
        super().__init__(f"No allocations for consumer '{consumer}'")


class DuplicateName(errors.Conflict):
    """409 ``placement.duplicate_name``: a provider of that name exists."""

    code = "placement.duplicate_name"

    def __init__(self, what: str):
        super().__init__(f"Conflicting resource provider {what} already exists.")


class Exists(errors.Conflict):
    """409: a resource class or provider UUID that exists already."""


class InUse(errors.Conflict):
    """409: a resource class, trait or provider that is still used."""


class InventoryInUse(InUse):
    """409 ``placement.inventory.inuse``: removing inventory that has allocations."""

    code = "placement.inventory.inuse"


class ProviderInUse(InUse):
    """409 ``placement.resource_provider.inuse``: a provider with allocations."""

    code = "placement.resource_provider.inuse"


class CannotDeleteParent(InUse):
    """409 ``placement.resource_provider.cannot_delete_parent``: it has children."""

    code = "placement.resource_provider.cannot_delete_parent"


class CapacityExceeded(errors.Conflict):
    """409: an allocation beyond a provider's capacity (``(total - reserved) * ratio``
    minus what is used), or of a class it has no inventory of."""


class InvalidInventory(errors.BadRequest):
    """400: inventory values that do not hold together (``min_unit`` over ``max_unit``,
    ``reserved`` over ``total``...) or of an unknown resource class."""


class InvalidAllocation(errors.BadRequest):
    """400: an allocation outside the inventory's ``min_unit``/``max_unit``/``step_size``."""


class InvalidQuery(errors.BadRequest):
    """400: a malformed query parameter (``resources``, ``required``, ``member_of``...)."""


class StandardNameIsReadOnly(errors.BadRequest):
    """400: a standard resource class or trait cannot be created, changed or deleted."""


class VersionNotFound(errors.NotFound):
    """404: the route exists only at a later microversion."""
