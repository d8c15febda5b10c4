"""The compute agent never touches the database (ARCHITECTURE.md: "an agent holds no
database credentials at all", as nova-compute reaches it only through the conductor): a
static check of ``pocketstack/compute/agent.py`` as a lint rule would, and of what a
``ComputeAgent`` and a ``ComputeHost`` are given."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from pocketstack.compute import agent
from pocketstack.service import ComputeHost

SOURCE = Path(agent.__file__).read_text()
#: modules whose purpose is the database: the agent imports none of them
DATABASE_MODULES = (
    "sqlalchemy",
    "pocketstack.common.db",
    "pocketstack.compute.models",
    "pocketstack.compute.agent_reports",
    "pocketstack.compute.scheduler",
)


def _imported() -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(SOURCE)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_agent_imports_no_database_module():
    found = {
        name
        for name in _imported()
        for banned in DATABASE_MODULES
        if name == banned or name.startswith(banned + ".")
    }
    assert found == set()


def test_the_agent_uses_only_constants_of_the_actions_and_liveness_modules():
    used = {
        (node.value.id, node.attr)
        for node in ast.walk(ast.parse(SOURCE))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }
    assert {attr for module, attr in used if module == "actions"}, "expected event names"
    assert all(attr.isupper() for module, attr in used if module == "actions")
    imported = [n for n in _imported() if n.startswith("pocketstack.compute.liveness.")]
    assert imported == ["pocketstack.compute.liveness.COMPUTE_BINARY"]


def test_neither_the_agent_nor_the_compute_host_is_given_a_database():
    for cls in (agent.ComputeAgent, ComputeHost):
        assert "db" not in inspect.signature(cls.__init__).parameters, cls
    assert "self.db" not in SOURCE


def test_a_running_agent_holds_no_database(conf, bus):
    from pocketstack.common.db import Database
    from pocketstack.compute.drivers.fake import FakeDriver

    conf = conf.replace(hostname="node1")
    compute = agent.ComputeAgent(conf, bus, FakeDriver(conf))
    assert not [v for v in vars(compute).values() if isinstance(v, Database)]
