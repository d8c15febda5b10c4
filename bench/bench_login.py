"""Login latency by outcome: how long POST /v3/auth/tokens takes to refuse an unknown user,
a wrong password, a disabled user and an unknown application credential, next to a
successful login. The refusals should cost about the same (one bcrypt verification each),
so that the time does not tell which names exist.

Prints the median and p95 over ``--rounds`` attempts of each, through the Identity manager
on a temp SQLite database (lockout off, so that the wrong passwords do not lock the user).

    .venv/bin/python bench/bench_login.py --rounds 40
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import InProcessBus
from pocketstack.common.config import Config
from pocketstack.common.db import Base, Database, import_all_models
from pocketstack.common.errors import Unauthorized


def _auth(name: str, password: str) -> dict[str, Any]:
    ref = {"name": name, "domain": {"id": "default"}, "password": password}
    return {"identity": {"methods": ["password"], "password": {"user": ref}}}


def _timed(fn: Callable[[], Any], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            fn()
        except Unauthorized:
            pass
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    logging.getLogger("pocketstack.identity.lockout").setLevel(logging.ERROR)  # one per failure
    from pocketstack.service import Cloud

    with tempfile.TemporaryDirectory() as tmp:
        flags = {"state_dir": tmp, "compute_driver": "fake", "lockout_failure_attempts": 0}
        conf = Config.load(flags, environ={})
        import_all_models()
        db = Database(conf.database)
        Base.metadata.create_all(db.engine)
        bus = InProcessBus(workers=1)
        im = Cloud(conf, db, bus).identity
        im.bootstrap("adminpw", "demopw")
        sys_ctx = RequestContext.system()
        im.users.create(sys_ctx, "alice", password="alice-pw")
        im.users.create(sys_ctx, "bob", password="bob-pw", enabled=False)
        app_cred = {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": "no-such-credential", "secret": "s"},
            }
        }
        cases: dict[str, Callable[[], Any]] = {
            "success": lambda: im.auth.issue(_auth("alice", "alice-pw"), False),
            "wrong password": lambda: im.auth.issue(_auth("alice", "nope"), False),
            "unknown user": lambda: im.auth.issue(_auth("ghost", "nope"), False),
            "disabled user": lambda: im.auth.issue(_auth("bob", "bob-pw"), False),
            "unknown app cred": lambda: im.auth.issue(app_cred, False),
        }
        print(f"{'outcome':<18} {'median ms':>10} {'p95 ms':>8}")
        for name, fn in cases.items():
            ms = sorted(_timed(fn, args.rounds))
            p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
            print(f"{name:<18} {statistics.median(ms):>10.1f} {p95:>8.1f}")
        bus.stop()
        db.dispose()


if __name__ == "__main__":
    main()
