"""Shared fixtures: a config in a temp state directory, a migrated database, a bus, a Cloud."""

from __future__ import annotations

import pytest

from pocketstack.common.bus import InProcessBus
from pocketstack.common.config import Config
from pocketstack.common.db import Base, Database, import_all_models


@pytest.fixture
def conf(tmp_path):
    """A ``Config`` with its state directory in ``tmp_path`` and no env/file influence."""
    return Config.load({"state_dir": str(tmp_path / "state"), "compute_driver": "fake"},
                       environ={})


@pytest.fixture
def db(conf):
    """A SQLite database in the temp state directory with every table created."""
    import_all_models()
    database = Database(conf.database)
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def bus():
    b = InProcessBus(workers=8)
    yield b
    b.stop()


@pytest.fixture
def cloud(conf, db, bus):
    """A ``Cloud`` (managers built on first use) over the temp database and bus."""
    from pocketstack.service import Cloud

    return Cloud(conf, db, bus)
