"""The SDK alone, as an agent's environment installs it: ``watchkeeper-sdk``, built from ``sdk/pyproject.toml``.

The wheel must hold every module ``import watchkeeper.sdk`` reaches (the
package's own import graph, as the layering test builds it) and nothing that
needs more than its three dependencies. Installed into a fresh venv (its
dependencies from the package index, as an agent's would be), it has no
Textual, watchfiles or aiohttp, and an agent written with it reports a tool
call to a real relay served on loopback.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from remote_support import TOKEN, Served
from test_layering import PACKAGE, import_graph
from test_package import BUILD_TIMEOUT, INSTALL_TIMEOUT, only, run
from waiting import until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SDK_PROJECT = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text())["project"]
APP_PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
HEAVY = ("textual", "watchfiles", "aiohttp")
AGENT = """
import asyncio, importlib.util, json, sys
from watchkeeper import sdk

async def main(url, token):
    run = await sdk.connect(url, token=token, title="from a clean venv")
    call = run.tool_started("shell", {"cmd": "true"})
    run.tool_finished(call, "ok")
    assert await run.flush()
    await run.close()
    return run.session

session = asyncio.run(main(sys.argv[1], sys.argv[2]))
absent = [m for m in sys.argv[3:] if importlib.util.find_spec(m) is None]
print(json.dumps({"session": session, "absent": absent, "sdk": sdk.__file__}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("sdk-dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", dist,
        ROOT / "sdk", timeout=BUILD_TIMEOUT)
    return only(dist, "watchkeeper_sdk-*.whl")


def modules_reached(start: str) -> set[str]:
    """``start`` and every package module it imports, directly or not, with the packages that hold them."""
    graph = import_graph(PACKAGE)
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))] + sorted(graph.get(module, ()))
    return seen


def shipped_modules(wheel: Path) -> dict[str, str]:
    """Module name -> source, for every ``.py`` file in the wheel."""
    with zipfile.ZipFile(wheel) as z:
        return {name.removesuffix(".py").removesuffix("/__init__").replace("/", "."): z.read(name).decode()
                for name in z.namelist() if name.endswith(".py")}


def test_the_sdk_distribution_has_the_apps_version_and_no_heavy_dependency() -> None:
    assert SDK_PROJECT["version"] == APP_PROJECT["version"]
    assert set(SDK_PROJECT["dependencies"]) <= set(APP_PROJECT["dependencies"])
    assert not [d for d in SDK_PROJECT["dependencies"] if d.split(">")[0].split("=")[0] in HEAVY]


def test_the_wheel_holds_what_the_sdk_imports_and_nothing_needing_more(wheel: Path) -> None:
    shipped = shipped_modules(wheel)
    assert sorted(modules_reached("watchkeeper.sdk") - set(shipped)) == []
    allowed = {"watchkeeper", "websockets", "pydantic", "pydantic_core", "orjson", *sys.stdlib_module_names}
    outside = set()
    for module, source in shipped.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                outside |= {f"{module}: {a.name}" for a in node.names if a.name.split(".")[0] not in allowed}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module and \
                    node.module.split(".")[0] not in allowed:
                outside.add(f"{module}: {node.module}")
    assert sorted(outside) == []
    with zipfile.ZipFile(wheel) as z:
        assert f"watchkeeper_sdk-{SDK_PROJECT['version']}.dist-info/licenses/LICENSE" in z.namelist()


def test_an_agent_in_a_fresh_venv_reports_to_a_relay_without_textual(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheel, timeout=INSTALL_TIMEOUT)
    served = Served()
    try:
        done = subprocess.run([python, "-c", AGENT, served.url, TOKEN, *HEAVY], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["absent"] == list(HEAVY)
        assert Path(answer["sdk"]).is_relative_to(venv)
        session = answer["session"]
        until(lambda: "session.ended" in [e["kind"] for e in served.events(session)], what="the run ends")
        kinds = [e["kind"] for e in served.events(session)]
        assert kinds == ["session.started", "tool.started", "tool.finished", "session.ended"], kinds
        assert served.relay.session(session).title == "from a clean venv"
    finally:
        served.stop()
