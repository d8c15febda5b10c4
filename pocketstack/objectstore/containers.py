"""Accounts and containers as the proxy sees them: info (cached HEADs), listings, writes.

Follows Swift's ``swift/proxy/controllers/account.py`` and ``container.py``: a container PUT
creates the account first when it does not exist (``account_autocreate``); an account that
does not exist lists empty (HEAD/GET 204/200 with zero counts); each container node is told
which account node to update (``X-Account-Host/-Partition/-Device``, replica by replica).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pocketstack.objectstore.exceptions import (
    AccountNotFound,
    ContainerNotEmpty,
    ContainerNotFound,
    InsufficientReplicas,
)
from pocketstack.objectstore.proxy import NodeAnswer
from pocketstack.objectstore.utils import Timestamp

if TYPE_CHECKING:
    from pocketstack.objectstore.manager import ObjectStoreManager

#: seconds an account's or container's HEAD is reused (Swift caches them in memcache)
INFO_TTL = 2.0


@dataclass
class Info:
    """An account's or container's HEAD: found or not, and its headers (lower-case names).

    Attributes:
        exists: the node answered 2xx.
        headers: e.g. ``x-container-object-count``, ``x-container-read``, metadata.
    """

    exists: bool
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def count(self, name: str) -> int:
        try:
            return int(self.headers.get(name.lower(), "0"))
        except ValueError:
            return 0


@dataclass
class Listing:
    """A listing page from a node: the entries (dicts) and the HEAD headers."""

    items: list[dict[str, Any]]
    headers: dict[str, str]


def _headers(answer: NodeAnswer) -> dict[str, str]:
    return {k.lower(): v for k, v in answer.headers.items()}


def _pass_headers(headers: Mapping[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith(prefixes)}


class _Cache:
    def __init__(self) -> None:
        self._data: dict[tuple[str, ...], tuple[float, Info]] = {}

    def get(self, key: tuple[str, ...]) -> Info | None:
        found = self._data.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: tuple[str, ...], info: Info) -> None:
        self._data[key] = (time.monotonic() + INFO_TTL, info)

    def drop(self, key: tuple[str, ...]) -> None:
        self._data.pop(key, None)


class Accounts:
    """``AUTH_<project>``: HEAD, listing, metadata, autocreate."""

    META = ("x-account-meta-", "x-remove-account-meta-", "x-account-sysmeta-")

    def __init__(self, store: ObjectStoreManager):
        self.store = store
        self.cache = _Cache()

    async def info(self, account: str) -> Info:
        """The account's HEAD (cached ``INFO_TTL`` s); ``exists=False`` when none."""
        found = self.cache.get((account,))
        if found is not None:
            return found
        answer = await self.store.backend.read("account", "HEAD", (account, None, None))
        info = Info(answer.status // 100 == 2, _headers(answer))
        self.cache.put((account,), info)
        return info

    async def ensure(self, account: str) -> None:
        """Create the account on its nodes unless it exists (Swift's autocreate)."""
        if (await self.info(account)).exists:
            return
        status, _ = await self.store.backend.write(
            "account", "PUT", (account, None, None), {"X-Timestamp": Timestamp.now().internal}
        )
        self.cache.drop((account,))
        if status // 100 != 2:
            raise InsufficientReplicas("The account could not be created.")

    async def list(self, account: str, params: Mapping[str, str]) -> Listing | None:
        """A page of the account's containers; None when the account does not exist."""
        answer = await self.store.backend.read(
            "account", "GET", (account, None, None), params={**params, "format": "json"}
        )
        if answer.status == 404:
            return None
        return Listing(json.loads(answer.body or b"[]"), _headers(answer))

    async def update(self, account: str, headers: Mapping[str, str]) -> None:
        """POST metadata (``X-Account-Meta-*``; ``X-Remove-Account-Meta-*`` removes)."""
        await self.ensure(account)
        meta = _metadata(headers, "account")
        status, _ = await self.store.backend.write(
            "account", "POST", (account, None, None), {**meta, "X-Timestamp": _now()}
        )
        self.cache.drop((account,))
        if status == 404:
            raise AccountNotFound()
        _check(status)


class Containers:
    """Containers: info, create, listing, metadata, delete."""

    PASS = (
        "x-container-meta-",
        "x-container-sysmeta-",
        "x-container-read",
        "x-container-write",
        "x-versions-location",
        "x-history-location",
    )

    def __init__(self, store: ObjectStoreManager):
        self.store = store
        self.cache = _Cache()

    async def info(self, account: str, container: str) -> Info:
        """The container's HEAD (cached ``INFO_TTL`` s); ``exists=False`` when none."""
        found = self.cache.get((account, container))
        if found is not None:
            return found
        answer = await self.store.backend.read("container", "HEAD", (account, container, None))
        info = Info(answer.status // 100 == 2, _headers(answer))
        self.cache.put((account, container), info)
        return info

    def _account_updates(self, account: str) -> list[dict[str, str]]:
        part, nodes = self.store.backend.primaries(account)
        return [
            {
                "X-Account-Host": f"{n['ip']}:{n['port']}",
                "X-Account-Partition": str(part),
                "X-Account-Device": n["device"],
            }
            for n in nodes
        ]

    async def create(self, account: str, container: str, headers: Mapping[str, str]) -> int:
        """PUT the container (account made first when missing); 201 created, 202 existed."""
        await self.store.accounts.ensure(account)
        meta = _metadata(headers, "container")
        status, _ = await self.store.backend.write(
            "container",
            "PUT",
            (account, container, None),
            {**meta, "X-Timestamp": _now()},
            self._account_updates(account),
        )
        self.cache.drop((account, container))
        self.store.accounts.cache.drop((account,))
        _check(status)
        return status

    async def list(self, account: str, container: str, params: Mapping[str, str]) -> Listing:
        """A page of the container's objects. Raises ContainerNotFound."""
        answer = await self.store.backend.read(
            "container", "GET", (account, container, None), params={**params, "format": "json"}
        )
        if answer.status == 404:
            raise ContainerNotFound()
        items = json.loads(answer.body or b"[]")
        for item in items:  # a static large object lists its whole size (swift_bytes)
            kind, _, size = item.get("content_type", "").partition(";swift_bytes=")
            if size.isdigit():
                item["content_type"], item["bytes"] = kind, int(size)
        return Listing(items, _headers(answer))

    async def update(self, account: str, container: str, headers: Mapping[str, str]) -> None:
        """POST metadata/ACLs. Raises ContainerNotFound."""
        meta = _metadata(headers, "container")
        status, _ = await self.store.backend.write(
            "container", "POST", (account, container, None), {**meta, "X-Timestamp": _now()}
        )
        self.cache.drop((account, container))
        if status == 404:
            raise ContainerNotFound()
        _check(status)

    async def delete(self, account: str, container: str) -> None:
        """DELETE an empty container. Raises ContainerNotFound, ContainerNotEmpty (409)."""
        status, _ = await self.store.backend.write(
            "container",
            "DELETE",
            (account, container, None),
            {"X-Timestamp": _now()},
            self._account_updates(account),
        )
        self.cache.drop((account, container))
        self.store.accounts.cache.drop((account,))
        if status == 404:
            raise ContainerNotFound()
        if status == 409:
            raise ContainerNotEmpty()
        _check(status)


def _metadata(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """The headers a node keeps for ``kind``: metadata (``X-Remove-<Kind>-Meta-X`` becomes an
    empty ``X-<Kind>-Meta-X``, which removes it), ACLs, sysmeta."""
    out: dict[str, str] = {}
    keep: tuple[str, ...] = (f"x-{kind}-meta-", f"x-{kind}-sysmeta-")
    if kind == "container":
        keep += (
            "x-container-read",
            "x-container-write",
            "x-versions-location",
            "x-history-location",
        )
    for key, value in headers.items():
        low = key.lower()
        if kind == "container" and low in (
            "x-remove-versions-location",
            "x-remove-history-location",
        ):
            out[low.replace("x-remove-", "x-")] = ""
        elif low.startswith(f"x-remove-{kind}-"):
            out[f"x-{kind}-" + low[len(f"x-remove-{kind}-") :]] = ""
        elif low.startswith(keep):
            out[low] = value
    return out


def _now() -> str:
    return Timestamp.now().internal


def _check(status: int) -> None:
    if status // 100 != 2:
        raise InsufficientReplicas(f"The storage nodes answered {status}.")
