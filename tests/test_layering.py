"""The layering of DESIGN.md, enforced: imports flow protocol <- adapters <- relay <- viewer.

Each rule is checked on the real tree, and again on a copy with a violation
planted, so a check that cannot fail would show up here.
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
}


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


def test_sdk_loads_neither_textual_nor_watchfiles() -> None:
    assert sdk_heavy_imports(ROOT) == []


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


def test_a_heavy_import_planted_in_the_sdk_is_caught(tree_copy: Path) -> None:
    sdk = tree_copy / "sdk.py"
    sdk.write_text(sdk.read_text() + "\nimport watchfiles  # planted\n")
    assert sdk_heavy_imports(tree_copy.parent) == ["watchfiles"]
