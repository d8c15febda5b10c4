"""Object versioning: a container's older object versions kept in another container.

Follows Swift's legacy ``versioned_writes`` middleware (api-ref "Object versioning"):

- ``X-Versions-Location: <container>`` (stack mode): a PUT over an existing object first
  copies it to ``<container>/<len(name):03x><name>/<timestamp>``; a DELETE puts the newest
  archived version back in place (and removes it from the archive), or deletes the object
  when there is none;
- ``X-History-Location: <container>`` (history mode): a PUT archives as above; a DELETE
  archives the current version, then deletes.

The archive container must exist (412 otherwise, as Swift).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketstack.objectstore.containers import Info
from pocketstack.objectstore.exceptions import ObjectNotFound, PreconditionFailed

if TYPE_CHECKING:
    from pocketstack.objectstore.manager import ObjectStoreManager


def archive_prefix(obj: str) -> str:
    """``<length of the name in UTF-8 bytes, 3 hex digits><name>/``: the archive's prefix."""
    return f"{len(obj.encode('utf-8')):03x}{obj}/"


class Versions:
    """Archiving and restoring object versions."""

    def __init__(self, store: ObjectStoreManager):
        self.store = store

    @staticmethod
    def location(cinfo: Info) -> tuple[str, str] | None:
        """``(mode, archive container)``: mode ``stack`` or ``history``; None when off."""
        history = cinfo.get("x-history-location")
        if history:
            return "history", history
        versions = cinfo.get("x-versions-location")
        return ("stack", versions) if versions else None

    async def _archive_container(self, account: str, name: str) -> str:
        if not (await self.store.containers.info(account, name)).exists:
            raise PreconditionFailed(f"The versions container {name!r} does not exist.")
        return name

    async def archive(self, names: tuple[str, str, str], cinfo: Info) -> None:
        """Copy the current version (if any) into the archive before it is overwritten."""
        where = self.location(cinfo)
        if where is None:
            return
        account, _container, obj = names
        archive = await self._archive_container(account, where[1])
        try:
            current = await self.store.objects.open(names, "HEAD", {})
        except ObjectNotFound:
            return
        await current.aclose()
        stamp = current.headers.get("x-timestamp", "0")
        dest = (account, archive, archive_prefix(obj) + stamp)
        await self.store.objects.copy(names, dest, {}, archive=False)

    async def delete(self, names: tuple[str, str, str], cinfo: Info) -> bool:
        """Apply the container's versioning to a DELETE; True when it handled it all (a
        version was restored), False when the object is still to be deleted."""
        where = self.location(cinfo)
        if where is None:
            return False
        if where[0] == "history":
            await self.archive(names, cinfo)
            return False
        account, _container, obj = names
        archive = await self._archive_container(account, where[1])
        page = await self.store.containers.list(
            account, archive, {"prefix": archive_prefix(obj), "reverse": "true", "limit": "1"}
        )
        if not page.items:
            return False
        newest = (account, archive, page.items[0]["name"])
        await self.store.objects.copy(newest, names, {}, archive=False)
        await self.store.objects.delete(newest, versioned=False)
        return True
