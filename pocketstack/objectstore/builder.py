"""The ring builder: devices, weights and zones in, an assignment of every partition's
replicas to devices out (the roles of Swift's ``swift.common.ring.builder.RingBuilder``).

Placement rules, in order (docs/object-storage.md "The ring"):

1. **Dispersion**: the replicas of a partition go to distinct regions, then distinct zones,
   then distinct ``ip:port``s, then distinct devices, as far as the ring has them (a tier with
   ``n`` buckets holds at most ``ceil(replicas / n)`` replicas of a partition in one bucket).
2. **Balance**: each device holds partitions in proportion to its weight
   (``wanted = partitions * replicas * weight / total weight``).
3. **Minimal movement**: a rebalance moves only replicas of removed or zero-weight devices, of
   tiers holding too many replicas of a partition, and the surplus of devices above their
   share; when ``min_part_hours > 0`` a partition moves at most one replica per rebalance and
   none if it moved less than ``min_part_hours`` ago (a removed device's replicas move anyway:
   their data is going away).

The builder file and the ring file are gzip'd JSON, written atomically (``utils.write_atomic``).
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import random
import secrets
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketstack.objectstore.utils import check_device, write_atomic

#: An unassigned slot in a replica-to-partition-to-device array.
NONE_DEV = 0xFFFF
BUILDER_FORMAT = 1
RING_FORMAT = 1
DEVICE_KEYS = ("id", "region", "zone", "ip", "port", "device", "weight", "meta")


class RingBuilderError(ValueError):
    """A builder operation that can't be done (bad device, too few devices, bad file)."""


def encode_array(values: array) -> str:
    """Base64 of an array's little-endian bytes (the files' form of the big arrays)."""
    out = array(values.typecode, values)
    if sys.byteorder == "big":
        out.byteswap()
    return base64.b64encode(out.tobytes()).decode("ascii")


def decode_array(typecode: str, text: str) -> array:
    """The inverse of :func:`encode_array`."""
    out = array(typecode)
    out.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        out.byteswap()
    return out


def tiers(dev: dict) -> tuple[tuple[Any, ...], ...]:
    """The failure domains a device sits in, widest first: region, zone, ip:port, device."""
    region = dev["region"]
    zone = (region, dev["zone"])
    server = (*zone, dev["ip"], dev["port"])
    return ((region,), zone, server, (*server, dev["id"]))


class RingBuilder:
    """A ring under construction (Swift's RingBuilder).

    Args:
        part_power: 2**part_power partitions (1-16 here: device ids and partitions fit the
            arrays; Swift allows up to 32).
        replicas: replicas of each partition (an integer >= 1).
        min_part_hours: hours a moved partition stays put, except for removed devices.

    Raises:
        RingBuilderError: a parameter out of range.
    """

    def __init__(self, part_power: int, replicas: int = 3, min_part_hours: int = 1):
        if not 0 <= part_power <= 22:
            raise RingBuilderError("part power must be 0-22")
        if replicas < 1:
            raise RingBuilderError("replicas must be at least 1")
        if min_part_hours < 0:
            raise RingBuilderError("min_part_hours must be >= 0")
        self.part_power = part_power
        self.replicas = replicas
        self.min_part_hours = min_part_hours
        self.devs: list[dict | None] = []
        self.replica2part2dev: list[array] | None = None
        self.last_part_moves = array("d", [0.0]) * self.parts
        self.version = 0
        self.hash_path_prefix = ""
        self.hash_path_suffix = secrets.token_hex(16)
        self.dirty = False

    @property
    def parts(self) -> int:
        """Number of partitions."""
        return 2**self.part_power

    # -- devices -----------------------------------------------------------------------

    def add_dev(self, dev: dict) -> int:
        """Add a device (keys region, zone, ip, port, device, weight, optional id, meta);
        it gets partitions at the next rebalance. Returns its id.

        Raises:
            RingBuilderError: a missing key, bad value, duplicate id or ip:port/device.
        """
        try:
            new: dict[str, Any] = {
                "id": None if dev.get("id") is None else int(dev["id"]),
                "region": int(dev.get("region", 1)),
                "zone": int(dev["zone"]),
                "ip": str(dev["ip"]),
                "port": int(dev["port"]),
                "device": str(dev["device"]),
                "weight": float(dev["weight"]),
                "meta": str(dev.get("meta") or ""),
            }
            check_device(new["device"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RingBuilderError(f"bad device {dev!r}: {exc}") from None
        if new["weight"] < 0:
            raise RingBuilderError("weight must be >= 0")
        for other in self.active_devs(include_zero=True):
            if (other["ip"], other["port"], other["device"]) == (
                new["ip"],
                new["port"],
                new["device"],
            ):
                raise RingBuilderError(f"device {new['ip']}:{new['port']}/{new['device']} exists")
        if new["id"] is None:
            new["id"] = next((i for i, d in enumerate(self.devs) if d is None), len(self.devs))
        if new["id"] >= NONE_DEV:
            raise RingBuilderError("too many devices")
        while len(self.devs) <= new["id"]:
            self.devs.append(None)
        if self.devs[new["id"]] is not None:
            raise RingBuilderError(f"device id {new['id']} in use")
        self.devs[new["id"]] = new
        self._changed()
        return int(new["id"])

    def remove_dev(self, dev_id: int) -> None:
        """Mark a device for removal: its partitions move at the next rebalance, which then
        drops it.

        Raises:
            RingBuilderError: no such device.
        """
        dev = self._dev(dev_id)
        dev["weight"] = 0.0
        dev["removed"] = True
        self._changed()

    def set_dev_weight(self, dev_id: int, weight: float) -> None:
        """Change a device's weight (takes effect at the next rebalance).

        Raises:
            RingBuilderError: no such device or a negative weight.
        """
        if weight < 0:
            raise RingBuilderError("weight must be >= 0")
        self._dev(dev_id)["weight"] = float(weight)
        self._changed()

    def search_devs(self, **match: Any) -> list[dict]:
        """Devices whose keys equal every given value (``ip=..., device=...``)."""
        return [
            d
            for d in self.active_devs(include_zero=True)
            if all(d.get(k) == v for k, v in match.items() if v is not None)
        ]

    def active_devs(self, include_zero: bool = False) -> list[dict]:
        """Devices not removed (with weight > 0 unless ``include_zero``)."""
        return [
            d
            for d in self.devs
            if d is not None and not d.get("removed") and (include_zero or d["weight"] > 0)
        ]

    def _dev(self, dev_id: int) -> dict:
        if 0 <= dev_id < len(self.devs):
            dev = self.devs[dev_id]
            if dev is not None and not dev.get("removed"):
                return dev
        raise RingBuilderError(f"no device {dev_id}")

    def _changed(self) -> None:
        self.version += 1
        self.dirty = True

    # -- placement ---------------------------------------------------------------------

    def wanted(self) -> dict[int, float]:
        """Replicas each active device should hold: its share of all slots by weight."""
        active = self.active_devs()
        total = sum(d["weight"] for d in active)
        slots = self.parts * self.replicas
        return {d["id"]: slots * d["weight"] / total for d in active} if total else {}

    def max_per_tier(self) -> list[int]:
        """For each tier level (region, zone, server, device): the most replicas of one
        partition one bucket of that level may hold, given the buckets the ring has."""
        active = self.active_devs()
        return [
            math.ceil(self.replicas / max(1, len({tiers(d)[level] for d in active})))
            for level in range(4)
        ]

    def rebalance(self, seed: int | None = None, now: float | None = None) -> int:
        """Assign partitions to devices by the rules of the module docstring; returns the
        number of replicas moved (a replica placed for the first time counts as moved).

        Raises:
            RingBuilderError: fewer active devices than replicas.
        """
        active = self.active_devs()
        if len(active) < self.replicas:
            raise RingBuilderError(
                f"{self.replicas} replicas need at least {self.replicas} devices with weight"
            )
        plan = _Placement(self, random.Random(seed), time.time() if now is None else now)
        moved = plan.run()
        for dev in self.devs:
            if dev is not None and dev.get("removed"):
                self.devs[dev["id"]] = None
        self._changed()
        self.dirty = False
        return moved

    def pretend_min_part_hours_passed(self) -> None:
        """Let the next rebalance move any partition (Swift's command of that name)."""
        self.last_part_moves = array("d", [0.0]) * self.parts

    def assigned_counts(self) -> Counter:
        """Replicas each device holds now."""
        counts: Counter = Counter()
        for row in self.replica2part2dev or []:
            counts.update(row)
        counts.pop(NONE_DEV, None)
        return counts

    def balance(self) -> float:
        """The worst device's distance from its wanted share, in percent (0 is perfect)."""
        counts = self.assigned_counts()
        return max(
            (abs(counts[i] - want) * 100 / want for i, want in self.wanted().items()),
            default=0.0,
        )

    def dispersion(self) -> float:
        """Percent of partitions with more replicas in one region, zone or server than the
        ring's tiers need (0 when every partition is as spread as the devices allow)."""
        if self.replica2part2dev is None:
            return 0.0
        limits = self.max_per_tier()
        bad = 0
        for part in range(self.parts):
            devs = [self.devs[r[part]] for r in self.replica2part2dev if r[part] != NONE_DEV]
            for level in range(3):
                counts = Counter(tiers(d)[level] for d in devs if d is not None)
                if counts and max(counts.values()) > limits[level]:
                    bad += 1
                    break
        return bad * 100 / self.parts

    # -- files -------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The builder as JSON-able data."""
        return {
            "format": BUILDER_FORMAT,
            "part_power": self.part_power,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "version": self.version,
            "hash_path_prefix": self.hash_path_prefix,
            "hash_path_suffix": self.hash_path_suffix,
            "devs": self.devs,
            "dirty": self.dirty,
            "replica2part2dev": None
            if self.replica2part2dev is None
            else [encode_array(r) for r in self.replica2part2dev],
            "last_part_moves": encode_array(self.last_part_moves),
        }

    @classmethod
    def from_dict(cls, data: dict) -> RingBuilder:
        """The builder saved by :meth:`to_dict`.

        Raises:
            RingBuilderError: not a builder of a known format.
        """
        if not isinstance(data, dict) or data.get("format") != BUILDER_FORMAT:
            raise RingBuilderError("not a pocketstack ring builder file")
        self = cls(data["part_power"], data["replicas"], data["min_part_hours"])
        self.version = data["version"]
        self.hash_path_prefix = data["hash_path_prefix"]
        self.hash_path_suffix = data["hash_path_suffix"]
        self.devs = data["devs"]
        self.dirty = data.get("dirty", False)
        rows = data["replica2part2dev"]
        self.replica2part2dev = None if rows is None else [decode_array("H", r) for r in rows]
        self.last_part_moves = decode_array("d", data["last_part_moves"])
        return self

    def save(self, path: str | Path) -> None:
        """Write the builder file atomically."""
        write_atomic(path, gzip.compress(json.dumps(self.to_dict()).encode(), mtime=0))

    @classmethod
    def load(cls, path: str | Path) -> RingBuilder:
        """Read a builder file.

        Raises:
            RingBuilderError: missing or not a builder file.
        """
        try:
            data = json.loads(gzip.decompress(Path(path).read_bytes()))
        except (OSError, ValueError, EOFError) as exc:
            raise RingBuilderError(f"cannot read builder {path}: {exc}") from None
        return cls.from_dict(data)

    def ring_dict(self) -> dict:
        """The ring file's content (see docs/object-storage.md).

        Raises:
            RingBuilderError: never rebalanced, or changed since the last rebalance.
        """
        if self.replica2part2dev is None:
            raise RingBuilderError("the builder was never rebalanced")
        return {
            "format": RING_FORMAT,
            "version": self.version,
            "part_power": self.part_power,
            "replicas": self.replicas,
            "hash_path_prefix": self.hash_path_prefix,
            "hash_path_suffix": self.hash_path_suffix,
            "devs": [None if d is None else {k: d[k] for k in DEVICE_KEYS} for d in self.devs],
            "replica2part2dev": [encode_array(r) for r in self.replica2part2dev],
        }

    def write_ring(self, path: str | Path) -> None:
        """Write the ring file atomically (gzip'd JSON)."""
        write_atomic(path, gzip.compress(json.dumps(self.ring_dict()).encode(), mtime=0))


class _Placement:
    """One rebalance: gather the slots that must or may move, then place each on the best
    device (fewest replicas of the partition in its tiers, then least full by weight)."""

    def __init__(self, builder: RingBuilder, rng: random.Random, now: float):
        self.b = builder
        self.rng = rng
        self.now = now
        self.wanted = builder.wanted()
        self.active = {d["id"]: d for d in builder.active_devs()}
        self.tiers = {i: tiers(d) for i, d in self.active.items()}
        self.limits = builder.max_per_tier()
        if builder.replica2part2dev is None:
            builder.replica2part2dev = [
                array("H", [NONE_DEV]) * builder.parts for _ in range(builder.replicas)
            ]
        self.rows = builder.replica2part2dev
        self.counts = builder.assigned_counts()
        self.moved_now = bytearray(builder.parts)
        self.released = bytearray(builder.parts)  # a replica of it is being placed again
        self.hold = builder.min_part_hours * 3600

    def run(self) -> int:
        slots = self._gather_gone()
        slots += self._gather_dispersion()
        slots += self._gather_overweight()
        moved = 0
        for part, replica, old in sorted(slots):
            new = self._best_dev(part, replica)
            self.rows[replica][part] = new
            self.counts[new] += 1
            if new != old:
                moved += 1
                self.moved_now[part] = 1
                self.b.last_part_moves[part] = self.now
        return moved

    def _movable(self, part: int) -> bool:
        """May a replica of ``part`` move for balance or dispersion now?"""
        if self.hold == 0:
            return True
        if self.moved_now[part]:
            return False
        return self.now - self.b.last_part_moves[part] >= self.hold

    def _release(self, part: int, replica: int) -> tuple[int, int, int]:
        old = self.rows[replica][part]
        self.rows[replica][part] = NONE_DEV
        if old != NONE_DEV:
            self.counts[old] -= 1
        self.released[part] = 1
        if self.hold:
            self.moved_now[part] = 1  # claimed: no second replica of it this time
        return (part, replica, old)

    def _gather_gone(self) -> list[tuple[int, int, int]]:
        """Unplaced slots and those of removed, zero-weight or unknown devices."""
        out = []
        for replica, row in enumerate(self.rows):
            for part, dev in enumerate(row):
                if dev == NONE_DEV or dev not in self.active:
                    out.append(self._release(part, replica))
        return out

    def _gather_dispersion(self) -> list[tuple[int, int, int]]:
        """One replica of each movable partition that crowds a region, zone or server."""
        out = []
        for part in range(self.b.parts):
            if not self._movable(part):
                continue
            devs = [(r, row[part]) for r, row in enumerate(self.rows) if row[part] != NONE_DEV]
            for level in range(3):
                counts = Counter(self.tiers[d][level] for _r, d in devs)
                crowded = [t for t, n in counts.items() if n > self.limits[level]]
                if crowded:
                    candidates = [(r, d) for r, d in devs if self.tiers[d][level] in crowded]
                    replica, _dev = max(
                        candidates, key=lambda rd: self.counts[rd[1]] / self.wanted[rd[1]]
                    )
                    out.append(self._release(part, replica))
                    break
        return out

    def _gather_overweight(self) -> list[tuple[int, int, int]]:
        """The surplus of devices above ``ceil(wanted)``, from partitions that another
        device below its share could take without crowding a tier."""
        out: list[tuple[int, int, int]] = []
        by_dev: dict[int, list[tuple[int, int]]] = {}
        for replica, row in enumerate(self.rows):
            for part, dev in enumerate(row):
                if dev != NONE_DEV:
                    by_dev.setdefault(dev, []).append((part, replica))
        for dev, held in by_dev.items():
            surplus = self.counts[dev] - math.ceil(self.wanted[dev])
            if surplus <= 0:
                continue
            self.rng.shuffle(held)
            for part, replica in held:
                if surplus <= 0:
                    break
                # one replica of a partition per pass: two released together could not
                # both go to the device that needs them, and one would wander elsewhere
                if (
                    not self.released[part]
                    and self._movable(part)
                    and self._has_taker(part, replica, dev)
                ):
                    out.append(self._release(part, replica))
                    surplus -= 1
        return out

    def _others(self, part: int, replica: int) -> list[tuple[tuple[Any, ...], ...]]:
        """The tiers of the devices holding the other replicas of ``part``."""
        return [
            self.tiers[row[part]]
            for r, row in enumerate(self.rows)
            if r != replica and row[part] != NONE_DEV
        ]

    def _keyer(
        self, others: list[tuple[tuple[Any, ...], ...]]
    ) -> Callable[[int], tuple[int, int, int, int]]:
        """A function of a device: how many of ``others`` share its region, zone, server and
        device (lower: better dispersion)."""
        region, zone, server, device = ([o[lv] for o in others] for lv in range(4))
        tiers_of = self.tiers

        def key(dev: int) -> tuple[int, int, int, int]:
            t = tiers_of[dev]
            return (region.count(t[0]), zone.count(t[1]), server.count(t[2]), device.count(t[3]))

        return key

    def _has_taker(self, part: int, replica: int, dev: int) -> bool:
        key = self._keyer(self._others(part, replica))
        here = key(dev)
        return any(
            self.counts[d] + 1 <= self.wanted[d] and key(d) <= here for d in self.active if d != dev
        )

    def _best_dev(self, part: int, replica: int) -> int:
        others = self._others(part, replica)
        counts, wanted = self.counts, self.wanted
        if not others:  # nothing to keep apart from: the least full device
            return min(self.active, key=lambda d: (counts[d] + 1) / wanted[d])
        key = self._keyer(others)
        return min(self.active, key=lambda d: (key(d), (counts[d] + 1) / wanted[d]))
