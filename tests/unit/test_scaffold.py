"""Every service keeps the scaffold of ``docs/service-recipe.md``, so a new one can't drift.

Checked statically (the files are parsed, not imported): the files each service has, what
its API handlers may import, that its logic never renders API views, the naming rule for
manager classes, and that lists page through ``common.paging``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pocketstack
from pocketstack.service import SERVICES

ROOT = Path(pocketstack.__file__).parent
SERVICE_NAMES = [attr for attr, _manager, _api in SERVICES]

#: the files every service has (docs/service-recipe.md "Files")
REQUIRED = (
    "api/__init__.py",
    "api/schemas.py",
    "api/views.py",
    "api/errors.py",
    "manager.py",
    "models.py",
    "policies.py",
    "exceptions.py",
)
#: services whose resources have a lifecycle, and so a transition table
STATEFUL = {"compute", "image", "network"}
#: what an API handler module may not import: no SQL, no bus
HANDLER_FORBIDDEN = ("sqlalchemy", "pocketstack.common.db", "pocketstack.common.bus")
#: ... but the time formatting helpers that live beside the database
HANDLER_ALLOWED = {"pocketstack.common.db.isotime", "pocketstack.common.db.utcnow"}


def _imports(path: Path) -> set[str]:
    """Every module imported, and ``module.name`` for each name imported from a module."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _logic_modules(service: str) -> list[Path]:
    return [p for p in (ROOT / service).rglob("*.py") if "api" not in p.relative_to(ROOT).parts]


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_has_the_scaffold_files(service):
    missing = [f for f in REQUIRED if not (ROOT / service / f).is_file()]
    if service in STATEFUL and not (ROOT / service / "states.py").is_file():
        missing.append("states.py")
    assert missing == [], f"{service} lacks {missing} (docs/service-recipe.md)"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_handlers_hold_no_sql_and_no_bus(service):
    offenders = {}
    for path in (ROOT / service / "api").glob("*.py"):
        bad = sorted(
            i
            for i in _imports(path) - HANDLER_ALLOWED
            if any(i == f or i.startswith(f + ".") for f in HANDLER_FORBIDDEN)
        )
        if bad:
            offenders[path.name] = bad
    assert offenders == {}, f"{service}/api imports SQL or the bus: {offenders}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_logic_never_imports_the_api_layer(service):
    api_package = f"pocketstack.{service}.api"
    offenders = [
        str(p.relative_to(ROOT))
        for p in _logic_modules(service)
        if any(i == api_package or i.startswith(api_package + ".") for i in _imports(p))
    ]
    assert offenders == [], f"logic modules render through api/: {offenders}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_family_classes_follow_the_naming_rule(service):
    """Family classes are named after the plural resource (``Servers``), never ``...Manager``
    or ``...Family``; ``manager.py``'s entry point is the one ``<Service>Manager``."""
    offenders = []
    for path in _logic_modules(service):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            if node.name.endswith("Family") or (
                node.name.endswith("Manager") and path.name != "manager.py"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert offenders == [], f"rename per docs/service-recipe.md: {offenders}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_family_methods_use_the_verbs_not_the_resource_name(service):
    """``users.list``, not ``users.list_users``: the family already names the resource."""
    offenders = []
    for path in _logic_modules(service):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or path.name == "manager.py":
                continue
            singular = _singular(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                    verb, _, rest = item.name.partition("_")
                    if verb in ("list", "get", "create", "update", "delete") and rest in (
                        singular,
                        singular + "s",
                    ):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.name}.{item.name}")
    assert offenders == [], f"drop the resource from the verb: {offenders}"


def _singular(class_name: str) -> str:
    words, word = [], ""
    for ch in class_name:
        if ch.isupper() and word:
            words.append(word)
            word = ""
        word += ch.lower()
    words.append(word)
    name = "_".join(words)
    return name[:-1] if name.endswith("s") else name


@pytest.mark.parametrize("service", sorted(STATEFUL))
def test_stateful_services_declare_a_transition_table(service):
    tree = ast.parse((ROOT / service / "states.py").read_text())
    names = {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }
    functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert "TRANSITIONS" in names, f"{service}/states.py has no TRANSITIONS table"
    assert "transition" in functions or "check_transition" in functions


def test_lists_page_in_sql_through_the_shared_helper():
    users = {
        service
        for service in SERVICE_NAMES
        for p in _logic_modules(service)
        if any(i.startswith("pocketstack.common.paging") for i in _imports(p))
    }
    assert {"compute", "image", "network"} <= users
