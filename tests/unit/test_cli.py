"""Unit tests of pocketstack.cli: private state directory."""

from __future__ import annotations

import os
import stat

import pytest

from pocketstack import cli
from pocketstack.common.config import Config


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _conf(state_dir, **options) -> Config:
    flags = {"state_dir": str(state_dir), **options}
    return Config.load(flags, environ={})


def test_secure_state_dir_narrows_what_an_older_version_left(tmp_path):
    state = tmp_path / "state"
    for sub in ("logs", "keys", "images", "instances/abc"):
        (state / sub).mkdir(parents=True)
    files = {
        "pocketstack.db": 0o644,
        "pocketstack.db-wal": 0o644,
        "pocketstack.db-shm": 0o644,
        "bootstrap.json": 0o644,
        "logs/pocketstack.log": 0o644,
        "logs/pocketstack.log.1": 0o664,
        "keys/0": 0o644,
        "images/run.sh": 0o755,
    }
    for rel, mode in files.items():
        (state / rel).write_text("x")
        os.chmod(state / rel, mode)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (state / "link").symlink_to(outside)
    for d in (state, state / "logs", state / "keys", state / "images", state / "instances"):
        os.chmod(d, 0o755)

    cli.secure_state_dir(_conf(state))

    for d in ("", "logs", "keys", "images", "instances"):
        assert _mode(state / d) == 0o700, d
    for rel in ("pocketstack.db", "pocketstack.db-wal", "pocketstack.db-shm", "bootstrap.json"):
        assert _mode(state / rel) == 0o600, rel
    for rel in ("logs/pocketstack.log", "logs/pocketstack.log.1", "keys/0"):
        assert _mode(state / rel) == 0o600, rel
    assert _mode(outside) == 0o644  # a symlink's target is not ours to change
    assert _mode(state / "instances/abc") == 0o755  # behind a 0700 directory: left alone


def test_secure_state_dir_creates_a_private_directory(tmp_path):
    state = tmp_path / "new" / "state"
    cli.secure_state_dir(_conf(state))
    assert _mode(state) == 0o700


def test_secure_state_dir_without_create_leaves_a_missing_directory_missing(tmp_path):
    cli.secure_state_dir(_conf(tmp_path / "absent"), create=False)
    assert not (tmp_path / "absent").exists()


def test_secure_state_dir_refuses_a_shared_directory(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(SystemExit, match="shared"):
        cli.secure_state_dir(_conf(shared))
    assert _mode(shared) == 0o1777
