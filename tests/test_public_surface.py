"""The public surface, frozen: what people and scripts rely on must not move when the code is restructured.

Each check compares against a file in ``tests/surface/``: the SDK's names and
signatures, every CLI verb with its options, ``watchkeeper schema`` byte for
byte, the config and recording paths, and a recording written by an earlier
build, which must still replay to the same events. A deliberate change to the
surface updates the file in the same commit (``WATCHKEEPER_UPDATE_SURFACE=1``
rewrites them), so the diff shows it.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from watchkeeper import sdk
from watchkeeper.cli import build_parser

SURFACE = Path(__file__).parent / "surface"
UPDATE = os.environ.get("WATCHKEEPER_UPDATE_SURFACE") == "1"


def check(name: str, actual: str | bytes) -> None:
    path = SURFACE / name
    data = actual.encode() if isinstance(actual, str) else actual
    if UPDATE:
        path.write_bytes(data)
    assert path.read_bytes() == data, f"the public surface in {path.name} changed; see the diff above"


def test_the_sdk_names_and_signatures() -> None:
    lines = []
    for name in sorted(n for n in dir(sdk) if not n.startswith("_")):
        value = getattr(sdk, name)
        if inspect.ismodule(value) or getattr(value, "__module__", "watchkeeper.sdk") != sdk.__name__:
            continue
        if inspect.isclass(value):
            lines.append(f"class {name}")
            for member, attr in sorted(vars(value).items()):
                if member.startswith("_") and member != "__init__":
                    continue
                if callable(attr) or isinstance(attr, staticmethod | classmethod):
                    fn = attr.__func__ if isinstance(attr, staticmethod | classmethod) else attr
                    kind = "async " if inspect.iscoroutinefunction(fn) else ""
                    lines.append(f"  {kind}def {member}{inspect.signature(fn)}")
                elif isinstance(attr, property):
                    lines.append(f"  property {member}")
        elif callable(value):
            kind = "async " if inspect.iscoroutinefunction(value) else ""
            lines.append(f"{kind}def {name}{inspect.signature(value)}")
    check("sdk.txt", "\n".join(lines) + "\n")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:  # argparse has no public way to list a parser's options
        if isinstance(action, argparse._SubParsersAction):
            continue
        flags = ",".join(action.option_strings) or action.dest
        choices = f" {sorted(action.choices)}" if action.choices and not isinstance(action.choices, dict) else ""
        out.append(f"{flags}{choices}")
    return sorted(out)


def test_the_cli_verbs_and_flags() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    surface = {"": _options(parser)}
    surface.update({verb: _options(p) for verb, p in sub.choices.items()})
    check("cli.json", json.dumps(surface, indent=2) + "\n")


def test_the_schema_byte_for_byte() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "watchkeeper"), "schema"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    check("schema.json", done.stdout)


def test_the_config_and_recording_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper import config

    def paths() -> dict[str, str]:
        named = {"config_dir": config.config_dir(), "token": config.token_path(),
                 "hook_token": config.hook_token_path(), "hook_credentials": config.hook_credentials_dir(),
                 "recordings": config.recordings_dir(), "runtime": config.runtime_path()}
        return {k: str(Path(v).relative_to(tmp_path)) for k, v in named.items()}

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("WATCHKEEPER_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    surface = {"HOME": paths()}
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    surface["XDG_CONFIG_HOME"] = paths()
    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path / "wk"))
    surface["WATCHKEEPER_HOME"] = paths()
    check("paths.json", json.dumps(surface, indent=2) + "\n")


def test_a_recording_from_an_earlier_build_still_replays() -> None:
    """``recording-0.1.jsonl`` was written by the relay's recorder before the restructure (a hooked
    session with a breakpoint hold, an approve and a deny), and must replay to the same events."""
    done = subprocess.run([str(Path(sys.executable).parent / "watchkeeper"), "events",
                           str(SURFACE / "recording-0.1.jsonl")], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    check("recording-0.1.events.json", json.dumps([[e["id"], e["kind"], e.get("seq")] for e in events]) + "\n")
    kinds = {e["kind"] for e in events}
    assert {"session.started", "tool.waiting", "control.applied", "tool.finished"} <= kinds
