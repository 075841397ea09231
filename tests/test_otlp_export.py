"""``watchkeeper export --otlp``: transcripts sent as OTel GenAI traces to a real OTLP/HTTP receiver.

The receiver (``otlp_support.Receiver``) is an HTTP server on loopback that
decodes each request with ``opentelemetry-proto``; what it decodes is checked
against the events the adapters read from the same files (the truth for which
calls, messages and subagents there are) and, for one call, attribute by
attribute.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import CC_FIXTURES, CODEX_FIXTURES
from otlp_support import CLIENT, ERROR, INTERNAL, UNSET, Receiver, Span, by_id

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.export.ids import agent_span_id, trace_id
from watchkeeper.export.mapping import Content, SpanMapper
from watchkeeper.export.oneshot import export_paths
from watchkeeper.export.otlp import SCHEMA_URL, OtlpSender
from watchkeeper.protocol import Kind, make_event

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]
SHOP = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"
PROJECT = CC_FIXTURES / "-home-dev-project" / "78d01735-0000-49d5-a966-000000000197.jsonl"
CODEX_FAILING = next(CODEX_FIXTURES.rglob("*000000000077.jsonl"))


def export(receiver: Receiver, *paths: Path, content: Content | None = None) -> list[Span]:
    before = len(receiver.spans)
    sender = OtlpSender(receiver.url)
    stats = export_paths(paths, sender, content=content)
    sender.shutdown()
    assert stats.failed == 0 and stats.sent == stats.spans > 0
    return receiver.spans[before:]


def root_of(spans: list[Span]) -> Span:
    roots = [s for s in spans if s.parent_id is None]
    assert len(roots) == 1, [s.name for s in roots]
    return roots[0]


def agent_spans(spans: list[Span]) -> dict[str, Span]:
    """Subagent ``invoke_agent`` spans by agent id."""
    return {s.attributes["gen_ai.agent.id"]: s for s in spans
            if s.name.startswith("invoke_agent") and s.parent_id is not None}


@pytest.mark.parametrize("path", [SHOP, PROJECT, CODEX_FAILING], ids=["2.1.173", "2.1.197", "codex-0.77"])
def test_every_tool_call_is_one_execute_tool_span_under_its_agent(path: Path) -> None:
    events = list(convert_file(path))
    calls = {e["data"]["call_id"]: e for e in events if e["kind"] == Kind.TOOL_STARTED}
    assert calls
    with Receiver() as r:
        spans = export(r, path)
    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    assert Counter(s.attributes["gen_ai.tool.call.id"] for s in tools) == Counter(dict.fromkeys(calls, 1))
    root = root_of(spans)
    subagents = agent_spans(spans)
    for span in tools:
        started = calls[span.attributes["gen_ai.tool.call.id"]]
        assert span.name == f"execute_tool {started['data']['name']}"
        assert span.kind == INTERNAL
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.attributes["gen_ai.tool.name"] == started["data"]["name"]
        agent = started["agent"]
        parent = root if agent == "main" else subagents[agent]
        assert span.parent_id == parent.span_id
        assert span.trace_id == root.trace_id


def test_a_tool_span_has_exactly_these_attributes() -> None:
    with Receiver() as r:
        spans = export(r, SHOP)
    span = next(s for s in spans if s.attributes.get("gen_ai.tool.call.id") == "toolu_d_inspect")
    assert span.name == "execute_tool mcp__plugin_shop_repo__inspect_layout"
    assert span.attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "mcp__plugin_shop_repo__inspect_layout",
        "gen_ai.tool.call.id": "toolu_d_inspect",
        "gen_ai.tool.type": "function",
        "watchkeeper.tool.status": "ok",
    }
    assert (span.start_ns, span.end_ns) == (1781517602 * 10**9, 1781517603 * 10**9)
    assert span.status == UNSET
    assert span.resource["service.name"] == "watchkeeper"
    assert (span.scope, span.schema_url) == ("watchkeeper.export", SCHEMA_URL)


@pytest.mark.parametrize("path", [SHOP, PROJECT], ids=["2.1.173", "2.1.197"])
def test_chat_spans_carry_each_model_calls_usage_and_model(path: Path) -> None:
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    models = {}
    for e in convert_file(path):
        if e["kind"] == Kind.USAGE and not e["data"].get("cumulative"):
            d = e["data"]
            key = d.get("message_id") or e["id"]
            for i, k in enumerate(("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")):
                expected[key][i] += d.get(k) or 0
            models[key] = d["model"]
    with Receiver() as r:
        spans = export(r, path)
    chats = {s.attributes["gen_ai.response.id"]: s for s in spans if s.name.startswith("chat")}
    assert set(chats) == set(expected)
    for key, (inp, out, cread, ccreate) in expected.items():
        span = chats[key]
        assert span.kind == CLIENT
        assert span.name == f"chat {models[key]}"
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.provider.name"] == "anthropic"
        assert span.attributes["gen_ai.request.model"] == models[key]
        assert span.attributes["gen_ai.usage.input_tokens"] == inp + cread + ccreate
        assert span.attributes["gen_ai.usage.output_tokens"] == out
        assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == cread
        assert span.attributes["gen_ai.usage.cache_creation.input_tokens"] == ccreate
        assert span.start_ns <= span.end_ns
    root = root_of(spans)
    assert root.attributes["gen_ai.usage.output_tokens"] == sum(v[1] for v in expected.values())


@pytest.mark.parametrize(("path", "agent", "call"), [(SHOP, "webagent1", "toolu_d_web"),
                                                     (PROJECT, "a0197aaaabbbbcccc", None)], ids=["2.1.173", "2.1.197"])
def test_a_subagent_is_an_invoke_agent_span_under_its_agent_call(path: Path, agent: str, call: str | None) -> None:
    started = [e for e in convert_file(path) if e["kind"] == Kind.AGENT_STARTED and e["data"]["agent_id"] == agent]
    call = call or started[0]["data"]["parent_call_id"]
    assert call
    with Receiver() as r:
        spans = export(r, path)
    ids = by_id(spans)
    sub = agent_spans(spans)[agent]
    parent = ids[sub.parent_id or ""]
    assert parent.attributes["gen_ai.tool.call.id"] == call
    assert parent.name in ("execute_tool Agent", "execute_tool Task")
    assert ids[parent.parent_id or ""] is root_of(spans)
    assert sub.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert sub.attributes["gen_ai.provider.name"] == "anthropic"
    own = [s for s in spans if s.parent_id == sub.span_id]
    assert any(s.name.startswith("chat") for s in own), "the subagent's model calls sit under its span"


def test_one_trace_per_session_with_its_session_span_at_the_root(tmp_path: Path) -> None:
    with Receiver() as r:
        spans = export(r, CC_FIXTURES, CODEX_FIXTURES)
    sessions = {e["session"] for p in [*CC_FIXTURES.rglob("*.jsonl"), *CODEX_FIXTURES.rglob("*.jsonl")]
                if not p.name.startswith("agent-") for e in convert_file(p)}
    traces = defaultdict(list)
    for s in spans:
        traces[s.trace_id].append(s)
    assert set(traces) == {f"{trace_id(sid):032x}" for sid in sessions}
    for members in traces.values():
        root = root_of(members)
        assert root.name.startswith("invoke_agent ")
        assert f"{trace_id(root.attributes['gen_ai.conversation.id']):032x}" == root.trace_id
        assert all(s.parent_id in by_id(members) for s in members if s is not root), "no orphan spans"


def test_exporting_again_sends_the_same_spans_and_none_twice() -> None:
    with Receiver() as r:
        first = export(r, CC_FIXTURES)
        second = export(r, CC_FIXTURES)
    ids = [(s.trace_id, s.span_id) for s in first]
    assert len(ids) == len(set(ids)), "a span id repeated within one export"
    assert sorted(ids) == sorted((s.trace_id, s.span_id) for s in second)
    again = {(s.trace_id, s.span_id): s for s in second}
    for s in first:
        assert again[(s.trace_id, s.span_id)] == s


def test_a_failed_call_has_error_type_and_error_status() -> None:
    failing = [e["data"]["call_id"] for e in convert_file(CODEX_FAILING)
               if e["kind"] == Kind.TOOL_FINISHED and e["data"].get("status") == "error"]
    assert failing
    with Receiver() as r:
        spans = export(r, CODEX_FAILING)
    for span in (s for s in spans if s.name.startswith("execute_tool")):
        if span.attributes["gen_ai.tool.call.id"] in failing:
            assert (span.status, span.attributes["error.type"]) == (ERROR, "tool_error")
        else:
            assert span.status == UNSET and "error.type" not in span.attributes
    assert root_of(spans).attributes["gen_ai.provider.name"] == "openai"


def steered_session(path: Path) -> Path:
    """A native recording of a steered session: a held call denied, a message injected."""
    sid = "steered-1"
    t = "2026-07-01T10:00:0{}.000Z"
    events = [
        make_event("s", sid, Kind.SESSION_STARTED, {"agent_kind": "sdk", "title": "fix the build"}, t.format(0)),
        make_event("t1", sid, Kind.TOOL_STARTED, {"call_id": "call-1", "name": "Bash",
                                                  "input": {"command": "rm -rf build " + "x" * 50}}, t.format(1)),
        make_event("w1", sid, Kind.TOOL_WAITING, {"call_id": "call-1", "reason": "breakpoint", "why": "breakpoint",
                                                  "rule": "Bash rm"},
                   t.format(1)),
        make_event("c1", sid, Kind.CONTROL_APPLIED, {"control_id": "k1", "control": "deny", "by": "ana",
                                                     "call_id": "call-1", "message": "not the build dir"},
                   t.format(2)),
        make_event("f1", sid, Kind.TOOL_FINISHED, {"call_id": "call-1", "status": "denied", "is_error": True,
                                                   "output": "denied: not the build dir"}, t.format(2)),
        make_event("c2", sid, Kind.CONTROL_APPLIED, {"control_id": "k2", "control": "inject", "by": "ana",
                                                     "text": "use make clean"}, t.format(3)),
        make_event("u2", sid, Kind.MESSAGE_USER, {"text": "use make clean", "origin": "injected",
                                                  "control_id": "k2"}, t.format(3)),
        make_event("e", sid, Kind.SESSION_ENDED, {"reason": "done"}, t.format(4)),
    ]
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_steering_shows_as_span_events_and_content_only_when_asked(tmp_path: Path) -> None:
    path = steered_session(tmp_path / "steered.jsonl")
    with Receiver() as r:
        bare = export(r, path)
        full = export(r, path, content=Content(limit=20))
    for spans, content in ((bare, False), (full, True)):
        tool = next(s for s in spans if s.name == "execute_tool Bash")
        assert (tool.status, tool.attributes["error.type"]) == (ERROR, "denied")
        names = [name for name, _ in tool.events]
        assert names == ["watchkeeper.hold", "watchkeeper.control.applied"]
        assert tool.events[0][1] == {"watchkeeper.why": "breakpoint", "watchkeeper.rule": "Bash rm"}
        deny = tool.events[1][1]
        assert (deny["watchkeeper.control"], deny["watchkeeper.actor"]) == ("deny", "ana")
        root = root_of(spans)
        assert "watchkeeper.incomplete" not in root.attributes, "the session ended"
        inject = next(a for n, a in root.events if n == "watchkeeper.control.applied")
        assert inject["watchkeeper.control"] == "inject"
        assert ("watchkeeper.message" in deny) is content
        assert ("watchkeeper.text" in inject) is content
        assert ("gen_ai.tool.call.arguments" in tool.attributes) is content
        assert ("gen_ai.tool.call.result" in tool.attributes) is content
        assert any(n == "watchkeeper.injected" for n, _ in root.events) is content
    tool = next(s for s in full if s.name == "execute_tool Bash")
    arguments = orjson.loads(tool.attributes["gen_ai.tool.call.arguments"])
    assert arguments["truncated"] > 20 and len(arguments["prefix"]) == 20, "cut, and still JSON"
    assert tool.attributes["gen_ai.tool.call.result"] == "denied: not the buil… [5 more characters]"
    assert deny_text(full) == "not the build dir"


def deny_text(spans: list[Span]) -> str:
    tool = next(s for s in spans if s.name == "execute_tool Bash")
    return str(tool.events[1][1]["watchkeeper.message"])


def test_the_command_sends_headers_and_says_what_it_sent(tmp_path: Path) -> None:
    with Receiver() as r:
        out = subprocess.run([*WATCHKEEPER, "export", "--otlp", r.url, "--otlp-header", "Authorization=Bearer t0k",
                              "--otlp-header", "x-team=ops", str(SHOP)], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        assert r.requests and all(q["authorization"] == "Bearer t0k" and q["x-team"] == "ops" for q in r.requests)
        assert all(q["path"] == "/v1/traces" for q in r.requests)
        assert f"{len(r.spans)} spans sent to {r.url}/v1/traces" in out.stdout
        assert len(r.spans) == 14


def test_headers_from_the_environment_keep_a_secret_off_the_command_line(tmp_path: Path) -> None:
    """``ps`` shows every process's argv: the standard OTel variable carries a token where it does not."""
    env = {**os.environ, "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20s3cret,x-team=ops"}
    with Receiver() as r:
        out = subprocess.run([*WATCHKEEPER, "export", "--otlp", r.url, "--otlp-header", "x-team=dev", str(SHOP)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        assert r.requests and all(q["authorization"] == "Bearer s3cret" for q in r.requests)
        assert all(q["x-team"] == "dev" for q in r.requests), "a header given on the command line wins"


def test_an_endpoint_that_refuses_is_a_failure_not_silence(tmp_path: Path) -> None:
    with Receiver() as r:
        out = subprocess.run([*WATCHKEEPER, "export", "--otlp", r.url + "/not-traces/v1/traces", str(SHOP)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "14 spans NOT accepted" in out.stderr


def test_without_the_otel_extra_the_command_says_what_to_install(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['opentelemetry'] = None\n"
            "from watchkeeper.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", code, "export", "--otlp", "http://127.0.0.1:9", str(SHOP)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "pip install 'watchkeeper[otel]'" in out.stderr
    check = ("import sys; sys.modules['opentelemetry'] = None\n"
             "from watchkeeper.cli import build_parser; build_parser().parse_args(['export', '--help'])")
    shown = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--otlp-content" in shown.stdout, "the command is there without the extra"


CODEX_PARENT = "019c0000-0000-7000-8000-0000000000a1"
CODEX_CHILD = "019c0000-0000-7000-8000-0000000000a2"


def rollout(path: Path, *records: tuple[str, dict[str, Any]]) -> Path:
    """A Codex rollout of these (type, payload) records, a second apart."""
    lines = [orjson.dumps({"timestamp": f"2026-07-01T10:00:{i:02d}.000Z", "type": kind, "payload": payload})
             for i, (kind, payload) in enumerate(records)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def codex_parent_and_child(root: Path) -> tuple[Path, Path]:
    """A parent thread spawns ``/root/counter`` (multi-agent v2), which runs ``ls`` in a thread of its own."""
    def call(call_id: str, name: str, **more: object) -> tuple[str, dict[str, object]]:
        return "response_item", {"type": "function_call", "name": name, "arguments": "{}", "call_id": call_id, **more}

    def result(call_id: str, text: str) -> tuple[str, dict[str, object]]:
        return "response_item", {"type": "function_call_output", "call_id": call_id, "output": text}

    def tokens(inp: int, out: int) -> tuple[str, dict[str, object]]:
        usage = {"input_tokens": inp, "cached_input_tokens": 0, "output_tokens": out, "total_tokens": inp + out}
        return "event_msg", {"type": "token_count", "info": {"last_token_usage": usage}}

    def activity(kind: str, **more: object) -> tuple[str, dict[str, object]]:
        return "event_msg", {"type": "sub_agent_activity", "agent_thread_id": CODEX_CHILD,
                             "agent_path": "/root/counter", "kind": kind, **more}

    context = ("turn_context", {"cwd": "/w", "model": "gpt-test", "approval_policy": "never"})
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": CODEX_PARENT, "agent_path": "/root/counter",
                                           "agent_nickname": "Ada", "depth": 1}}}
    parent = rollout(
        root / f"rollout-2026-07-01T10-00-00-{CODEX_PARENT}.jsonl",
        ("session_meta", {"id": CODEX_PARENT, "cwd": "/w", "cli_version": "0.171.0", "source": "exec"}), context,
        ("event_msg", {"type": "user_message", "message": "Count the files, with a helper."}),
        call("call_spawn", "spawn_agent", namespace="collaboration"), tokens(100, 20),
        activity("started", call_id="call_spawn"), result("call_spawn", '{"task_name":"/root/counter"}'),
        call("call_wait", "wait_agent", namespace="collaboration"), tokens(130, 10), activity("completed"),
        result("call_wait", "done"),
        ("response_item", {"type": "message", "role": "assistant",
                           "content": [{"type": "output_text", "text": "One file."}]}), tokens(150, 5))
    child = rollout(
        root / f"rollout-2026-07-01T10-00-03-{CODEX_CHILD}.jsonl",
        ("session_meta", {"id": CODEX_CHILD, "cwd": "/w", "cli_version": "0.171.0", "source": spawn}), context,
        call("call_child_ls", "exec_command"), tokens(50, 8), result("call_child_ls", "a.txt"),
        ("response_item", {"type": "message", "role": "assistant",
                           "content": [{"type": "output_text", "text": "One file: a.txt."}]}), tokens(60, 6))
    return parent, child


def test_a_codex_sub_agents_own_thread_is_in_its_parents_trace_under_its_span(tmp_path: Path) -> None:
    """Each Codex thread writes its own rollout, so the child is a session of its own: its spans go into the
    parent's trace, its session's span under the parent's span for it (under the spawn_agent call)."""
    parent, child = codex_parent_and_child(tmp_path)
    with Receiver() as r:
        first = export(r, tmp_path)
        second = export(r, child, parent)
    ids = by_id(first)
    assert len(ids) == len(first), "a span id repeated within one export"
    trace = f"{trace_id(CODEX_PARENT):032x}"
    assert {s.trace_id for s in first} == {trace}
    root = root_of(first)
    assert root.attributes["gen_ai.conversation.id"] == CODEX_PARENT
    sub, child_root = sorted((s for s in first if s.attributes.get("gen_ai.agent.id") == CODEX_CHILD),
                             key=lambda s: s.attributes["gen_ai.conversation.id"] != CODEX_PARENT)
    assert ids[sub.parent_id or ""].attributes["gen_ai.tool.call.id"] == "call_spawn"
    assert sub.name == "invoke_agent /root/counter" and child_root.name == "invoke_agent codex"
    assert child_root.parent_id == sub.span_id
    ls = next(s for s in first if s.attributes.get("gen_ai.tool.call.id") == "call_child_ls")
    assert ls.trace_id == trace and ls.parent_id == child_root.span_id
    chats = [s for s in first if s.name.startswith("chat") and s.parent_id == child_root.span_id]
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in chats) == 14
    assert sorted((s.trace_id, s.span_id) for s in second) == sorted((s.trace_id, s.span_id) for s in first)
    again = by_id(second)
    assert all(again[s.span_id] == s for s in first), "exported again, in the other order: the same spans"


def steered_child_call(ts: str) -> list[Any]:
    """What Codex's hooks tell of the child's ``ls``, held and approved: they come with the parent's session
    id and the child as their agent, as Codex sends them."""
    from watchkeeper.adapters.claude_code.hooks import payload_events, waiting_event

    hook = {"session_id": CODEX_PARENT, "agent_id": CODEX_CHILD, "tool_use_id": "call_child_ls",
            "tool_name": "exec_command", "tool_input": {"cmd": "ls"}}
    events = [*payload_events({**hook, "hook_event_name": "PreToolUse"}, "k1"), waiting_event(hook, "paused"),
              make_event("control:c1", CODEX_PARENT, Kind.CONTROL_APPLIED, {"control": "approve",
                                                                           "call_id": "call_child_ls", "by": "me"}),
              *payload_events({**hook, "hook_event_name": "PostToolUse", "tool_response": "a.txt"}, "k2")]
    for event in events:
        event["ts"] = ts
    return events


@pytest.mark.parametrize("hooks_first", [False, True], ids=["child-session-first", "hooks-first"])
def test_a_steered_codex_sub_agents_call_is_one_span_told_by_its_hooks_and_its_own_thread(
        tmp_path: Path, hooks_first: bool) -> None:
    """Steered, Codex tells a sub-agent's call twice: by hooks in the parent's session (where a pause holds
    it) and by the child's own thread, which is in the parent's trace. One span, whichever comes first, with
    the hold and the approval on it."""
    parent_path, child_path = codex_parent_and_child(tmp_path)
    parent, child = list(convert_file(parent_path)), list(convert_file(child_path))
    *held, told = steered_child_call("2026-07-01T10:00:04.500Z")
    ran = next(i for i, e in enumerate(child) if e["kind"] == "tool.finished")
    if hooks_first:  # the child's rollout read only once its call was held, approved and run
        streams = [*parent[:5], *held, *child, told, *parent[5:]]
    else:  # the child's thread read as it is written, its call held and approved before it runs
        streams = [*parent[:5], *child[:ran], *held, *child[ran:], told, *parent[5:]]
    mapper = SpanMapper()
    spans = [*mapper.feed(streams), *mapper.close_all(incomplete=True)]
    calls = Counter(s.attributes.get("gen_ai.tool.call.id") for s in spans if s.name.startswith("execute_tool"))
    assert calls == {"call_spawn": 1, "call_wait": 1, "call_child_ls": 1}, calls
    (ls,) = [s for s in spans if s.attributes.get("gen_ai.tool.call.id") == "call_child_ls"]
    assert [name for name, _, _ in ls.events] == ["watchkeeper.hold", "watchkeeper.control.applied"]
    assert "watchkeeper.incomplete" not in ls.attributes and ls.attributes["watchkeeper.tool.status"] == "ok"
    assert {s.trace_id for s in spans} == {trace_id(CODEX_PARENT)}
    assert not mapper._tellers._by_trace, "what the trace's calls needed goes with its sessions"


def test_no_provider_is_named_when_the_session_does_not_know_it(tmp_path: Path) -> None:
    """An SDK (or ACP) session does not say whose model it runs, and ``sdk`` is no provider: left out."""
    with Receiver() as r:
        spans = export(r, steered_session(tmp_path / "steered.jsonl"))
    assert root_of(spans).attributes["gen_ai.agent.name"] == "sdk"
    assert [s.name for s in spans if "gen_ai.provider.name" in s.attributes] == []


def test_a_sub_agents_session_closed_and_open_again_stays_in_its_parents_trace(tmp_path: Path) -> None:
    """Live, a session quiet for long is closed, and opened again by its next event (no ``session.started``)."""
    _, child = codex_parent_and_child(tmp_path)
    mapper = SpanMapper()
    first = mapper.feed(convert_file(child)) + mapper.close_session(CODEX_CHILD, incomplete=False)
    late = make_event("late", CODEX_CHILD, Kind.TOOL_FINISHED, {"call_id": "call_late", "status": "ok"},
                      "2026-07-01T10:40:00.000Z")
    again = mapper.feed([late]) + mapper.close_all(incomplete=True)
    assert {r.trace_id for r in first + again} == {trace_id(CODEX_PARENT)}
    roots = [r for r in first + again if r.attributes.get("gen_ai.agent.id") == CODEX_CHILD]
    assert len(roots) == 2 and {r.parent_id for r in roots} == {agent_span_id(CODEX_PARENT, CODEX_CHILD)}
