"""The state directory of a real ``pocketstack up`` is its user's only: a directory an older
version left 0755 with a 0644 database, log and token key is narrowed on start, and what
the cloud creates (database WAL, images, keys, clouds.yaml) is 0700/0600."""

from __future__ import annotations

import os
import stat

from cryptography.fernet import Fernet


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_up_narrows_an_old_state_directory_and_creates_private_files(up_process):
    up = up_process("fake")
    state = up.state_dir
    for sub in ("", "logs", "keys"):
        (state / sub).mkdir(exist_ok=True)
        os.chmod(state / sub, 0o755)
    old = {
        "pocketstack.db": b"",  # an empty file is an empty SQLite database
        "logs/pocketstack.log": b"2026-01-01 00:00:00,000 INFO old line\n",
        "keys/0": Fernet.generate_key(),
    }
    for rel, data in old.items():
        (state / rel).write_bytes(data)
        os.chmod(state / rel, 0o644)

    cloud = up.start()
    cloud.sdk().compute.flavors()  # a token: the key above signs it

    assert _mode(state) == 0o700
    dirs = [p for p in state.iterdir() if p.is_dir()]
    assert {"logs", "keys", "images"} <= {p.name for p in dirs}
    for d in dirs:
        assert _mode(d) == 0o700, d
    files = [p for p in state.iterdir() if p.is_file()]
    assert {"pocketstack.db-wal", "pocketstack.db-shm", "clouds.yaml"} <= {p.name for p in files}
    for d in (state, state / "logs", state / "keys", state / "images"):
        for f in d.iterdir():
            if f.is_file():
                assert _mode(f) == 0o600, f
    assert [p.name for p in (state / "keys").iterdir()] == ["0"]  # the old key was kept
    assert "old line" in (state / "logs" / "pocketstack.log").read_text()
