"""The filesystem bus across processes: a server in another process answers calls, gets
casts and fanouts, and unbinds its fanout queue when it stops (``pocketstack up --hosts N``
runs its lab hosts' agents this way)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Message, MessageTable
from pocketstack.common.bus_kombu import KombuBus

TABLE = MessageTable("t", [Message("where", CALL, timeout=20), Message("note", CAST)])

SERVER = textwrap.dedent(
    """
    import os, sys, threading
    from pocketstack.common.bus import CALL, CAST, Message, MessageTable
    from pocketstack.common.bus_kombu import KombuBus

    TABLE = MessageTable("t", [Message("where", CALL, timeout=20), Message("note", CAST)])
    done = threading.Event()
    notes = []

    class Endpoint:
        def where(self, ctx, name):
            return {"pid": os.getpid(), "name": name, "notes": notes}

        def note(self, ctx, text):
            notes.append(text)
            if text == "stop":
                done.set()

    bus = KombuBus(sys.argv[1])
    bus.serve("t." + sys.argv[2], Endpoint(), TABLE)
    print("ready", flush=True)
    done.wait(60)
    bus.stop()
    """
)


def _start(url: str, host: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, host], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _notes(client: KombuBus, ctx: RequestContext, host: str, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while True:
        notes = client.call(ctx, f"t.{host}", TABLE["where"], name=host)["notes"]
        if len(notes) >= count or time.monotonic() > deadline:
            return sorted(notes)
        time.sleep(0.05)


def test_calls_casts_and_fanouts_cross_processes(tmp_path):
    url = f"filesystem://{tmp_path}/bus"
    procs = [_start(url, "host1"), _start(url, "host2")]
    client = KombuBus(url)
    ctx = RequestContext(user_id="u1")
    try:
        one = client.call(ctx, "t.host1", TABLE["where"], name="a")
        two = client.call(ctx, "t.host2", TABLE["where"], name="b")
        assert one["pid"] == procs[0].pid and two["pid"] == procs[1].pid
        client.cast(ctx, "t.host2", TABLE["note"], text="cast")
        client.fanout(ctx, "t", TABLE["note"], text="fan")
        # separate queues: no order between them, so wait until both arrived
        assert _notes(client, ctx, "host1", 1) == ["fan"]
        assert _notes(client, ctx, "host2", 2) == ["cast", "fan"]
        client.fanout(ctx, "t", TABLE["note"], text="stop")
        for proc in procs:
            assert proc.wait(timeout=30) == 0
        # the stopped servers unbound their fanout queues: a fanout now leaves no file behind
        client.fanout(ctx, "t", TABLE["note"], text="nobody")
        assert list((tmp_path / "bus" / "data").iterdir()) == []
    finally:
        client.stop()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
