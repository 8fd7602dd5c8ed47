"""The package's shape: no import cycles, layers that import downwards only, a Flask-free core
and a lazy package ``__init__``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from flask_stackone.testing import make_event, post_event

from .conftest import build_app

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_stackone"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node``, ``if TYPE_CHECKING:`` blocks left out."""
    for child in ast.iter_child_nodes(node):
        if _type_checking_block(child):
            continue
        yield child
        yield from _walk(child)


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``from ... import ...`` statement loads."""
    if node.level:
        package = module.split(".")
        is_package = MODULES[module].name == "__init__.py"
        base = package[: len(package) - node.level + (1 if is_package else 0)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    found = [target] if target in MODULES else []
    found += [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return found


def imports_of(module: str) -> set[str]:
    """The package modules ``module`` imports, at module level or inside functions."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.update(_resolve(module, node))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in MODULES
        ):
            found.add(node.args[0].value)
    found.discard(module)
    return {m for m in found if not module.startswith(m + ".")}  # a parent package's __init__


GRAPH = {module: imports_of(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_parser_sees_imports_inside_functions_and_skips_type_checking() -> None:
    assert "flask_stackone.sandbox" in GRAPH["flask_stackone.sandbox_mount"]  # in a function
    assert "flask_stackone.blueprint" not in GRAPH["flask_stackone"]  # TYPE_CHECKING only
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_modules() -> None:
    assert find_cycle(GRAPH) is None


def private_names_used(module: str, source: str | None = None) -> list[str]:
    """``_name`` of another package module that ``module`` (or ``source``, read as if it
    were ``module``) imports or reads off it."""
    tree = ast.parse(source if source is not None else MODULES[module].read_text("utf-8"))
    modules_bound: dict[str, str] = {}  # a local name -> the package module it is
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            targets = _resolve(module, node)
            source_module = targets[0] if targets and targets[0] != module else None
            for alias in node.names:
                submodule = next((t for t in targets if t.endswith("." + alias.name)), None)
                if submodule:
                    modules_bound[alias.asname or alias.name] = submodule
                elif source_module and alias.name.startswith("_") and alias.name[1] != "_":
                    found.append(f"{source_module}.{alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules_bound
            and node.attr.startswith("_")
            and node.attr[1:2] != "_"
        ):
            found.append(f"{modules_bound[node.value.id]}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    used = {m: names for m in MODULES if (names := private_names_used(m))}
    assert used == {}, "make the name public, or move the code that needs it"
    sample = "from .routes import _classify\nfrom . import config\nconfig._read()\n"
    assert private_names_used("flask_stackone.cli", sample) == [
        "flask_stackone.routes._classify",
        "flask_stackone.config._read",
    ]


def test_layers_import_downwards_only() -> None:
    """core/ is the bottom; services/ import the core, each other and the public signals
    only (never the Flask face); signals.py imports nothing of the package; the sandbox uses
    the plugin's core only."""
    below_the_face = {
        "core": {"core", "__about__"},
        "services": {"core", "services", "signals", "__about__"},
        "signals": {"__about__"},
        "sandbox": {"core", "sandbox", "__about__"},
    }
    for module, imports in GRAPH.items():
        layer = module.split(".")[1] if "." in module else ""
        allowed = below_the_face.get(layer)
        if allowed is None:
            continue
        for target in imports:
            inner = target.split(".")[1] if "." in target else ""
            assert inner in allowed, f"{module} imports {target}"


def fresh_modules(code: str) -> list[str]:
    """The modules loaded by ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_the_core_loads_without_flask() -> None:
    loaded = fresh_modules(
        "from flask_stackone.core.webhooks import verify_signature, parse_event\n"
        "from flask_stackone.core.client import StackOneClient\n"
        "from flask_stackone.core.models import Account, AccountEvent, ConnectSession, Owner\n"
        "from flask_stackone.core.stores import open_store\n"
        "from flask_stackone.core.hub_script import install"
    )
    assert "flask_stackone.core.webhooks" in loaded
    assert not [m for m in loaded if m == "flask" or m.startswith(("flask.", "click"))]


def test_importing_the_package_loads_no_sandbox_testing_or_requests() -> None:
    loaded = fresh_modules("import flask_stackone")
    assert not [
        m for m in loaded if m.startswith(("flask_stackone.sandbox", "flask_stackone.testing"))
    ]
    assert "requests" not in loaded
    assert "flask" not in loaded
    uses = fresh_modules(
        "from flask import Flask\n"
        "from flask_stackone import stackone_bp, Owner, account_created\n"
        "Flask('host').register_blueprint(stackone_bp)"
    )
    assert "flask_stackone.blueprint" in uses
    emulator = {m for m in uses if m.startswith("flask_stackone.sandbox.")}
    assert emulator <= {"flask_stackone.sandbox.config"}  # its settings are checked, no more
    assert not [m for m in uses if m.startswith("flask_stackone.testing")]


def test_public_names_resolve_lazily_and_stay_the_same_objects() -> None:
    import flask_stackone
    from flask_stackone.blueprint import stackone_bp
    from flask_stackone.core.errors import FlaskStackOneError

    assert flask_stackone.stackone_bp is stackone_bp
    assert set(flask_stackone.__all__) <= set(dir(flask_stackone))
    for name in flask_stackone.__all__:
        assert getattr(flask_stackone, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        flask_stackone.no_such_name  # noqa: B018
    errors = [
        getattr(flask_stackone, n)
        for n in flask_stackone.__all__
        if isinstance(getattr(flask_stackone, n), type)
        and issubclass(getattr(flask_stackone, n), Exception)
    ]
    assert errors and all(issubclass(e, FlaskStackOneError) for e in errors)


def test_a_webhook_walks_route_service_core_signals_entering_no_module_twice(
    app: Flask,
) -> None:
    """On every call path of one delivery, each module appears once: the route calls the
    service, the service calls the core and the signals, and nothing calls back up."""
    from flask_stackone import account_created

    paths: list[list[str]] = []
    stack: list[str] = []

    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("flask_stackone"):
            return
        if event == "call":
            stack.append(module)
            collapsed = [m for i, m in enumerate(stack) if i == 0 or stack[i - 1] != m]
            paths.append(collapsed)
        elif event == "return" and stack:
            stack.pop()

    received: list[str] = []

    def on_created(sender: Flask, event: object, **extra: object) -> None:
        received.append(sys._getframe(1).f_globals["__name__"])

    body = make_event("account.created", account_id="acc_walk", origin_owner_id="org_1")
    client = app.test_client()
    with account_created.connected_to(on_created, app):
        sys.setprofile(profile)
        try:
            response = post_event(client, body)
        finally:
            sys.setprofile(None)
    assert response.status_code == 200 and received
    for path in paths:
        assert len(path) == len(set(path)), f"a module entered twice: {' -> '.join(path)}"
    walk = ["routes", "services.webhook_delivery", "core.webhooks"]
    walk = [f"flask_stackone.{m}" for m in walk]
    assert any(p[i : i + len(walk)] == walk for p in paths for i in range(len(p))), (
        "the delivery does not go route -> service -> core"
    )
    visited = {m for p in paths for m in p}
    assert {
        "flask_stackone.routes",
        "flask_stackone.services.webhook_delivery",
        "flask_stackone.core.webhooks",
        "flask_stackone.core.stores.memory",
        "flask_stackone.signals",
    } <= visited


@pytest.fixture
def app() -> Flask:
    return build_app()


def test_the_state_is_built_once_and_cannot_change(app: Flask) -> None:
    import dataclasses

    from flask_stackone import get_state

    state = get_state(app)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.settings = state.settings  # type: ignore[misc]
    assert state.client is get_state(app).client
    assert app.config["STACKONE_TIMEOUT"] == state.settings.timeout


def test_the_example_app_uses_public_names_only() -> None:
    """The example app is what users copy: it imports the package's top level only."""
    for path in (ROOT / "example_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "flask_stackone"
            ):
                assert node.module == "flask_stackone", f"{path.name} imports {node.module}"


def test_one_way_to_make_a_blueprint_and_to_name_one() -> None:
    import inspect

    import flask_stackone
    from flask_stackone import get_client, get_state, onboarding_link
    from flask_stackone.testing import post_event

    assert "StackOneBlueprint" not in flask_stackone.__all__
    for function in (get_state, get_client, onboarding_link, post_event):
        assert "blueprint" in inspect.signature(function).parameters, function.__name__
