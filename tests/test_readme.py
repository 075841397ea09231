"""Every fenced block of README.md is run by a test: here, or by the test the tables below name.

How to cover a block (say, when merging a README section): every command line
of a shell block (``sh``, ``bash``, ``console``, ``shell``) goes into
``COMMANDS``, keyed by the line as written without its ``# comment``; any other
block into ``BLOCKS``, keyed by ``"LANG: its first line"`` (``"LANG: first
line #2"`` for the second block with that key). A command or block in neither
table fails ``test_every_block_and_command_is_covered``, and so does an entry
that matches nothing in the README any more: the tables follow the README.

What an entry says:

- ``Run``: run here as written (bash; the venv's ``watchkeeper`` first on PATH;
  a private config directory; with ``serve=True`` a real ``watchkeeper serve``
  running in it, with a recording to list). ``replace`` swaps a literal (a
  default port, a path) for this run's, and ``expect`` is text the output must
  hold.
- ``Help``: cannot run here (it needs a real agent login, a remote host or the
  network): its command's ``--help`` runs instead, and every ``--option`` the
  line uses must be in that help, so the README cannot name an option that
  does not exist.
- ``Instead``: a stand-in that runs here (``make -n test`` for the whole
  suite), with text its output must hold.
- ``By``: another test does what the line does, named ``tests/FILE.py::TEST``
  (checked to exist).
- ``Check``: for blocks that are not commands, a function here that runs the
  block (the Python snippet against a real relay, the JSON against its schema).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import orjson
import pytest
from remote_support import TOKEN, Attached, Served
from test_remote_cli import Lines, free_port
from waiting import until

from watchkeeper import sdk
from watchkeeper.protocol.schema import sessions_schema

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
SHELLS = {"sh", "bash", "shell", "console"}


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int


@dataclass(frozen=True)
class Run:
    serve: bool = False
    replace: dict[str, str] = field(default_factory=dict)
    expect: str | None = None
    #: programs the line needs beside watchkeeper (skipped without them, except under CI).
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Help:
    argv: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Instead:
    argv: tuple[str, ...]
    why: str
    expect: str


@dataclass(frozen=True)
class By:
    test: str
    why: str


@dataclass(frozen=True)
class Check:
    run: Callable[[Block, Path], None]


Cover = Run | Help | Instead | By


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, with their info string's first word and first line number."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)", lines[i])
        if m is None:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i + 1
        i += 1
        body: list[str] = []
        while i < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        found.append(Block(lang, "\n".join(body), start))
        i += 1
    return found


def command_lines(block: Block) -> list[str]:
    """A shell block's commands: continuation lines joined, comments and blank lines dropped."""
    out: list[str] = []
    pending = ""
    for line in block.text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        command = " ".join(_uncomment(pending + line).split())
        pending = ""
        if command:
            out.append(command)
    return out


def _uncomment(line: str) -> str:
    """``line`` without a ``#`` comment (a ``#`` after whitespace and outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def block_keys(found: list[Block]) -> dict[str, Block]:
    """The non-shell blocks by ``"LANG: first line"`` (``#2``, ``#3``… for repeats)."""
    keys: dict[str, Block] = {}
    for b in found:
        if b.lang in SHELLS:
            continue
        first = next((line.strip() for line in b.text.splitlines() if line.strip()), "")
        key = f"{b.lang}: {first}"
        n = 2
        while key in keys:
            key = f"{b.lang}: {first} #{n}"
            n += 1
        keys[key] = b
    return keys


# --- the blocks that are not commands ------------------------------------------------------------


def check_sessions_json(block: Block, tmp: Path) -> None:
    """The example object is one of what ``sessions --json`` prints, by its schema."""
    jsonschema.validate([orjson.loads(block.text)], sessions_schema())


def check_layout(block: Block, tmp: Path) -> None:
    """Every file and folder the layout names is in the repository."""
    names = set()
    for line in block.text.splitlines():
        for m in re.finditer(r"(?:^|\s|,\s)([\w.-]+(?:/|\.py|\.tcss))(?=[\s,]|$)", line):
            names.add(m.group(1).rstrip("/"))
    assert len(names) > 10, names
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    parts = {p for path in tracked.splitlines() for p in Path(path).parts}
    missing = sorted(n for n in names if n not in parts)
    assert not missing, f"the README's layout names what the repository does not have: {missing}"


def check_sdk_snippet(block: Block, tmp: Path) -> None:
    """The SDK example as a program, against a real relay: unwatched it runs the tool; denied, it does not."""
    script = tmp / "agent.py"
    script.write_text(block.text)
    served = Served()
    try:
        env = {**os.environ, "WATCHKEEPER_URL": served.url, "WATCHKEEPER_AGENT_TOKEN": TOKEN,
               "WATCHKEEPER_HOME": str(tmp / "home")}
        first = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0 and first.stderr == "", first
        (session,) = [s.session for s in served.relay.sessions()]
        kinds = [(e["kind"], e["data"].get("output") or e["data"].get("text") or e["data"].get("reason"))
                 for e in served.events(session) if e["kind"] in ("tool.finished", "message.assistant",
                                                                   "session.ended")]
        assert kinds == [("tool.finished", "removed"), ("message.assistant", "done (0 message(s) from the person)"),
                         ("session.ended", "done")], kinds

        watcher = Attached(served.url)
        try:
            until(lambda: served.server.watching() > 0, what="the viewer follows the relay", timeout=30)
            agent = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

            def held() -> str | None:
                for info in served.relay.sessions():
                    if info.session != session and info.held:
                        return info.session
                return None

            second = until(held, what="the snippet's call held while someone watches", timeout=60)
            call = served.relay.session(second).held[0].call_id  # type: ignore[union-attr]
            outcome = served.relay.control({"id": "readme-deny", "session": second, "control": "deny",
                                            "call_id": call, "by": "test", "reason": "not today"}).result(10)
            assert outcome["kind"] == "control.applied", outcome
            _, err = agent.communicate(timeout=120)
            assert agent.returncode == 0, err
        finally:
            watcher.stop()
        said = [e["data"].get("text") for e in served.events(second) if e["kind"] == "message.assistant"]
        assert said[0] == "I will not remove it: not today", said
        finished = [e["data"]["status"] for e in served.events(second) if e["kind"] == "tool.finished"]
        assert finished == ["denied"], finished
    finally:
        served.stop()


# --- the tables ---------------------------------------------------------------------------------

PACKAGE_TEST = "tests/test_package.py::test_the_installed_demo_runs_from_another_directory"

CODEX_LIVE = "tests/test_codex_steering_live.py::"
OTLP_SPANS = "tests/test_otlp_export.py::test_every_tool_call_is_one_execute_tool_span_under_its_agent"
OTLP_HEADERS = "tests/test_otlp_export.py::test_the_command_sends_headers_and_says_what_it_sent"
PHOENIX = "tests/test_otlp_phoenix.py::test_a_session_exported_to_phoenix_can_be_queried_back"

COMMANDS: dict[str, Cover] = {
    # Quick start
    "make demo": By(PACKAGE_TEST, "what `make demo` runs, `watchkeeper demo`, from an installed wheel in tmux"),
    "make test": Instead(("make", "-n", "test"), "this suite is what it runs: its dry run shows the steps",
                         ".venv/bin/pytest"),
    # Install
    "pipx install .": By(PACKAGE_TEST, "builds the wheel pipx would install and installs it into a fresh venv"),
    "pipx install \"git+$REPO_URL\"": By(PACKAGE_TEST, "the same wheel, from a URL we cannot reach"),
    "python3 -m venv ~/.venvs/watchkeeper": By(PACKAGE_TEST, "makes a fresh venv for the wheel"),
    "~/.venvs/watchkeeper/bin/pip install .": By(PACKAGE_TEST, "pip-installs the package into that venv"),
    "~/.venvs/watchkeeper/bin/watchkeeper --version": Run(replace={"~/.venvs/watchkeeper/bin/": f"{BIN}/"},
                                                          expect="watchkeeper "),
    # Steering a Claude Code session
    "watchkeeper run -- claude [ARGS]": By("tests/test_steering_live.py::test_pause_holds_the_second_call_until_resume",
                                           "the real Claude Code under `watchkeeper run`, against a stand-in"),
    "watchkeeper hooks install [--user | --project DIR] [--fail-closed] [--prompts here]":
        Help(("hooks", "--help"), "edits a real settings file: tests/test_hooks_install.py does, in a temp HOME"),
    "watchkeeper hooks status": Run(expect="relay: no watchkeeper is running"),
    # Codex
    "watchkeeper run -- codex [ARGS]": By(CODEX_LIVE + "test_deny_never_runs_the_command_and_the_model_reads_why",
                                          "the real Codex 0.171.0 under `watchkeeper run`, against a stand-in"),
    "watchkeeper run --trust-hook -- codex exec ...": By(
        CODEX_LIVE + "test_trust_covers_exactly_watchkeepers_hooks", "run --trust-hook with the real Codex"),
    "watchkeeper hooks install --codex [--trust-hook] [--fail-closed]": By(
        "tests/test_codex_hooks_install.py::test_install_merges_asks_for_trust_and_uninstall_restores",
        "install into a temp CODEX_HOME, trust, status and uninstall"),
    "watchkeeper hooks status --codex": By(
        "tests/test_codex_hooks_install.py::test_install_merges_asks_for_trust_and_uninstall_restores",
        "status before and after trust"),
    "watchkeeper hooks uninstall --codex": By(
        "tests/test_codex_hooks_install.py::test_install_merges_asks_for_trust_and_uninstall_restores",
        "uninstall: hooks.json as it was, Codex's trust entries for them gone, the person's own kept"),
    # OpenTelemetry export
    "watchkeeper serve --bind 0.0.0.0:47718 --certfile hub.pem --keyfile hub.key --edge-token-file edges.tokens":
        By("tests/test_edges.py::test_two_edges_push_to_one_hub_and_the_hub_lists_both_with_their_origin",
           "a hub with edge credentials (on loopback, without TLS, in the test)"),
    "watchkeeper serve --upstream wss://hub.example:47718 --upstream-token-file edge.token":
        By("tests/test_edges.py::test_two_edges_push_to_one_hub_and_the_hub_lists_both_with_their_origin",
           "two edges pushing to one hub (ws:// on loopback in the test)"),
    "pip install '.[otel]'": By(OTLP_SPANS, "the dev extra installs the otel extra; the export runs with it"),
    "pip install arize-phoenix": By(PHOENIX, "make phoenix installs it into .phoenix-venv"),
    "PHOENIX_WORKING_DIR=~/phoenix phoenix serve": By(
        PHOENIX,
        "the test starts Phoenix on loopback in a temporary working directory"),
    "watchkeeper export --otlp http://127.0.0.1:6006 ~/.claude/projects/-home-me-shop/": By(
        PHOENIX,
        "exports a session to the real Phoenix"),
    "watchkeeper serve --otlp http://127.0.0.1:6006": By(
        "tests/test_otlp_stream.py::test_serve_with_otlp_exports_a_growing_transcript",
        "a real serve --otlp process against a receiver on loopback"),
    "curl -s 'http://127.0.0.1:6006/v1/projects/default/spans?limit=5'": By(
        PHOENIX,
        "reads the spans back through the same API"),
    "otelcol --config otelcol.yaml": By(OTLP_HEADERS, "the Collector binary is not on PyPI or npm: the test's "
                                        "OTLP/HTTP receiver on loopback takes its place"),
    "watchkeeper serve --otlp http://127.0.0.1:4318 --otlp-header 'Authorization=Bearer …'": By(
        OTLP_HEADERS, "headers given with --otlp-header arrive at a receiver on loopback"),

    # From a script: sessions and ctl
    "watchkeeper sessions": Run(serve=True, expect="a recorded run"),
    "watchkeeper sessions --json | jq -r '.[].held[].call_id'": Run(serve=True, needs=("jq",)),
    "watchkeeper sessions --relay ws://127.0.0.1:47718 --json": Run(serve=True,
                                                                   replace={"ws://127.0.0.1:47718": "{url}"},
                                                                   expect='"title": "a recorded run"'),
    "watchkeeper schema --sessions": Run(expect='"SessionList"'),
    "watchkeeper ctl approve SESSION CALL_ID": By(
        "tests/test_sessions_cli.py::test_sessions_json_lists_held_calls_by_the_schema_and_ctl_decides_only_what_it_names",
        "needs a held call: there an SDK agent's two calls are held and decided one by one"),
    # Any ACP agent
    "watchkeeper run --acp --prompt \"fix the failing test\" -- claude-agent-acp": By(
        "tests/test_acp_running.py::test_run_acp_into_the_running_watchkeeper",
        "the real claude-agent-acp under `run --acp`, against the Messages stand-in"),
    "watchkeeper run --acp -- codex-acp": By("tests/test_acp_codex.py::test_events_and_approve",
                                             "the real codex-acp as an ACP source, against the Responses stand-in"),
    "watchkeeper run --acp -- gemini --acp": By("tests/test_acp_gemini.py::test_events_and_approve",
                                                "the real Gemini CLI as an ACP source, against its API stand-in"),
    # Remote agents
    "watchkeeper attach wss://agents.example:47718 --token-file ~/.config/watchkeeper/agents.token":
        Help(("attach", "--help"), "needs a remote host; tests/test_remote_cli.py attaches to a real serve"),
}

BLOCKS: dict[str, Check | By] = {
    "json: {": Check(check_sessions_json),
    "python: import asyncio": Check(check_sdk_snippet),
    'toml: notify_command = ["notify-send", "--app-name=watchkeeper", "watchkeeper: {tool} is held", "{title}: '
    '{summary} — {why}; {expiry}"]': By("tests/test_notify.py::test_the_readme_s_notify_send_example_runs",
                                       "notify-send as a recorder on PATH, the README's argv"),
    'toml: notify_command = ["curl", "-fsS", "-m", "5", "-H", "Title: watchkeeper: {tool} is held", "--data-raw", '
    '"held: {title}: {summary} ({why}; {expiry})", "https://ntfy.sh/YOUR-TOPIC"]':
        By("tests/test_notify.py::test_the_readme_s_webhook_example_posts_with_curl",
           "the README's curl argv against a webhook on 127.0.0.1"),
    "yaml: # otelcol.yaml": By(OTLP_SPANS, "a Collector's own config: watchkeeper sends it the same OTLP/HTTP "
                                           "the tests decode"),
    "toml: [[breakpoint]]": By("tests/test_breakpoints.py::test_the_documented_example_parses",
                               "parses the README's own block and checks every condition is in it"),
    ": watchkeeper/": Check(check_layout),
}


# --- the tests ----------------------------------------------------------------------------------

FOUND = blocks(README.read_text())
SHELL_LINES = [(c, b) for b in FOUND if b.lang in SHELLS for c in command_lines(b)]


def test_every_block_and_command_is_covered() -> None:
    assert len(FOUND) >= 5, "the README's fenced blocks were not found"
    uncovered = [f"README.md:{b.line}: {c!r}" for c, b in SHELL_LINES if c not in COMMANDS]
    uncovered += [f"README.md:{b.line}: {k!r}" for k, b in block_keys(FOUND).items() if k not in BLOCKS]
    assert not uncovered, "README blocks no test runs (add them to COMMANDS or BLOCKS in tests/test_readme.py):\n" \
        + "\n".join(uncovered)
    stale = sorted(set(COMMANDS) - {c for c, _ in SHELL_LINES}) + sorted(set(BLOCKS) - set(block_keys(FOUND)))
    assert not stale, f"entries that match nothing in the README any more: {stale}"
    unknown_lang = [f"README.md:{b.line}: {b.lang!r}" for b in FOUND if not re.fullmatch(r"[\w+-]*", b.lang)]
    assert not unknown_lang, unknown_lang


def test_the_tests_named_exist() -> None:
    named = [c.test for c in [*COMMANDS.values(), *BLOCKS.values()] if isinstance(c, By)]
    for ref in named:
        path, _, name = ref.partition("::")
        source = (ROOT / path).read_text()
        assert re.search(rf"^(async )?def {re.escape(name)}\(", source, re.M), f"{ref} does not exist"


def test_the_parser_finds_what_a_person_sees() -> None:
    text = "x\n```sh\na --b  # c\nd \\\n  e\n# only a comment\n```\n~~~json\n{}\n~~~\n```\nplain\n```\n"
    found = blocks(text)
    assert [(b.lang, b.line) for b in found] == [("sh", 2), ("json", 8), ("", 11)]
    assert command_lines(found[0]) == ["a --b", "d e"]
    assert _uncomment("jq '.a # not a comment' # a comment") == "jq '.a # not a comment' "


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(home),
            "WATCHKEEPER_HOME": str(home / ".config" / "watchkeeper"), "WATCHKEEPER_PORT": str(free_port()),
            "COLUMNS": "80"}


def serving(env: dict[str, str], tmp: Path) -> Iterator[str]:
    """A real ``watchkeeper serve`` in the sandbox's config directory, listing one recording; its URL."""
    sessions = tmp / "sessions"
    sessions.mkdir()
    with sdk.Run(sessions / "recorded.jsonl", title="a recorded run") as rec:
        rec.user("hello")
    port = free_port()
    proc = subprocess.Popen([str(BIN / "watchkeeper"), "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots",
                             "--root", str(sessions)], cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    try:
        Lines(proc.stdout).until("attach:")
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


def _ids(items: list[tuple[str, Block]]) -> list[str]:
    return [c[:60] for c, _ in items]


RUN = [(c, b) for c, b in SHELL_LINES if isinstance(COMMANDS.get(c), Run)]
HELP = [(c, b) for c, b in SHELL_LINES if isinstance(COMMANDS.get(c), Help | Instead)]
CHECKS = [(k, b) for k, b in block_keys(FOUND).items() if isinstance(BLOCKS.get(k), Check)]


@pytest.mark.parametrize(("command", "block"), RUN, ids=_ids(RUN))
def test_the_command_runs_as_written(command: str, block: Block, sandbox: dict[str, str], tmp_path: Path) -> None:
    cover = COMMANDS[command]
    assert isinstance(cover, Run)
    for tool in cover.needs:
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is needed to run README.md:{block.line}: {command}")
            pytest.skip(f"{tool} is not installed")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(contextlib.contextmanager(serving)(sandbox, tmp_path)) if cover.serve else ""
        line = command
        for literal, instead in cover.replace.items():
            line = line.replace(literal, instead.format(url=url))
        out = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, env=sandbox,
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"README.md:{block.line}: {line}\n{out.stdout}\n{out.stderr}"
    if cover.expect is not None:
        assert cover.expect in out.stdout, f"README.md:{block.line}: {line}\n{out.stdout}"


@pytest.mark.parametrize(("command", "block"), HELP, ids=_ids(HELP))
def test_what_cannot_run_here_is_checked_against_its_help(command: str, block: Block, sandbox: dict[str, str],
                                                          tmp_path: Path) -> None:
    cover = COMMANDS[command]
    if isinstance(cover, Instead):
        out = subprocess.run(list(cover.argv), cwd=ROOT, env={**os.environ, **sandbox}, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and cover.expect in out.stdout, out
        return
    assert isinstance(cover, Help)
    out = subprocess.run([str(BIN / "watchkeeper"), *cover.argv], cwd=tmp_path, env=sandbox, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out
    options = re.findall(r"--[a-z][\w-]*", command)
    assert options or cover.argv[-1] == "--help"
    missing = [o for o in options if o not in out.stdout]
    assert not missing, f"README.md:{block.line} names options `{' '.join(cover.argv)}` does not have: {missing}"


@pytest.mark.parametrize(("key", "block"), CHECKS, ids=[k[:40] for k, _ in CHECKS])
def test_the_block_does_what_the_readme_says(key: str, block: Block, tmp_path: Path) -> None:
    check = BLOCKS[key]
    assert isinstance(check, Check)
    check.run(block, tmp_path)
