"""`make canary`: the live suites against the newest Claude Code and Codex on npm, and what changed.

The tests that drive the real CLIs pin the versions in tools/agents/package.json.
This installs the newest published ones into tools/canary/ (ignored by git),
runs those tests against them (WATCHKEEPER_AGENTS_DIR, WATCHKEEPER_CLAUDE_VERSIONS),
and the same tests against the newest pinned CLIs as a baseline. It reports the
versions, each test's outcome, and the format drift seen in the transcripts the
runs wrote (kept under tools/canary/run/ and tools/canary/baseline/): records the
adapters show as ``raw``, newer-version notices, and record types the newest CLIs
wrote that the pinned ones did not (or no longer wrote). Record types that no
recording or fixture in the repository holds are listed too, as a coverage note.

Not part of `make test`: what npm serves changes from day to day. Exit status 1
when a test failed or drift was seen, 0 when the newest CLIs read as the pinned ones.

usage: .venv/bin/python tests/canary.py [--skip-install]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINNED = ROOT / "tools" / "agents" / "package.json"
CANARY = ROOT / "tools" / "canary"
RUN, BASELINE = CANARY / "run", CANARY / "baseline"
CLAUDE, CODEX = "@anthropic-ai/claude-code", "@openai/codex"
#: A test module is a live suite when it starts a real CLI through one of these.
LIVE_MARKERS = re.compile(
    r"\b(claude_binary|codex_binary|CLAUDE_VERSIONS|standins\.claude|standins\.codex|mark\.node)\b")

sys.path.insert(0, str(ROOT / "tests"))


def npm(*args: str, cwd: Path | None = None, timeout: float = 900) -> str:
    out = subprocess.run(["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode:
        raise SystemExit(f"canary: npm {' '.join(args)} failed:\n{out.stderr.strip()}")
    return out.stdout.strip()


def pinned_versions() -> dict[str, list[str]]:
    deps = json.loads(PINNED.read_text())["dependencies"]
    found: dict[str, list[str]] = {CLAUDE: [], CODEX: []}
    for name, spec in deps.items():
        package, _, version = (spec[len("npm:"):] if spec.startswith("npm:") else f"{name}@{spec}").rpartition("@")
        if package in found:
            found[package].append(version)
    return found


def install(claude: str, codex: str) -> None:
    """The newest CLIs, laid out as tools/agents lays out the pinned ones (`claude-code-<version>/bin/claude.exe`)."""
    CANARY.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "watchkeeper-canary-agents", "private": True,
                "description": "The newest agent CLIs, for `make canary`; not committed.",
                "dependencies": {f"claude-code-{claude}": f"npm:{CLAUDE}@{claude}", CODEX: codex}}
    path = CANARY / "package.json"
    stamp = CANARY / "node_modules" / ".installed"
    if path.exists() and json.loads(path.read_text()) == manifest and stamp.exists():
        return
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"canary: installing Claude Code {claude} and Codex {codex} into {CANARY.relative_to(ROOT)}/ …", flush=True)
    npm("install", "--no-audit", "--no-fund", "--loglevel=error", cwd=CANARY)
    stamp.touch()


def live_suites() -> list[Path]:
    return sorted(p for p in (ROOT / "tests").glob("test_*.py") if LIVE_MARKERS.search(p.read_text()))


def run_tests(files: list[Path], agents: Path, claude: str, out: Path) -> int:
    """The live suites against the CLIs in ``agents``; junit.xml and the runs' temporary homes go to ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "WATCHKEEPER_AGENTS_DIR": str(agents), "WATCHKEEPER_CLAUDE_VERSIONS": claude,
           "WATCHKEEPER_REQUIRE_AGENTS": "1"}
    cmd = [sys.executable, "-m", "pytest", "-m", "not corpus", "-p", "no:cacheprovider", "-q",
           f"--junitxml={out / 'junit.xml'}", f"--basetemp={out / 'tmp'}", *map(str, files)]
    print(f"canary: {out.name}: Claude Code {claude} from {agents.relative_to(ROOT)}: "
          f"{' '.join(p.name for p in files)}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False, timeout=3600).returncode


def outcomes(junit: Path) -> list[tuple[str, str, str]]:
    """(test id, passed|failed|skipped, first line of the reason) for each test case."""
    if not junit.exists():
        return []
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rpartition('.')[2]}::{case.get('name')}"
        status, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                status = "skipped" if tag == "skipped" else "failed"
                reason = (node.get("message") or node.text or "").strip().splitlines()[0][:160] if (
                    node.get("message") or node.text) else ""
                break
        rows.append((name, status, reason))
    return rows


def transcripts(root: Path) -> list[Path]:
    """The session files the CLIs wrote under the runs' temporary homes."""
    claude = [p for p in root.rglob("*.jsonl") if "projects" in p.parts and ".claude" in p.parts]
    codex = [p for p in root.rglob("rollout-*.jsonl") if "sessions" in p.parts]
    return sorted(set(claude + codex))


def record_types(paths: Iterable[Path]) -> Counter[str]:
    """``claude:<type>[/<attachment type>]`` and ``codex:<type>[/<payload type>]`` for every record."""
    seen: Counter[str] = Counter()
    for path in paths:
        for line in path.read_bytes().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            payload = rec.get("payload")
            if isinstance(payload, dict) and "timestamp" in rec:
                seen[f"codex:{rec.get('type')}/{payload.get('type', '')}".rstrip("/")] += 1
            else:
                sub = rec.get("attachment", {}).get("type") if isinstance(rec.get("attachment"), dict) else None
                seen[f"claude:{rec.get('type')}" + (f"/{sub}" if sub else "")] += 1
    return seen


def known_types() -> set[str]:
    from conftest import CODEX_FIXTURES, SAMPLE_LOGS, claude_transcripts

    files = [*claude_transcripts(), *CODEX_FIXTURES.rglob("*.jsonl"), *(SAMPLE_LOGS / "codex").glob("*.jsonl")]
    return set(record_types(files))


def unread(files: list[Path]) -> tuple[list[str], list[str]]:
    """(raw events, newer-version notices) in the runs' transcripts."""
    from watchkeeper.adapters.files.feed import convert_file

    raws: list[str] = []
    notices: list[str] = []
    for path in files:
        for event in convert_file(path):
            if event["kind"] == "raw":
                record = event["data"].get("record")
                kind = record.get("type") if isinstance(record, dict) else None
                raws.append(f"{path.name}: {kind or '?'}: {event['data'].get('error', '')}"[:200])
            elif event["kind"] == "notice" and event["data"].get("code") == "newer-version":
                notices.append(f"{path.name}: {event['data'].get('text', '')}"[:200])
    return sorted(set(raws)), sorted(set(notices))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-install", action="store_true", help="reuse what tools/canary/ holds")
    args = parser.parse_args(argv)
    if shutil.which("npm") is None:
        print("canary: npm not found; it installs the newest CLIs from npm", file=sys.stderr)
        return 2
    claude, codex = npm("view", f"{CLAUDE}@latest", "version"), npm("view", f"{CODEX}@latest", "version")
    if not args.skip_install:
        install(claude, codex)
    files = live_suites()
    pinned = pinned_versions()
    newest_pinned = max(pinned[CLAUDE], key=lambda v: tuple(int(x) for x in re.findall(r"\d+", v)))
    base_code = run_tests(files, ROOT / "tools" / "agents" / "node_modules", newest_pinned, BASELINE)
    code = run_tests(files, CANARY / "node_modules", claude, RUN)
    rows, base_rows = outcomes(RUN / "junit.xml"), outcomes(BASELINE / "junit.xml")
    written, base_written = transcripts(RUN / "tmp"), transcripts(BASELINE / "tmp")
    raws, notices = unread(written)
    types, base_types = record_types(written), record_types(base_written)
    new = {k: n for k, n in types.items() if k not in base_types}
    gone = sorted(k for k in base_types if k not in types)
    uncovered = sorted(k for k in set(types) | set(base_types) if k not in known_types())

    print("\n=== canary report ===")
    for name, newest, old in (("Claude Code", claude, pinned[CLAUDE]), ("Codex", codex, pinned[CODEX])):
        change = "same as pinned" if newest in old else f"NEWER than pinned {', '.join(old)}"
        print(f"{name:12} {newest:10} ({change})")
    counts = Counter(status for _, status, _ in rows)
    base_counts = Counter(status for _, status, _ in base_rows)
    print(f"suites       {', '.join(p.name for p in files)}")
    print(f"newest       {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped "
          f"(pytest exit {code})")
    for name, status, reason in rows:
        if status != "passed":
            print(f"  {status.upper():7} {name}: {reason}")
    print(f"pinned       {base_counts['passed']} passed, {base_counts['failed']} failed, {base_counts['skipped']} "
          f"skipped (pytest exit {base_code}; Claude Code {newest_pinned}, the baseline)")
    print(f"transcripts  {len(written)} written by the newest CLIs ({RUN.relative_to(ROOT)}/tmp), "
          f"{len(base_written)} by the pinned ones ({BASELINE.relative_to(ROOT)}/tmp)")
    print(f"record types the newest CLIs wrote and the pinned ones did not: {len(new)}")
    for kind, n in sorted(new.items()):
        print(f"  {kind} ×{n}")
    print(f"record types the pinned CLIs wrote and the newest ones did not: {len(gone)}")
    for kind in gone:
        print(f"  {kind}")
    print(f"raw events (records the adapters do not understand): {len(raws)}")
    for line in raws[:30]:
        print(f"  {line}")
    print(f"newer-version notices: {len(notices)}")
    for line in notices[:10]:
        print(f"  {line}")
    print(f"coverage note: record types the runs wrote that no recording or fixture in the repository holds: "
          f"{', '.join(uncovered) or 'none'}")
    clean = code == 0 and counts["failed"] == 0 and not new and not gone and not raws and not notices
    print("verdict      " + ("no drift: the newest CLIs read as the pinned ones" if clean else
                             "CHANGED: see above; update the adapters, the stand-ins or the pins"))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
