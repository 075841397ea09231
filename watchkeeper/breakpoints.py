"""Breakpoint rules: which tool calls of a hooked session to hold for the person, kept in a TOML file.

A rule names conditions and fires when all of them hold: the tool's name (a
glob), a text or a regular expression in the call's input, a file path
outside the session's cwd, the session's cost or tokens past a threshold, N
failed calls in a row. The hook endpoint asks a :class:`Matcher` (a
``adapters.claude_code.steering.Breakpoint``) before each tool call; it consults the
session's facts (cost, tokens, errors) through a callable, so rules that
depend on the session work without this module knowing the relay.

Matching is pure (a payload and the facts in, a rule name out), but for following
the links of a path on disk; reading and writing the file is at the edge, in :class:`Book`. One rule is built in and
always on (``guard.py``): it is in no file, and the book refuses to add,
remove or turn off a rule of its name. A file that does not parse
never raises: its problems are listed for the person, and the book refuses to
rewrite it (which would drop what it could not read).
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import threading
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, cast

import orjson

from .protocol import Event, Kind, ToolStatus
from .protocol.payloads import ToolFinishedData, data_of
from .tool_input import input_paths, input_text, outside

FILE_NAME = "breakpoints.toml"
#: How far back in a session's stream the error streak is looked for.
STREAK_WINDOW = 2_000
HEADER = (
    "# watchkeeper breakpoints: a tool call matching every condition of a rule is held for you.\n"
    "# Keys: name, tool (glob), pattern (text in the input), regex, outside_cwd, cost_usd, tokens,\n"
    "# errors_in_a_row, enabled. See the README, section \"Breakpoints\". Rewritten by the app.\n"
)


@dataclass(frozen=True)
class Rule:
    """One breakpoint; a condition left at its default is not checked."""

    name: str
    tool: str | None = None
    pattern: str | None = None
    regex: str | None = None
    outside_cwd: bool = False
    cost_usd: float | None = None
    tokens: int | None = None
    errors_in_a_row: int | None = None
    enabled: bool = True

    @property
    def thresholds(self) -> bool:
        """A rule on the session's state fires once when crossed, not on every call after."""
        return self.cost_usd is not None or self.tokens is not None or self.errors_in_a_row is not None

    def describe(self) -> str:
        parts = []
        if self.tool:
            parts.append(f"tool {self.tool}")
        if self.pattern:
            parts.append(f"input contains {self.pattern!r}")
        if self.regex:
            parts.append(f"input matches /{self.regex}/")
        if self.outside_cwd:
            parts.append("a path outside the session's folder")
        if self.cost_usd is not None:
            parts.append(f"cost ≥ ${self.cost_usd:g}")
        if self.tokens is not None:
            parts.append(f"tokens ≥ {self.tokens:,}")
        if self.errors_in_a_row is not None:
            parts.append(f"{self.errors_in_a_row} error{'s' if self.errors_in_a_row != 1 else ''} in a row")
        return " and ".join(parts) + ("" if self.enabled else " (off)")


@dataclass(frozen=True)
class SessionFacts:
    """What rules on the session's state need to know; ``last_error`` names the streak's latest failed call."""

    cwd: str | None = None
    cost_usd: float | None = None
    tokens: int = 0
    errors_in_a_row: int = 0
    last_error: str | None = None


# --- matching (pure) --------------------------------------------------------------------


def matches(rule: Rule, payload: dict[str, Any], facts: SessionFacts) -> bool:
    """Every condition of ``rule`` holds for this PreToolUse ``payload`` in a session with ``facts``."""
    if not rule.enabled:
        return False
    name = payload.get("tool_name")
    if rule.tool is not None and not (isinstance(name, str) and fnmatch.fnmatchcase(name, rule.tool)):
        return False
    tool_input = payload.get("tool_input")
    if rule.pattern is not None or rule.regex is not None:
        text = input_text(tool_input)
        if rule.pattern is not None and " ".join(rule.pattern.split()) not in text:
            return False
        if rule.regex is not None and re.search(rule.regex, text) is None:
            return False
    if rule.outside_cwd:
        cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else facts.cwd
        if not cwd or not any(_outside(p, cwd) for p in input_paths(tool_input)):
            return False
    if rule.cost_usd is not None and (facts.cost_usd is None or facts.cost_usd < rule.cost_usd):
        return False
    if rule.tokens is not None and facts.tokens < rule.tokens:
        return False
    return rule.errors_in_a_row is None or facts.errors_in_a_row >= rule.errors_in_a_row


def _outside(path: str, cwd: str) -> bool:
    """Outside the cwd as written, or once the links on the way are followed (``cfg`` a link to ``/etc``):
    the one place matching reads the disk, which is where the agent's write would land."""
    if outside(path, cwd):
        return True
    try:
        return outside(os.path.realpath(os.path.join(cwd, path)), os.path.realpath(cwd))
    except (OSError, ValueError):
        return True


def error_streak(events: Iterable[Event]) -> tuple[int, str | None]:
    """Failed calls in a row at the end of ``events`` (denied ones are the person's, not errors), and the last."""
    outcome: dict[str, bool] = {}
    for ev in events:
        if ev.get("kind") != Kind.TOOL_FINISHED:
            continue
        data = cast(ToolFinishedData, data_of(ev))
        if isinstance(cid := data.get("call_id"), str):
            status = data.get("status")
            outcome.pop(cid, None)
            outcome[cid] = status == ToolStatus.ERROR or (
                bool(data.get("is_error")) and status not in (ToolStatus.DENIED, ToolStatus.INTERRUPTED))
    count, last = 0, None
    for cid, failed in reversed(outcome.items()):
        if not failed:
            break
        count += 1
        last = last or cid
    return count, last


BUILTIN_NAME = "built-in: watchkeeper's own credentials"
class Matcher:
    """The hook endpoint's breakpoint: the book's rules, each PreToolUse, and the session's facts.

    Called on the relay's loop. A threshold rule fires once per session when
    crossed (``errors_in_a_row``: once per run of errors), so approving the
    call it held does not hold every call after it.
    """

    def __init__(self, book: Book, facts: Callable[[str], SessionFacts] | None = None) -> None:
        self.book = book
        self.facts = facts or (lambda session: SessionFacts())
        self._fired: dict[tuple[str, str], object] = {}

    def __call__(self, payload: dict[str, Any]) -> str | None:
        rules = [r for r in self.book.rules if r.enabled]
        if not rules:
            return None
        session = str(payload.get("session_id") or "unknown")
        facts = self.facts(session) if any(r.thresholds for r in rules) else SessionFacts()
        for rule in rules:
            if not matches(rule, payload, facts):
                continue
            if rule.thresholds:
                mark = facts.last_error if rule.errors_in_a_row is not None else True
                if self._fired.get((session, rule.name)) == mark:
                    continue
                self._fired[(session, rule.name)] = mark
            return rule.name
        return None


def relay_facts(relay: Any) -> Callable[[str], SessionFacts]:
    """Facts from a relay (``session`` and ``read_range``): its summary, and the tail of its stream."""

    def facts(session: str) -> SessionFacts:
        info = relay.session(session)
        if info is None:
            return SessionFacts()
        tail = relay.read_range(session, max(0, info.last_seq + 1 - STREAK_WINDOW), info.last_seq + 1)
        count, last = error_streak(tail)
        tokens = info.tokens_in + info.tokens_out + info.tokens_cache_read + info.tokens_cache_creation
        return SessionFacts(info.cwd, info.cost_usd, tokens, count, last)

    return facts


# --- rules from the command palette -------------------------------------------------------

#: Each kind of rule the palette offers: (what it holds on, the question, an example answer or None).
KINDS: dict[str, tuple[str, str | None, str | None]] = {
    "tool": ("a tool", "Hold every call of this tool (a glob: Bash, Write, mcp__*)", "Bash"),
    "pattern": ("a text in the input", "Hold every call whose input contains this text", "rm -rf"),
    "outside_cwd": ("a path outside the session's folder", None, None),
    "cost_usd": ("a cost", "Hold the next call once the session has cost this much (USD)", "1.50"),
    "tokens": ("a token count", "Hold the next call once the session has used this many tokens", "2000000"),
    "errors_in_a_row": ("errors in a row", "Hold the next call after this many failed calls in a row", "3"),
}


def rule_for(kind: str, answer: str = "") -> Rule:
    """The rule the person asked for (``answer`` to the kind's question); ValueError says what is wrong."""
    value = answer.strip()
    if kind == "outside_cwd":
        return Rule("path outside the folder", outside_cwd=True)
    if kind not in KINDS:
        raise ValueError(f"no such kind of breakpoint: {kind}")
    if not value:
        raise ValueError("type a value first")
    if kind == "tool":
        return Rule(f"tool {value}", tool=value)
    if kind == "pattern":
        return Rule(f"input contains {value}", pattern=value)
    try:
        number = float(value.lstrip("$").replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError("the number must be positive")
    if kind == "cost_usd":
        return Rule(f"cost past ${number:g}", cost_usd=number)
    if number < 1 or number != int(number):
        raise ValueError("a whole number, 1 or more")
    if kind == "tokens":
        return Rule(f"tokens past {int(number):,}", tokens=int(number))
    return Rule(f"{int(number)} error{'s' if number != 1 else ''} in a row", errors_in_a_row=int(number))


# --- the file (TOML) ----------------------------------------------------------------------

_FIELDS = {f.name: f for f in fields(Rule)}
_NUMBERS = {"cost_usd": (int, float), "tokens": (int,), "errors_in_a_row": (int,)}


def parse(text: str) -> tuple[list[Rule], list[str]]:
    """The rules of a breakpoints file, and a sentence per problem (a bad rule is left out, never raised)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return [], [f"not valid TOML: {e}"]
    tables = doc.get("breakpoint", [])
    if not isinstance(tables, list):
        return [], ["`breakpoint` must be an array of tables: [[breakpoint]]"]
    rules: list[Rule] = []
    problems = [f"unknown top-level key {k!r}" for k in doc if k != "breakpoint"]
    for n, table in enumerate(tables, 1):
        rule, said = rule_from(table, n)
        problems += said
        if rule is not None:
            if any(r.name == rule.name for r in rules):
                problems.append(f"breakpoint {n}: a second rule named {rule.name!r} (left out)")
            else:
                rules.append(rule)
    return rules, problems


def rule_from(table: Any, n: int = 1) -> tuple[Rule | None, list[str]]:
    """One ``[[breakpoint]]`` table as a rule (or None), and what is wrong with it."""
    where = f"breakpoint {n}"
    if not isinstance(table, dict):
        return None, [f"{where}: not a table"]
    problems = [f"{where}: unknown key {k!r} (ignored)" for k in table if k not in _FIELDS]
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _FIELDS:
            continue
        if key in ("outside_cwd", "enabled"):
            ok = isinstance(value, bool)
        elif key in _NUMBERS:
            ok = isinstance(value, _NUMBERS[key]) and not isinstance(value, bool) and math.isfinite(value) \
                and value >= (0 if key == "cost_usd" else 1)
        else:
            ok = isinstance(value, str) and bool(value.strip())
        if not ok:
            return None, [*problems, f"{where}: {key} = {value!r} is not valid (left out)"]
        values[key] = float(value) if key == "cost_usd" else value
    if "name" not in values:
        return None, [*problems, f"{where}: a rule needs a name (left out)"]
    if values.get("regex") is not None:
        try:
            re.compile(values["regex"])
        except re.error as e:
            return None, [*problems, f"{where}: regex {values['regex']!r} does not compile: {e} (left out)"]
    rule = Rule(**values)
    if not conditions(rule):
        return None, [*problems, f"{where} ({rule.name!r}): no condition, it would hold every call (left out)"]
    return rule, problems


def conditions(rule: Rule) -> list[str]:
    """The conditions a rule sets (everything but name and enabled at their defaults)."""
    return [f.name for f in fields(Rule) if f.name not in ("name", "enabled")
            and getattr(rule, f.name) != f.default]


def rule_table(rule: Rule) -> dict[str, Any]:
    """``rule`` as a ``[[breakpoint]]`` table (its name and the conditions it sets); ``rule_from`` reads it back."""
    return {f.name: getattr(rule, f.name) for f in fields(Rule)
            if f.name == "name" or getattr(rule, f.name) != f.default}


def dump(rules: Iterable[Rule]) -> str:
    """The file's text for ``rules``; ``parse(dump(rules))`` gives them back."""
    out = [HEADER]
    for rule in rules:
        out.append("\n[[breakpoint]]\n")
        for key, value in rule_table(rule).items():
            out.append(f"{key} = {_toml_value(value)}\n")
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
    return orjson.dumps(str(value)).decode().replace("\x7f", "\\u007F")


def default_path() -> Path:
    """``breakpoints.toml`` in the config directory (``$WATCHKEEPER_HOME``, else ``~/.config/watchkeeper``)."""
    from . import config

    return config.config_dir() / FILE_NAME


class BookError(Exception):
    """The book cannot be changed; ``str()`` says why, for the person."""


class Book:
    """The rules in force and the file that keeps them.

    ``rules`` is a tuple swapped whole, so the relay's loop reads it without
    a lock while the app adds or removes a rule.
    """

    def __init__(self, path: Path | None = None, rules: Iterable[Rule] = (), problems: Iterable[str] = ()) -> None:
        self.path = path
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.problems = list(problems)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None) -> Book:
        """The rules in ``path`` (default: the config directory's); a missing file is an empty book."""
        path = path or default_path()
        rules, problems = _read(path)
        return cls(path, rules, problems)

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def add(self, rule: Rule) -> None:
        """Add ``rule`` (replacing one of the same name) and save; BookError if the file cannot be kept."""
        _not_builtin(rule.name)
        self._change(lambda rules: [*(r for r in rules if r.name != rule.name), rule])

    def remove(self, name: str) -> bool:
        """Remove the rule named ``name`` and save; False if there was none."""
        _not_builtin(name)
        found = self.get(name) is not None
        if found:
            self._change(lambda rules: [r for r in rules if r.name != name])
        return found

    def set_enabled(self, name: str, enabled: bool) -> None:
        _not_builtin(name)
        self._change(lambda rules: [replace(r, enabled=enabled) if r.name == name else r for r in rules])

    def _change(self, edit: Callable[[list[Rule]], list[Rule]]) -> None:
        with self._lock:
            current = self.rules
            if self.path is not None:
                current_list, problems = _read(self.path)
                if problems:
                    self.problems = problems
                    raise BookError(f"{self.path} has problems, so it is not rewritten (fix it first): "
                                    + "; ".join(problems))
                current = tuple(current_list)
            rules = tuple(edit(list(current)))
            if self.path is not None:
                _write(self.path, dump(rules))
            self.rules, self.problems = rules, []


def _not_builtin(name: str) -> None:
    if name == BUILTIN_NAME:
        raise BookError(f"«{BUILTIN_NAME}» is built in: it cannot be added, removed or turned off")


def _read(path: Path) -> tuple[list[Rule], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError) as e:
        return [], [f"cannot read {path}: {e}"]
    rules, problems = parse(text)
    return rules, [f"{path}: {p}" for p in problems]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BookError(f"cannot write {path}: {e.strerror}") from None
