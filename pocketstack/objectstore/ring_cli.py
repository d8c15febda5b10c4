"""``pocketstack ring``: build and change a ring (the roles of ``swift-ring-builder``).

    pocketstack ring create <builder> --part-power 10 --replicas 3 --min-part-hours 1
    pocketstack ring add <builder> --region 1 --zone 1 --ip 127.0.0.1 --port 6200 \\
        --device d1 --weight 100
    pocketstack ring remove <builder> --id 3            (or --ip/--port/--device)
    pocketstack ring set-weight <builder> --id 3 --weight 50
    pocketstack ring rebalance <builder> [--ring FILE] [--seed N]
    pocketstack ring pretend-min-part-hours-passed <builder>
    pocketstack ring show <builder>

The builder file keeps what rebalancing needs; ``rebalance`` writes the ring file (default
``<builder without .builder>.ring.gz``) that proxies and nodes read. Both are written
atomically. Errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pocketstack.objectstore.builder import RingBuilder, RingBuilderError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``ring`` and its sub-commands to the ``pocketstack`` parser."""
    ring = sub.add_parser("ring", help="build and rebalance an object ring (swift-ring-builder)")
    cmds = ring.add_subparsers(dest="ring_command", required=True)

    def command(name: str, helptext: str) -> argparse.ArgumentParser:
        parser = cmds.add_parser(name, help=helptext)
        parser.add_argument("builder", help="the builder file (object.builder)")
        return parser

    create = command("create", "start a new builder")
    create.add_argument("--part-power", type=int, required=True, help="2**N partitions")
    create.add_argument("--replicas", type=int, default=3, help="replicas per partition")
    create.add_argument(
        "--min-part-hours", type=int, default=1, help="hours before a partition moves again"
    )
    add = command("add", "add a device (it gets partitions at the next rebalance)")
    add.add_argument("--region", type=int, default=1)
    add.add_argument("--zone", type=int, required=True)
    add.add_argument("--ip", required=True)
    add.add_argument("--port", type=int, required=True)
    add.add_argument("--device", required=True, help="device directory name on the node")
    add.add_argument("--weight", type=float, required=True)
    add.add_argument("--meta", default="")
    remove = command("remove", "remove devices (their partitions move at the next rebalance)")
    _add_match(remove)
    weight = command("set-weight", "change the weight of devices")
    _add_match(weight)
    weight.add_argument("--weight", type=float, required=True)
    rebalance = command("rebalance", "assign partitions and write the ring file")
    rebalance.add_argument("--ring", help="ring file (default <builder stem>.ring.gz)")
    rebalance.add_argument("--seed", type=int, help="random seed (reproducible placement)")
    command("pretend-min-part-hours-passed", "let the next rebalance move any partition")
    command("show", "print the builder: devices, balance, dispersion")


def _add_match(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", type=int)
    parser.add_argument("--ip")
    parser.add_argument("--port", type=int)
    parser.add_argument("--device")


def ring_path(builder: str) -> Path:
    """The ring file beside a builder: ``object.builder`` -> ``object.ring.gz``."""
    path = Path(builder)
    stem = path.name.removesuffix(".builder")
    return path.with_name(stem + ".ring.gz")


def run(args: argparse.Namespace) -> None:
    """Run one ``pocketstack ring`` sub-command.

    Raises:
        SystemExit: on any builder error (message on stderr, status 2).
    """
    try:
        _run(args)
    except RingBuilderError as exc:
        raise SystemExit(f"pocketstack ring: {exc}") from None


def _run(args: argparse.Namespace) -> None:
    if args.ring_command == "create":
        if Path(args.builder).exists():
            raise RingBuilderError(f"{args.builder} exists")
        builder = RingBuilder(args.part_power, args.replicas, args.min_part_hours)
        builder.save(args.builder)
        print(f"created {args.builder}: 2**{args.part_power} partitions, {args.replicas} replicas")
        return
    builder = RingBuilder.load(args.builder)
    command = args.ring_command
    if command == "show":
        print(describe(builder))
        return
    if command == "add":
        dev = {k: getattr(args, k) for k in ("region", "zone", "ip", "port", "device", "weight")}
        dev_id = builder.add_dev({**dev, "meta": args.meta})
        print(f"device id {dev_id}: {args.ip}:{args.port}/{args.device} added")
    elif command in ("remove", "set-weight"):
        _change_matching(builder, args)
    elif command == "pretend-min-part-hours-passed":
        builder.pretend_min_part_hours_passed()
    elif command == "rebalance":
        moved = builder.rebalance(seed=args.seed)
        target = args.ring or ring_path(args.builder)
        builder.write_ring(target)
        total = builder.parts * builder.replicas
        print(
            f"reassigned {moved} of {total} replicas ({moved * 100 / total:.2f}%); "
            f"balance {builder.balance():.2f}, dispersion {builder.dispersion():.2f}; "
            f"ring version {builder.version} written to {target}"
        )
    builder.save(args.builder)


def _change_matching(builder: RingBuilder, args: argparse.Namespace) -> None:
    match = {"id": args.id, "ip": args.ip, "port": args.port, "device": args.device}
    if all(v is None for v in match.values()):
        raise RingBuilderError("name the devices: --id, --ip, --port or --device")
    devs = builder.search_devs(**match)
    if not devs:
        raise RingBuilderError("no device matches")
    for dev in devs:
        if args.ring_command == "remove":
            builder.remove_dev(dev["id"])
            print(f"device id {dev['id']} marked for removal")
        else:
            builder.set_dev_weight(dev["id"], args.weight)
            print(f"device id {dev['id']}: weight {args.weight}")


def describe(builder: RingBuilder) -> str:
    """The text of ``ring show``."""
    counts = builder.assigned_counts()
    wanted = builder.wanted()
    lines = [
        f"{builder.parts} partitions, {builder.replicas} replicas, "
        f"min_part_hours {builder.min_part_hours}, version {builder.version}",
        f"balance {builder.balance():.2f}, dispersion {builder.dispersion():.2f}"
        + (" (changed since the last rebalance)" if builder.dirty else ""),
        "devices:   id region zone ip:port/device                 weight  partitions  balance",
    ]
    for dev in builder.devs:
        if dev is None:
            continue
        want = wanted.get(dev["id"], 0)
        have = counts.get(dev["id"], 0)
        bal = (have - want) * 100 / want if want else 0.0
        where = f"{dev['ip']}:{dev['port']}/{dev['device']}"
        note = " (removing)" if dev.get("removed") else ""
        lines.append(
            f"          {dev['id']:3d} {dev['region']:6d} {dev['zone']:4d} {where:30s} "
            f"{dev['weight']:7.2f} {have:11d} {bal:8.2f}{note}"
        )
    return "\n".join(lines)
