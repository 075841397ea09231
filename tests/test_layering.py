"""The layering, enforced: imports flow protocol <- adapters <- relay <- viewer/commands/cli, with no circles.

Each rule is checked on the real tree, and again on a copy with a violation
planted, so a check that cannot fail would show up here. The import graph
counts every import: module level, inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "watchkeeper"
PROTOCOL_ALLOWED = {"pydantic", "pydantic_core", "orjson"}
#: layer -> the watchkeeper layers it must not import.
FORBIDDEN_LAYERS = {
    "protocol": {"adapters", "relay", "viewer", "sdk", "cli", "commands"},
    "adapters": {"relay", "viewer", "commands", "cli"},
    "relay": {"viewer", "commands", "cli"},
    "export": {"viewer", "commands", "cli"},
}
#: Each top-level part of the package (a subpackage or a module) and its rank: an import may go to
#: the same rank or lower, never higher. A new top-level module must be placed here.
RANKS = {
    "protocol": 0, "credentials": 0, "retention": 0, "tool_input": 0,
    "config": 1, "breakpoints": 1, "guard": 1, "sdk": 1, "reconnect": 1,
    "adapters": 2,
    "relay": 3,
    "viewer": 4, "demo": 4, "export": 4,
    "client": 5, "cli_paths": 5,
    "commands": 6,
    "cli": 7,
}
#: The SDK goes into agents' environments alone: it may import only these parts of the package.
SDK_PARTS = {"sdk", "reconnect", "protocol", "config", "credentials"}
#: Lines a module of the package may have (one job per module).
MAX_LINES = 450


def imported_modules(path: Path, package: Path) -> set[str]:
    """Absolute dotted names imported by a module, relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    here = path.relative_to(package.parent).with_suffix("").parts
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level + (1 if path.name == "__init__.py" else 0)])
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
    return names


#: What ``viewer/`` may import besides the standard library and itself: it talks to the relay's API
#: and the protocol only. Pygments is Rich's highlighter: the detail pane keeps the lexers it finds.
VIEWER_ALLOWED = {"textual", "rich", "pygments", "orjson"}
VIEWER_PARTS = (
    "watchkeeper.viewer", "watchkeeper.protocol", "watchkeeper.relay.api",
    # The breakpoint rules the palette edits: data and matching over protocol events, the same
    # vocabulary for the relay, the remote relay and the viewer (below the relay, not of it).
    "watchkeeper.breakpoints", "watchkeeper.guard", "watchkeeper.tool_input",
    # The process-wide gc.freeze policy the relay and the screens share (the relay slice of issue 12).
    "watchkeeper.retention",
)


def viewer_imports(package: Path) -> list[str]:
    """What viewer/ imports beyond the relay API, the protocol, its own modules and its libraries."""
    found = []
    for path in sorted((package / "viewer").rglob("*.py")):
        for name in sorted(imported_modules(path, package)):
            top = name.split(".")[0]
            if top == package.name:
                if not any(name == part or name.startswith(part + ".") for part in VIEWER_PARTS):
                    found.append(f"{path.relative_to(package)}: viewer imports {name}")
            elif top not in VIEWER_ALLOWED and top not in sys.stdlib_module_names:
                found.append(f"{path.relative_to(package)}: viewer imports {name}")
    return found


#: The viewer's own tiers, lowest first: the model knows no widget, a widget no screen, a screen no app.
VIEWER_TIERS = {
    "model": 0,
    "compat": 1, "theme": 1, "host": 1, "palette": 1, "idle_gc": 1,
    "widgets": 2,
    "screens": 3,
    "breakpoint_palette": 4, "kept_screens": 4, "app": 4, "replay_app": 4, "__init__": 4,
}


def viewer_upward(package: Path) -> list[str]:
    """Imports inside viewer/ that go up a tier (a model module importing a widget, a widget a screen...)."""
    viewer = package / "viewer"
    found = []
    for path in sorted(viewer.rglob("*.py")):
        rel = path.relative_to(viewer)
        here = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for name in sorted(imported_modules(path, package)):
            parts = name.split(".")
            if parts[:2] != [package.name, "viewer"] or len(parts) < 3:
                continue
            if VIEWER_TIERS.get(parts[2], 99) > VIEWER_TIERS.get(here, -1):
                found.append(f"viewer/{rel}: {here} imports {name}")
    return found


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for name in imported_modules(path, package):
            top = name.split(".")[0]
            if top == "textual" and layer != "viewer":
                found.append(f"{rel}: imports textual outside watchkeeper/viewer/")
            if layer == "protocol" and top not in (package.name, *PROTOCOL_ALLOWED, *sys.stdlib_module_names):
                found.append(f"{rel}: protocol imports {name} (only the standard library and pydantic)")
            if top == package.name:
                parts = name.split(".")
                target = parts[1] if len(parts) > 1 else ""
                if target in FORBIDDEN_LAYERS.get(layer, ()):
                    found.append(f"{rel}: {layer} imports {name}")
    return found


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a package is its ``__init__``).

    ``from X import y`` is an import of the module ``X.y`` when there is one, else of ``X``.
    """
    paths = {module_name(path, package): path for path in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] if node.level else [])
                module = ".".join(p for p in (base, node.module or "") if p)
                found = [f"{module}.{a.name}" if f"{module}.{a.name}" in paths else module for a in node.names]
            else:
                continue
            for target in found:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once (a strongly connected component of more than one module), its members sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def upward_imports(package: Path) -> list[str]:
    """Imports from a lower part of the package to a higher one, and SDK imports outside its parts."""
    found = []
    for module, targets in sorted(import_graph(package).items()):
        part = module.split(".")[1] if "." in module else ""
        if part and part not in RANKS:
            found.append(f"{module}: {part} has no rank in the layering")
            continue
        for target in sorted(targets):
            to = target.split(".")[1] if "." in target else ""
            if not part or not to or to == part:
                continue
            if to not in RANKS:
                continue
            if RANKS[to] > RANKS[part]:
                found.append(f"{module} imports {target}: upward ({part} is below {to})")
            elif part == "sdk" and to not in SDK_PARTS:
                found.append(f"{module} imports {target}: the SDK imports only {sorted(SDK_PARTS)}")
    return found


def commands_importing_commands(package: Path) -> list[str]:
    """Command modules that import another: what commands share belongs in ``client`` or below."""
    prefix = f"{package.name}.commands."
    return [f"{module} imports {target}" for module, targets in sorted(import_graph(package).items())
            if module.startswith(prefix) for target in sorted(targets) if target.startswith(prefix)]


def long_modules(package: Path, limit: int = MAX_LINES) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        lines = len(path.read_text().splitlines())
        if lines > limit:
            found.append(f"{path.relative_to(package.parent)}: {lines} lines")
    return found


def sdk_heavy_imports(package_parent: Path) -> list[str]:
    """What of textual/watchfiles `import watchkeeper.sdk` loads, in a clean interpreter."""
    code = (
        "import sys; import watchkeeper.sdk; "
        "print(' '.join(m for m in ('textual', 'watchfiles') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=package_parent, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_the_tree_keeps_its_layers() -> None:
    assert violations(PACKAGE) == []


def test_no_import_circles() -> None:
    assert circles(import_graph(PACKAGE)) == []


def test_nothing_imports_upward() -> None:
    assert upward_imports(PACKAGE) == []


def test_no_command_module_imports_another() -> None:
    assert commands_importing_commands(PACKAGE) == []


def test_sdk_loads_neither_textual_nor_watchfiles() -> None:
    assert sdk_heavy_imports(ROOT) == []


def test_the_viewer_talks_to_the_relay_api_and_the_protocol_only() -> None:
    assert viewer_imports(PACKAGE) == []


def test_the_viewer_model_knows_no_widget_and_a_widget_no_screen() -> None:
    assert viewer_upward(PACKAGE) == []


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("model/planted.py", "from ..widgets.timeline import Timeline\n", "model imports watchkeeper.viewer.widgets"),
        ("widgets/planted.py", "from ..screens import session\n", "widgets imports watchkeeper.viewer.screens"),
        ("screens/planted.py", "from ..app import WatchkeeperApp\n", "screens imports watchkeeper.viewer.app"),
        # A new top-level module has no tier until it is placed in VIEWER_TIERS.
        ("planted.py", "from .model import rows\n", "planted imports watchkeeper.viewer.model"),
    ],
)
def test_a_planted_upward_viewer_import_is_caught(tree_copy: Path, module: str, line: str, expected: str) -> None:
    (tree_copy / "viewer" / module).write_text(line)
    found = [v for v in viewer_upward(tree_copy) if "planted" in v]
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("from ...relay.hub import Relay\n", "viewer imports watchkeeper.relay.hub"),
        ("from ...adapters.replay import MAX_GAP_S\n", "viewer imports watchkeeper.adapters.replay"),
        ("from ... import config\n", "viewer imports watchkeeper"),
        ("import watchfiles\n", "viewer imports watchfiles"),
    ],
)
def test_a_planted_viewer_import_is_caught(tree_copy: Path, line: str, expected: str) -> None:
    (tree_copy / "viewer" / "screens" / "planted.py").write_text(line)
    assert [v for v in viewer_imports(tree_copy) if "planted" in v] == [f"viewer/screens/planted.py: {expected}"]


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "watchkeeper", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "watchkeeper"


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("relay/planted.py", "from textual.app import App\n", "imports textual outside"),
        ("adapters/planted.py", "import textual\n", "imports textual outside"),
        ("protocol/planted.py", "import websockets\n", "protocol imports websockets"),
        ("protocol/planted.py", "from ..relay import api\n", "protocol imports watchkeeper.relay"),
        ("adapters/planted.py", "from ..viewer import app\n", "adapters imports watchkeeper.viewer"),
        ("relay/planted.py", "from watchkeeper.viewer import app\n", "relay imports watchkeeper.viewer"),
    ],
)
def test_a_planted_violation_is_caught(tree_copy: Path, module: str, line: str, expected: str) -> None:
    (tree_copy / module).write_text(line)
    found = violations(tree_copy)
    assert any(expected in v for v in found), found


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"protocol/planted_a.py": "from . import planted_b\n",
          "protocol/planted_b.py": "def f():\n    from .planted_a import x\n"},
         ["watchkeeper.protocol.planted_a", "watchkeeper.protocol.planted_b"]),
        ({"relay/planted.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import planted_c\n",
          "relay/planted_c.py": "import watchkeeper.relay.planted\n"},
         ["watchkeeper.relay.planted", "watchkeeper.relay.planted_c"]),
    ],
)
def test_a_planted_circle_is_caught(tree_copy: Path, files: dict[str, str], expected: list[str]) -> None:
    for module, text in files.items():
        (tree_copy / module).write_text(text)
    assert expected in circles(import_graph(tree_copy))


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("protocol/planted.py", "def f():\n    from ..relay import hub\n",
         "watchkeeper.protocol.planted imports watchkeeper.relay.hub: upward"),
        ("adapters/planted.py", "import watchkeeper.client\n", "adapters is below client"),
        ("viewer/planted.py", "from ..commands import ctl\n", "viewer is below commands"),
        ("sdk/planted.py", "from ..breakpoints import Book\n", "the SDK imports only"),
        ("planted.py", "import os\n", "planted has no rank"),
    ],
)
def test_a_planted_upward_import_is_caught(tree_copy: Path, module: str, line: str, expected: str) -> None:
    (tree_copy / module).write_text(line)
    found = upward_imports(tree_copy)
    assert any(expected in v for v in found), found


def test_no_module_is_over_the_line_limit() -> None:
    assert long_modules(PACKAGE) == []


def test_a_command_importing_another_is_caught(tree_copy: Path) -> None:
    (tree_copy / "commands" / "planted.py").write_text("def run():\n    from .ctl import build_control\n")
    assert commands_importing_commands(tree_copy) == ["watchkeeper.commands.planted imports watchkeeper.commands.ctl"]


def test_a_long_module_is_found(tree_copy: Path) -> None:
    (tree_copy / "relay" / "planted.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert f"watchkeeper/relay/planted.py: {MAX_LINES + 1} lines" in long_modules(tree_copy)


def test_a_heavy_import_planted_in_the_sdk_is_caught(tree_copy: Path) -> None:
    sdk = tree_copy / "sdk" / "__init__.py"
    sdk.write_text(sdk.read_text() + "\nimport watchfiles  # planted\n")
    assert sdk_heavy_imports(tree_copy.parent) == ["watchfiles"]
