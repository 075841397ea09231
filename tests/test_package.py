"""The package as a user gets it: built, installed into a clean venv, its ``watchkeeper demo`` run from elsewhere.

The wheel is built from this tree, as ``pipx install .`` builds it, and again
from the sdist; both must hold the same files. The fresh venv (not the dev one)
gets the wheel and its dependencies from the package index, as a user's would.
Then the installed ``watchkeeper demo`` runs in a real terminal (tmux), from a
directory that is not the repository, until its recorded sessions and its live
agent are on screen, and quits with ``q``. Skips without tmux, except under
WATCHKEEPER_REQUIRE_AGENTS=1 (CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tmux_support import Tmux, tmux_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
#: What the demo's sessions screen shows once every recording has arrived and its scripted agent runs.
DEMO_TITLES = (
    "Set up notes.txt for the demo, then check it.",
    "What is in this project? And is there a notes.txt?",
    "Summarise the open issues",
    "fix the failing total() test",
)
BUILD_TIMEOUT = 120
INSTALL_TIMEOUT = 600


@dataclass
class Installed:
    wheel: Path
    sdist: Path
    venv: Path

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "watchkeeper"


def run(*args: str | Path, cwd: Path | None = None, timeout: float = BUILD_TIMEOUT) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {directory}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel and sdist built from this tree, and a fresh venv with the wheel installed."""
    tmp = tmp_path_factory.mktemp("package")
    dist = tmp / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", dist, ROOT)
    run(sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", dist, cwd=ROOT)
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", venv)
    wheel = only(dist, "watchkeeper-*.whl")
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, timeout=INSTALL_TIMEOUT)
    return Installed(wheel, only(dist, "watchkeeper-*.tar.gz"), venv)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("package")


def test_the_installed_package_is_the_wheel_not_this_tree(installed: Installed, tmp_path: Path) -> None:
    where = run(installed.venv / "bin" / "python", "-c", "import watchkeeper; print(watchkeeper.__file__)",
                cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(installed.venv), where
    assert run(installed.command, "--version", cwd=tmp_path).strip() == f"watchkeeper {VERSION}"


def test_the_sdist_builds_the_same_wheel(installed: Installed, tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", tmp_path,
        installed.sdist)
    with zipfile.ZipFile(installed.wheel) as ours, zipfile.ZipFile(only(tmp_path, "watchkeeper-*.whl")) as theirs:
        assert sorted(theirs.namelist()) == sorted(ours.namelist())
        names = ours.namelist()
    assert any(n.startswith("watchkeeper/demo/sample_logs/claude-code/") for n in names), names
    assert "watchkeeper/demo/scripted_agent.py" in names


def test_the_installed_demo_runs_from_another_directory(installed: Installed, tmp_path: Path, tmux: Tmux) -> None:
    elsewhere, home = tmp_path / "elsewhere", tmp_path / "home"
    elsewhere.mkdir()
    home.mkdir()
    rc = tmp_path / "rc"
    # The test process may carry COLUMNS/LINES (80x24), which Textual would obey over the real terminal.
    # Textual draws on stderr, so that stays the terminal; the shell then keeps the pane (and any error) on screen.
    command = (f"env -u COLUMNS -u LINES -u PYTHONPATH -u VIRTUAL_ENV HOME={home} {installed.command} demo --speed 4; "
               f"echo $? >{rc}.part; mv {rc}.part {rc}; read -r _")
    tmux("new-session", "-d", "-s", "wk", "-x", "160", "-y", "40", "-c", str(elsewhere), command)
    tmux("resize-window", "-t", "wk", "-x", "160", "-y", "40")

    def up(screen: str) -> bool:
        assert not rc.exists(), f"the demo exited ({rc.read_text().strip()}):\n{tmux.screen()}"
        # "waiting": the live agent has asked to approve a call, so steering works from the package too.
        return all(title in screen for title in DEMO_TITLES) and "waiting for you" in screen

    tmux.wait_for(up, timeout=60)

    tmux.keys("q")
    deadline = time.monotonic() + 30
    while not rc.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rc.exists(), f"q did not quit; last screen:\n{tmux.screen()}"
    assert rc.read_text().strip() == "0", tmux.screen()
