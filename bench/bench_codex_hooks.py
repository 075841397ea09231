"""What watchkeeper's hooks add to each Codex hook call, beside a no-op ``true`` hook, in one run.

The real Codex CLI (``codex exec``, offline against the Responses stand-in)
runs the same scripted session (``--calls`` shell calls, one per model turn)
with the same five hook events installed two ways, interleaved, ``--runs``
times each:

- ``true``: every hook is the no-op command ``true`` (what any command hook costs Codex);
- watchkeeper: the forwarder ``run`` installs (one ``curl`` reading its URL and
  credential from a 0600 file) posting to the relay's hook endpoint, nothing held.

Both sets are trusted through Codex's app-server in the bench's own CODEX_HOME.
Printed: each way's median wall time, and the added time per hook call,
(median watchkeeper - median true) / hook calls per run; budget <= 30 ms.
Also the forwarder alone: ``--direct`` runs of the hook command from ``sh -c``
beside ``sh -c true`` (p50/p90), and the Python fallback's cost for contrast.

Run: ``.venv/bin/python bench/bench_codex_hooks.py [--runs 5] [--calls 6]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from standins.codex import MODEL, codex_env, config_toml  # noqa: E402
from standins.openai_responses import Exec, ScriptedResponses, Text, Turn  # noqa: E402

from watchkeeper import config  # noqa: E402
from watchkeeper.adapters.codex import hooks as X  # noqa: E402
from watchkeeper.adapters.codex import setup  # noqa: E402
from watchkeeper.adapters.codex import trust as T  # noqa: E402
from watchkeeper.relay import Relay  # noqa: E402
from watchkeeper.relay.servers.hookserver import serve_hooks  # noqa: E402

CODEX = Path(os.environ.get("WATCHKEEPER_AGENTS_DIR") or ROOT / "tools" / "agents" / "node_modules") / ".bin" / "codex"
BUDGET_MS = 30.0


def noop_hooks() -> dict[str, Any]:
    hooks = X.steering_hooks("/dev/null", 600, False)
    for groups in hooks.values():
        for group in groups:
            for hook in group["hooks"]:
                hook["command"] = "true"
    return hooks


def script(calls: int) -> list[Turn]:
    return [*(Turn([Exec("true", call_id=f"call_{n}")]) for n in range(calls)), Turn([Text("done")])]


def trust_all(flags: list[str], env: dict[str, str], cwd: str) -> None:
    """Trust every hook the flags add (the bench's own CODEX_HOME; ``true`` is no watchkeeper hook)."""
    hooks = T._ask([str(CODEX)], flags, env, [("hooks/list", {"cwds": [cwd]})])[0]
    edits = [{"keyPath": f'hooks.state."{h["key"]}".trusted_hash', "value": h["currentHash"], "mergeStrategy": "upsert"}
             for entry in hooks.get("data") or [] for h in entry.get("hooks") or []]
    T._ask([str(CODEX)], (), env, [("config/batchWrite", {"edits": edits})])


def one_run(calls: int, flags: list[str], env: dict[str, str], home: Path, cwd: Path) -> float:
    with ScriptedResponses(script(calls), model=MODEL) as api:
        text = (home / "config.toml").read_text()
        _, _, state = text.partition("[hooks.state")
        (home / "config.toml").write_text(config_toml(api.url) + ("\n[hooks.state" + state if state else ""))
        start = time.perf_counter()
        done = subprocess.run([str(CODEX), *flags, "exec", "--json", "--skip-git-repo-check", "-C", str(cwd), "go"],
                              env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
        elapsed = time.perf_counter() - start
        if done.returncode != 0 or api.errors:
            raise SystemExit(f"codex failed: {done.stderr[-800:]} {api.errors}")
    return elapsed


def direct(command: str, env: dict[str, str], payload: bytes, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(["sh", "-c", command], input=payload, env=env, capture_output=True, timeout=30)
        times.append((time.perf_counter() - start) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--direct", type=int, default=40)
    args = parser.parse_args()
    if not CODEX.exists() or shutil.which("curl") is None:
        print("needs the Codex CLI (make agents) and curl")
        return 1
    base = Path(tempfile.mkdtemp(prefix="bench-codex-hooks-"))
    os.environ[config.ENV_HOME] = str(base / "wk")
    token = config.load_token(create=True)
    assert token
    relay = Relay().start()
    source = serve_hooks(relay, token, port=0)
    assert source.ready.wait(30) and source.error is None
    hook_token = config.load_hook_token()
    request = setup.write_request_file(base / "request.curl", setup.hook_url(source.port, False, True), hook_token)
    ours = X.config_flags(X.steering_hooks(str(request), 600, False))
    noop = X.config_flags(noop_hooks())
    homes = {}
    for name, flags in (("true", noop), ("watchkeeper", ours)):
        home = base / name / "codex"
        home.mkdir(parents=True)
        (home / "config.toml").write_text(config_toml("http://127.0.0.1:9"))
        env = {**codex_env(home), X.ENV_HOOK_FILE: str(request)}
        cwd = base / name / "work"
        cwd.mkdir()
        trust_all(flags, env, str(cwd))
        homes[name] = (flags, env, home, cwd)
    hook_calls = 2 * args.calls + 2  # PreToolUse + PostToolUse per call, UserPromptSubmit and Stop once
    times: dict[str, list[float]] = {"true": [], "watchkeeper": []}
    try:
        for _ in range(args.runs):
            for name in times:
                flags, env, home, cwd = homes[name]
                times[name].append(one_run(args.calls, flags, env, home, cwd))
        payload = json.dumps({"session_id": "bench-direct", "hook_event_name": "PostToolUse", "tool_name": "Bash",
                              "tool_use_id": "c", "tool_input": {"command": "true"}, "tool_response": ""}).encode()
        env = {**os.environ, X.ENV_HOOK_FILE: str(request)}
        curl_cmd = X.forwarder("/dev/null", 40, False)
        python_cmd = X.forwarder("/dev/null", 40, False, curl="")
        direct_true = direct("true", env, payload, args.direct)
        direct_curl = direct(curl_cmd, env, payload, args.direct)
        direct_python = direct(python_cmd, {**env, "PYTHONPATH": str(ROOT)}, payload, max(5, args.direct // 4))
        hooked = [s for s in relay.sessions() if s.agent_kind == "codex" and s.session != "bench-direct"]
    finally:
        relay.stop()
        shutil.rmtree(base, ignore_errors=True)
    if len(hooked) != args.runs:
        print(f"the relay heard {len(hooked)} hooked Codex sessions, not {args.runs}: the hooks did not run")
        return 1
    med = {k: statistics.median(v) for k, v in times.items()}
    added = (med["watchkeeper"] - med["true"]) * 1000 / hook_calls
    print(f"codex exec, {args.calls} shell calls, {hook_calls} hook calls per run, {args.runs} runs each (interleaved)")
    for name, values in times.items():
        print(f"  {name:12s} median {med[name] * 1000:7.1f} ms   runs: {', '.join(f'{v * 1000:.0f}' for v in values)}")
    print(f"  added per hook call (watchkeeper - true): {added:.1f} ms   budget <= {BUDGET_MS:.0f} ms: "
          f"{'ok' if added <= BUDGET_MS else 'OVER'}")
    print(f"forwarder alone, sh -c, {args.direct} runs: true p50 {pct(direct_true, .5):.1f} ms, "
          f"curl p50 {pct(direct_curl, .5):.1f} / p90 {pct(direct_curl, .9):.1f} ms, "
          f"python fallback p50 {pct(direct_python, .5):.1f} ms")
    return 0 if added <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
