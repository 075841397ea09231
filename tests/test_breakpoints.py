"""Breakpoint rules: matching (pure), the TOML file (round trip, bad input), and the matcher on a real relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_viewer_support import Events, relay_with

from watchkeeper import breakpoints as B
from watchkeeper.adapters.claude_code.steering import Steering
from watchkeeper.breakpoints import Book, BookError, Matcher, Rule, SessionFacts

CWD = "/home/dev/project"


def pre(tool: str, tool_input: Any, session: str = "s1", cwd: str | None = CWD,
        call: str = "toolu_1") -> dict[str, Any]:
    payload = {"hook_event_name": "PreToolUse", "session_id": session, "tool_name": tool, "tool_input": tool_input,
               "tool_use_id": call}
    if cwd is not None:
        payload["cwd"] = cwd
    return payload


# --- matching ------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "payload", "fires"), [
    (Rule("bash", tool="Bash"), pre("Bash", {"command": "ls"}), True),
    (Rule("bash", tool="Bash"), pre("Write", {"file_path": "a"}), False),
    (Rule("mcp", tool="mcp__*"), pre("mcp__github__create_issue", {}), True),
    (Rule("rm", pattern="rm -rf"), pre("Bash", {"command": "cd build && rm  -rf   out"}), True),
    (Rule("rm", pattern="rm -rf"), pre("Bash", {"command": "rm -r out"}), False),
    (Rule("push", tool="Bash", pattern="git push"), pre("Bash", {"command": "git push origin main"}), True),
    (Rule("push", tool="Bash", pattern="git push"), pre("Write", {"content": "git push"}), False),
    (Rule("nested", pattern="secret"), pre("Edit", {"edits": [{"new_string": "the secret key"}]}), True),
    (Rule("re", regex=r"git\s+push\s+--force"), pre("Bash", {"command": "git push  --force"}), True),
    (Rule("re", regex=r"^ls$"), pre("Bash", {"command": "ls -la"}), False),
    (Rule("out", outside_cwd=True), pre("Write", {"file_path": "/etc/hosts"}), True),
    (Rule("out", outside_cwd=True), pre("Write", {"file_path": "../sibling/x.py"}), True),
    (Rule("out", outside_cwd=True), pre("Write", {"file_path": "~/.bashrc"}), True),
    (Rule("out", outside_cwd=True), pre("Write", {"file_path": "src/app.py"}), False),
    (Rule("out", outside_cwd=True), pre("Write", {"file_path": f"{CWD}/src/../app.py"}), False),
    (Rule("out", outside_cwd=True), pre("Write", {"file_path": f"{CWD}-other/app.py"}), True),
    (Rule("out", outside_cwd=True), pre("Bash", {"command": "rm /etc/hosts"}), False),
    (Rule("out", outside_cwd=True), pre("Write", {"file_path": "/etc/hosts"}, cwd=None), False),
    (Rule("off", tool="Bash", enabled=False), pre("Bash", {"command": "ls"}), False),
])
def test_a_rule_fires_when_every_condition_holds(rule: Rule, payload: dict[str, Any], fires: bool) -> None:
    assert B.matches(rule, payload, SessionFacts()) is fires


def test_thresholds_read_the_session_facts() -> None:
    call = pre("Bash", {"command": "ls"})
    assert B.matches(Rule("c", cost_usd=1.0), call, SessionFacts(cost_usd=1.25))
    assert not B.matches(Rule("c", cost_usd=1.0), call, SessionFacts(cost_usd=0.5))
    assert not B.matches(Rule("c", cost_usd=1.0), call, SessionFacts(cost_usd=None))
    assert B.matches(Rule("t", tokens=1000), call, SessionFacts(tokens=1000))
    assert not B.matches(Rule("t", tokens=1000), call, SessionFacts(tokens=999))
    assert B.matches(Rule("e", errors_in_a_row=3), call, SessionFacts(errors_in_a_row=3))
    assert not B.matches(Rule("e", errors_in_a_row=3), call, SessionFacts(errors_in_a_row=2))
    assert B.matches(Rule("o", outside_cwd=True), pre("Read", {"file_path": "/x"}, cwd=None), SessionFacts(cwd=CWD))


def finished(call: str, status: str) -> dict[str, Any]:
    return {"kind": "tool.finished", "data": {"call_id": call, "status": status, "is_error": status != "ok"}}


def test_error_streak_counts_failures_at_the_end_and_names_the_last() -> None:
    assert B.error_streak([]) == (0, None)
    events = [finished("a", "error"), finished("b", "ok"), finished("c", "error"), {"kind": "usage", "data": {}},
              finished("d", "error")]
    assert B.error_streak(events) == (2, "d")
    assert B.error_streak([*events, finished("e", "ok")]) == (0, None)
    assert B.error_streak([finished("a", "error"), finished("b", "denied")]) == (0, None)


def test_a_threshold_rule_fires_once_per_crossing() -> None:
    facts = {"value": SessionFacts(cost_usd=2.0, errors_in_a_row=3, last_error="c")}
    book = Book(None, [Rule("pricey", cost_usd=1.0), Rule("failing", errors_in_a_row=3)])
    matcher = Matcher(book, lambda session: facts["value"])
    call = pre("Bash", {"command": "ls"})
    assert [matcher(call), matcher(call), matcher(call)] == ["pricey", "failing", None]
    assert matcher(pre("Bash", {}, session="s2")) == "pricey"
    facts["value"] = SessionFacts(cost_usd=2.0, errors_in_a_row=4, last_error="d")
    assert matcher(call) == "failing"


def test_the_matcher_reads_the_book_as_it_changes(tmp_path: Path) -> None:
    book = Book(tmp_path / "b.toml")
    matcher = Matcher(book)
    call = pre("Bash", {"command": "rm -rf /tmp/x"})
    assert matcher(call) is None
    book.add(Rule("rm", pattern="rm -rf"))
    assert matcher(call) == "rm"
    book.set_enabled("rm", False)
    assert matcher(call) is None
    assert book.remove("rm") and not book.remove("rm")


def test_steering_holds_the_call_with_the_rule_that_fired() -> None:
    steering = Steering(viewers=lambda session: 1, breakpoint=Matcher(Book(None, [Rule("rm", pattern="rm -rf")])))
    held = steering.on_hook(pre("Bash", {"command": "rm -rf build"}))
    assert held.hold is not None and held.hold.rule == "rm" and held.hold.reason == "breakpoint"
    (waiting,) = held.events
    assert waiting["kind"] == "tool.waiting" and waiting["data"]["rule"] == "rm"
    assert steering.on_hook(pre("Bash", {"command": "ls"}, call="toolu_2")).hold is None


def test_relay_facts_come_from_the_summary_and_the_stream() -> None:
    e = Events()
    events = [*e.started(), e.usage(1200, 80, 0.75), *e.call("t1", "Bash", {"command": "a"}, "ok"),
              *e.call("t2", "Bash", {"command": "b"}, "boom", "error"),
              *e.call("t3", "Bash", {"command": "c"}, "boom", "error")]
    relay = relay_with(events)
    try:
        facts = B.relay_facts(relay)(e.session)
        assert B.relay_facts(relay)("no-such-session") == SessionFacts()
    finally:
        relay.stop()
    assert facts == SessionFacts(CWD, 0.75, 1200 + 80 + 1000 + 10, 2, "t3")


# --- rules from the palette --------------------------------------------------------------


def test_palette_answers_become_rules() -> None:
    assert B.rule_for("pattern", " rm -rf ") == Rule("input contains rm -rf", pattern="rm -rf")
    assert B.rule_for("tool", "Bash").tool == "Bash"
    assert B.rule_for("outside_cwd").outside_cwd
    assert B.rule_for("cost_usd", "$1.50").cost_usd == 1.5
    assert B.rule_for("tokens", "2,000,000").tokens == 2_000_000
    assert B.rule_for("errors_in_a_row", "3").errors_in_a_row == 3
    for kind, answer in [("tokens", "1.5"), ("errors_in_a_row", "0"), ("cost_usd", "lots"), ("pattern", "  "),
                         ("cost_usd", "-1"), ("nonsense", "x")]:
        with pytest.raises(ValueError):
            B.rule_for(kind, answer)


# --- the TOML file -------------------------------------------------------------------------

names = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")
texts = st.none() | st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
rules = st.builds(
    Rule, name=names, tool=texts, pattern=texts, regex=st.none() | st.sampled_from([r"git\s+push", "^rm", "a|b"]),
    outside_cwd=st.booleans(), cost_usd=st.none() | st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    tokens=st.none() | st.integers(1, 10**12), errors_in_a_row=st.none() | st.integers(1, 100),
    enabled=st.booleans(),
).filter(lambda r: bool(B.conditions(r)))


@settings(max_examples=150, deadline=None)
@given(st.lists(rules, max_size=5, unique_by=lambda r: r.name))
def test_the_file_round_trips(given_rules: list[Rule]) -> None:
    assert B.parse(B.dump(given_rules)) == (given_rules, [])


def test_the_documented_example_parses(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("## Breakpoints", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    found, problems = B.parse(example)
    assert problems == [] and len(found) >= 5
    assert {"tool", "pattern", "regex", "outside_cwd", "cost_usd", "tokens", "errors_in_a_row"} <= {
        c for r in found for c in B.conditions(r)}


@pytest.mark.parametrize(("text", "problem"), [
    ("[[breakpoint]\nname = 1", "not valid TOML"),
    ("breakpoint = 3", "array of tables"),
    ("[[breakpoint]]\npattern = 'x'", "needs a name"),
    ("[[breakpoint]]\nname = 'a'", "no condition"),
    ("[[breakpoint]]\nname = 'a'\npatern = 'x'", "unknown key 'patern'"),
    ("[[breakpoint]]\nname = 'a'\nregex = '('", "does not compile"),
    ("[[breakpoint]]\nname = 'a'\ntokens = 0", "is not valid"),
    ("[[breakpoint]]\nname = 'a'\ncost_usd = inf", "is not valid"),
    ("[[breakpoint]]\nname = 'a'\noutside_cwd = 'yes'", "is not valid"),
    ("[[breakpoint]]\nname = 'a'\ntool = 'x'\n[[breakpoint]]\nname = 'a'\ntool = 'y'", "second rule named"),
    ("other = 1", "unknown top-level key"),
])
def test_bad_files_are_problems_not_exceptions(text: str, problem: str) -> None:
    _, problems = B.parse(text)
    assert any(problem in p for p in problems), problems


def test_a_book_keeps_its_file_and_never_drops_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "breakpoints.toml"
    book = Book.load(path)
    assert book.rules == () and book.problems == []
    book.add(Rule("rm", pattern="rm -rf"))
    book.add(Rule("rm", pattern="rm -fr"))
    assert Book.load(path).rules == (Rule("rm", pattern="rm -fr"),)
    broken = path.read_text() + "\n[[breakpoint]]\nname = 'typo'\npatern = 'x'\n"
    path.write_text(broken)
    with pytest.raises(BookError, match="not rewritten"):
        book.add(Rule("push", pattern="git push"))
    assert path.read_text() == broken
    assert Book.load(path).problems


def test_the_default_file_is_in_the_config_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path))
    assert B.default_path() == tmp_path / "breakpoints.toml"
    Book.load().add(Rule("bash", tool="Bash"))
    assert Book.load().get("bash") == Rule("bash", tool="Bash")


def test_a_path_through_a_link_out_of_the_cwd_is_outside(tmp_path: Path) -> None:
    """``cfg`` a link to a directory elsewhere: a write to ``cfg/passwd`` lands outside the cwd, and the rule
    fires; a link inside the cwd to inside it does not."""
    cwd, elsewhere = tmp_path / "proj", tmp_path / "etc"
    (cwd / "src").mkdir(parents=True)
    elsewhere.mkdir()
    (cwd / "cfg").symlink_to(elsewhere)
    (cwd / "lib").symlink_to(cwd / "src")
    rule = Rule("out", outside_cwd=True)
    for path, fires in (("cfg/passwd", True), (f"{cwd}/cfg/new/file", True), ("lib/app.py", False),
                        ("src/app.py", False)):
        assert B.matches(rule, pre("Write", {"file_path": path}, cwd=str(cwd)), SessionFacts()) is fires, path
