"""What the detail pane shows for one row: Rich renderables, built only for the selected row.

Pure (events in, renderables out), so it is tested without an app. Edits become
diffs, commands and files are syntax highlighted, JSON is pretty-printed and
long text is folded with its full size shown. Every text from the data goes
through :func:`visible` here, and Markdown keeps its links inert.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import orjson
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import StyleType
from rich.syntax import Syntax, SyntaxTheme
from rich.text import Text

from ...protocol import Event, Kind, ToolCall, json_text
from ...protocol.display import visible, visible_value
from ...protocol.payloads import (
    MessageAssistantData,
    MessageUserData,
    NoticeData,
    RawData,
    ThinkingData,
    ToolFinishedData,
    data_of,
)
from . import rows

FOLD_LINES = 200
FOLD_CHARS = 32_000
SHELL_TOOLS = frozenset({"Bash", "shell", "exec_command", "local_shell", "BashOutput"})
EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit", "apply_patch"})


@dataclass(frozen=True, slots=True)
class Options:
    unfold: bool = False
    #: Pygments theme, by name or built; the ANSI ones follow the terminal's palette.
    theme: str | SyntaxTheme = "ansi_dark"
    #: Row roles (``"error"``, ``"ok"``, …) to styles, from the widget's theme-driven component classes.
    styles: Mapping[str, StyleType] = field(default_factory=dict)


def size_text(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def fold(text: str, unfold: bool) -> tuple[str, Text | None]:
    """The first lines of ``text`` and a note of what was left out (None if nothing was)."""
    if unfold or (len(text) <= FOLD_CHARS and text.count("\n") < FOLD_LINES):
        return text, None
    lines = text.splitlines()
    head = "\n".join(lines[:FOLD_LINES])[:FOLD_CHARS]
    hidden = len(lines) - head.count("\n") - 1
    note = Text(
        f"▸ folded: {hidden:,} more lines · {size_text(len(text.encode(errors='replace')))} in all"
        " — press o to unfold",
        style="italic",
    )
    return head, note


def pretty_json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
    except TypeError:
        return json_text(value)


def maybe_json(text: str) -> Any:
    """Parsed JSON if ``text`` is a JSON object or array, else None."""
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "["):
        return None
    try:
        return orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None


def unified_diff(old: str, new: str, path: str = "") -> str:
    return "\n".join(
        difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=3)
    )


def structured_patch(output: Any) -> str | None:
    """Claude Code's ``toolUseResult.structuredPatch`` as unified-diff text."""
    if not isinstance(output, dict) or not isinstance(output.get("structuredPatch"), list):
        return None
    out = []
    for hunk in output["structuredPatch"]:
        if not isinstance(hunk, dict):
            continue
        old = f"{hunk.get('oldStart')},{hunk.get('oldLines')}"
        new = f"{hunk.get('newStart')},{hunk.get('newLines')}"
        out.append(f"@@ -{old} +{new} @@")
        out += [str(line) for line in hunk.get("lines") or []]
    return "\n".join(out) or None


def edit_diff(call: ToolCall) -> str | None:
    """A diff for an edit: Edit / MultiEdit strings, Write over an existing file, apply_patch."""
    data = rows.as_input(call.input)
    output = call.output
    if isinstance(output, str):
        output = maybe_json(output) or output
    if call.name == "apply_patch" or (isinstance(data, str) and "*** Begin Patch" in data):
        patch = data.get("input") or data.get("patch") if isinstance(data, dict) else data
        return patch if isinstance(patch, str) else None
    if not isinstance(data, dict):
        return None
    path = str(data.get("file_path") or data.get("path") or "")
    if call.name == "Edit" and isinstance(data.get("old_string"), str):
        return unified_diff(data["old_string"], str(data.get("new_string") or ""), path)
    if call.name == "MultiEdit" and isinstance(data.get("edits"), list):
        return "\n".join(
            unified_diff(str(e.get("old_string", "")), str(e.get("new_string", "")), path)
            for e in data["edits"]
            if isinstance(e, dict)
        )
    if call.name == "Write":
        if isinstance(output, dict) and isinstance(output.get("originalFile"), str):
            return unified_diff(output["originalFile"], str(data.get("content") or ""), path)
        return structured_patch(output)
    return None


def shown(text: object, style: StyleType = "") -> Text:
    """Data as a Text: never markup, never a terminal control."""
    return Text(visible(str(text)), style=style)


def code(text: str, lexer: str, opts: Options) -> RenderableType:
    return Code(visible(text), _lexer(lexer), opts.theme)


class Code:
    """Highlighted code, wrapped at the width, drawn exactly as Rich's ``Syntax`` draws it (word wrap, on
    the terminal's own ground) but in one pass: ``Syntax`` renders each line of the code through the console
    on its own, which made it most of the detail pane's work (a call's 50 lines of JSON: 8 ms of a key)."""

    def __init__(self, text: str, lexer: Lexer | str, theme: str | SyntaxTheme) -> None:
        self.text = text
        self.theme = _theme(theme) if isinstance(theme, str) else theme
        self.syntax = Syntax(text, lexer, theme=self.theme, background_color="default", word_wrap=True)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        syntax, text = self.syntax, self.text
        ends_on_nl = text.endswith("\n")
        highlighted = syntax.highlight((text if ends_on_nl else text + "\n").expandtabs(syntax.tab_size))
        if not ends_on_nl:
            highlighted.remove_suffix("\n")
        ground = self.theme.get_background_style() + syntax.background_style
        new_line = Segment.line()
        for line in console.render_lines(highlighted, options.update(height=None),
                                         style=ground, pad=False):
            yield from line
            yield new_line


@lru_cache(maxsize=8)
def _theme(name: str) -> SyntaxTheme:
    """A theme by name, made once: it keeps the styles it resolved for each kind of token."""
    return Syntax.get_theme(name)


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer | str:
    """The lexer called ``name``, found once: Rich looks it up among all of Pygments' on every render (~0.3 ms)."""
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=True, tabsize=4)
    except ClassNotFound:
        return name


def section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def text_block(text: str, opts: Options, lexer: str | None = None) -> list[RenderableType]:
    parsed = maybe_json(text) if lexer is None else None
    if parsed is not None:
        text, lexer = pretty_json(visible_value(parsed)), "json"
    head, note = fold(text, opts.unfold)
    body: RenderableType = code(head, lexer, opts) if lexer else shown(head)
    return [body, note] if note is not None else [body]


def value_block(value: Any, opts: Options) -> list[RenderableType]:
    if isinstance(value, str):
        return text_block(value, opts)
    # Strings made visible first: JSON would write ESC as \u001b, the rest of the screen writes ␛.
    return text_block(pretty_json(visible_value(value)), opts, "json")


def tool_detail(
    call: ToolCall, events: list[Event], opts: Options, now: float | None
) -> list[RenderableType]:
    cells = rows.call_status_cells(call, now)
    status = Text.assemble(*((visible(text), opts.styles.get(role, "")) for text, role in cells))
    header = Text.assemble(shown(call.name or "?", "bold"), "  ", status)
    out: list[RenderableType] = [header, shown(f"call {call.call_id} · agent {call.agent}", "dim")]
    data = rows.as_input(call.input)
    diff = edit_diff(call) if call.name in EDIT_TOOLS or isinstance(data, str) else None
    out.append(section("Input"))
    if diff:
        target = rows.salient_input(call.name, call.input)
        out += [shown(target, "bold"), *text_block(diff, opts, "diff")]
    elif call.name in SHELL_TOOLS and isinstance(data, dict) and (data.get("command") or data.get("cmd")):
        command = data.get("command") or data.get("cmd")
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        out += text_block(str(command), opts, "bash")
        rest = {k: v for k, v in data.items() if k not in ("command", "cmd")}
        if rest:
            out += value_block(rest, opts)
    elif call.name == "Write" and isinstance(data, dict) and isinstance(data.get("content"), str):
        path = str(data.get("file_path") or "")
        out += [shown(path, "bold"), *text_block(data["content"], opts, _lexer_for(path))]
    else:
        out += value_block(data, opts)
    if call.final or call.output is not None:
        out.append(section("Output"))
        out += output_block(call.output, opts)
        finished = (cast(ToolFinishedData, data_of(e)) for e in events if e.get("kind") == Kind.TOOL_FINISHED)
        cut = rows.number(next((d.get("truncated") for d in finished), None))
        if cut:
            out.append(Text(f"(output cut at the source: {size_text(int(cut))} more)", style="italic"))
    return out


def output_block(output: Any, opts: Options) -> list[RenderableType]:
    if output is None:
        return [Text("(no output)", style="dim")]
    if isinstance(output, dict) and ("stdout" in output or "stderr" in output):
        out: list[RenderableType] = []
        for name in ("stdout", "stderr"):
            if output.get(name):
                out += [shown(name, "dim"), *value_block(output[name], opts)]
        return out or [Text("(empty)", style="dim")]
    if isinstance(output, list) and all(isinstance(b, dict) and "text" in b for b in output):
        return value_block("\n".join(str(b["text"]) for b in output), opts)
    return value_block(output, opts)


@lru_cache(maxsize=256)
def _lexer_for(path: str) -> str:
    try:
        return Syntax.guess_lexer(path, "")
    except Exception:
        return "text"


def event_detail(event: Event, opts: Options) -> list[RenderableType]:
    kind = event.get("kind")
    data: dict[str, Any] = event.get("data") or {}
    if not isinstance(data, dict):
        data = {"value": data}
    out: list[RenderableType] = []
    if kind == Kind.MESSAGE_ASSISTANT:
        said = cast(MessageAssistantData, data)
        text, note = fold(str(said.get("text", "")), opts.unfold)
        # No hyperlinks: a link is shown with its address, never made a live (OSC 8) link.
        out.append(Markdown(visible(text), hyperlinks=False))
        if note is not None:
            out.append(note)
    elif kind in (Kind.MESSAGE_USER, Kind.THINKING) and isinstance(cast(MessageUserData, data).get("text"), str):
        message = cast(MessageUserData, data)
        thought = cast(ThinkingData, data)
        text = message["text"] or ("(hidden by the agent)" if thought.get("hidden") else "")
        out += text_block(text, opts, "text")
    elif kind == Kind.RAW:
        raw = cast(RawData, data)
        if raw.get("error"):
            out.append(shown(raw["error"], "bold"))
        out += value_block(raw.get("record"), opts)
        if raw.get("source"):
            out.append(shown(f"from {raw['source']}", "dim"))
    elif kind == Kind.NOTICE:
        notice = cast(NoticeData, data)
        out.append(shown(notice.get("text", ""), "bold" if notice.get("level") == "error" else ""))
        extra = {k: v for k, v in data.items() if k != "text"}
        if extra:
            out += value_block(extra, opts)
    else:
        out += value_block(data, opts)
    return out


def render_detail(
    events: list[Event], call: ToolCall | None, opts: Options | None = None, now: float | None = None
) -> RenderableType:
    """Everything about one row: header line, then the call's input and output or the event's data."""
    opts = opts or Options()
    if not events:
        return Text("Nothing selected", style="dim")
    first = events[0]
    where = [first.get("ts", ""), first.get("agent", "main"), first.get("kind", "?"), f"seq {first.get('seq', '?')}"]
    meta = shown(" · ".join(str(w) for w in where), "dim")
    body = tool_detail(call, events, opts, now) if call is not None else event_detail(first, opts)
    return Group(meta, *body)
