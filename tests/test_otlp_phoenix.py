"""Smoke test against a real backend: Arize Phoenix from PyPI, on SQLite, started by the test on loopback.

Phoenix is heavy (about 0.9 GB installed), so it lives in its own venv that
``make phoenix`` creates; ``make test-phoenix`` (part of ``make test``) passes
its ``phoenix`` command as ``WATCHKEEPER_PHOENIX``. Without it this test
skips, except where CI is set: there it fails.

Phoenix converts ``gen_ai.*`` to its own conventions (OpenInference), so only
this is checked: the session's spans arrive with our ids and parents, and can
be queried back through its REST API; exporting again adds none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CC_FIXTURES
from test_remote_cli import free_port
from waiting import until

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.export.mapping import SpanMapper

pytestmark = pytest.mark.phoenix

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]
SHOP = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"
#: Seconds Phoenix may take to start (it migrates its SQLite database first) on a busy machine.
START = 240.0


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def healthy(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"phoenix exited with {proc.returncode} before it was ready")
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    command = os.environ.get("WATCHKEEPER_PHOENIX")
    if not command or not Path(command).exists():
        message = f"no Phoenix at {command!r} (`make test-phoenix` installs one and passes it as WATCHKEEPER_PHOENIX)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message + "; CI requires the Phoenix smoke test")
        pytest.skip(message)
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "PHOENIX_WORKING_DIR": str(tmp_path / "phoenix"), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(free_port()),
           "PHOENIX_TELEMETRY_ENABLED": "false", "DO_NOT_TRACK": "1"}
    log = (tmp_path / "phoenix.log").open("wb")
    proc = subprocess.Popen([command, "serve"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: healthy(url, proc), "phoenix to answer /healthz", timeout=START, poll=0.5,
              seen=lambda: (tmp_path / "phoenix.log").read_text(errors="replace")[-2000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def spans_in(url: str) -> list[dict[str, Any]]:
    return list(get(f"{url}/v1/projects/default/spans?limit=1000")["data"])


def at_least(spans: list[dict[str, Any]], n: int) -> list[dict[str, Any]] | None:
    return spans if len(spans) >= n else None


def test_a_session_exported_to_phoenix_can_be_queried_back(phoenix: str) -> None:
    mapper = SpanMapper()
    records = mapper.feed(convert_file(SHOP)) + mapper.close_all(incomplete=False)
    expected = {(f"{r.trace_id:032x}", f"{r.span_id:016x}"): r for r in records}
    for attempt in range(2):
        out = subprocess.run([*WATCHKEEPER, "export", "--otlp", phoenix, str(SHOP)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        got = until(lambda: at_least(spans_in(phoenix), len(expected)),
                    f"{len(expected)} spans queryable in Phoenix (export {attempt + 1})", timeout=60, poll=0.5)
        assert len(got) == len(expected), "exporting again added spans"
    for span in got:
        rec = expected[(span["context"]["trace_id"], span["context"]["span_id"])]
        assert span["name"] == rec.name
        assert span["parent_id"] == (None if rec.parent_id is None else f"{rec.parent_id:016x}")
    tool = next(s for s in got if s["name"] == "execute_tool mcp__plugin_shop_repo__inspect_layout")
    assert tool["attributes"]["gen_ai.tool.call.id"] == "toolu_d_inspect"
