"""``watchkeeper sessions [--json]``: the running watchkeeper's sessions, or a served relay's.

``--json`` prints the listing as data (a list of objects, schema: ``watchkeeper
schema --sessions``): agents' text stays as they wrote it, JSON-escaped. The
table is for a person: every cell from an agent goes through ``visible()`` and
is cut to the terminal's width (80 columns when it is not a terminal), and each
held call is shown under its session with the id ``ctl approve|deny`` takes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import unicodedata
from datetime import UTC, datetime
from typing import Any

HELP = "list the running watchkeeper's sessions and the calls they hold (--json for scripts)"
MIN_WIDTH, MAX_WIDTH = 60, 200
#: (heading, width) of the fixed columns; the title takes the rest.
COLUMNS = (("SESSION", 8), ("AGENT", 11), ("STATE", 9), ("LAST", 8), ("STEER", 5))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list (schema: watchkeeper schema --sessions)")
    parser.add_argument("--port", type=int, default=None, help="the running watchkeeper's port")
    parser.add_argument("--relay", metavar="URL", help="a served relay's sessions (`watchkeeper serve`), "
                        "ws[s]://HOST:PORT")
    parser.add_argument("--token-file", metavar="F", help="with --relay: the token (default: "
                        "$WATCHKEEPER_TOKEN, else this machine's token file)")
    parser.add_argument("--origin", metavar="EDGE", help="a hub's sessions pushed by this edge only "
                        "(`serve --upstream`); `local` for the hub's own")


def run(args: argparse.Namespace) -> int:
    import orjson

    from ..adapters.remote import RemoteError
    from ..client import ApiError, error_text, local_listing, relay_listing
    from ..protocol.display import terminal_json, visible

    where = args.relay or "the running watchkeeper"
    try:
        rows = relay_listing(args.relay, args.token_file) if args.relay else local_listing(args.port)
    except (ApiError, RemoteError, ValueError, OSError, TimeoutError) as e:
        print(visible(f"watchkeeper sessions: {where}: {error_text(e)}"), file=sys.stderr)
        return 2
    if args.origin:
        rows = [r for r in rows if origin_of(r) == args.origin]
    if args.json:
        data = orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n"
        sys.stdout.buffer.write(terminal_json(data) if sys.stdout.isatty() else data)
        return 0
    width = min(MAX_WIDTH, max(MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns))
    print("\n".join(table(rows, width, datetime.now(UTC))))
    return 0


def origin_of(row: dict[str, Any]) -> str:
    """The edge a hub's session came from (``serve --upstream``), or ``local``."""
    origin = row.get("origin")
    return str(origin.get("edge")) if isinstance(origin, dict) and origin.get("edge") else "local"


def table(rows: list[dict[str, Any]], width: int, now: datetime) -> list[str]:
    """The listing as lines of at most ``width`` cells, text from agents shown, never obeyed."""
    if not rows:
        return ["no sessions"]
    title_width = width - sum(w + 2 for _, w in COLUMNS)
    lines = [_row([(h, w) for h, w in COLUMNS] + [("TITLE", title_width)])]
    for r in rows:
        steer = "yes" if r.get("steerable") else "no"
        lines.append(_row([(_text(r.get("id"))[:8], 8), (_text(r.get("agent")), 11), (_text(r.get("state")), 9),
                           (ago(r.get("last_activity"), now), 8), (steer, 5),
                           (_from(r) + (_text(r.get("title")) or "(untitled)"), title_width)]))
        held = r.get("held")
        for h in held if isinstance(held, list) else []:
            if isinstance(h, dict):
                lines.append(fit("  held " + held_line(h, now), width))
    return lines


def _from(row: dict[str, Any]) -> str:
    """``edge: `` before a hub's session pushed by an edge; nothing for a relay's own."""
    edge = origin_of(row)
    return "" if edge == "local" else f"{_text(edge)}: "


def held_line(h: dict[str, Any], now: datetime) -> str:
    """``CALL_ID TOOL why [«rule»] [by AGENT] held 2m[, continues in 8m] INPUT``, all shown safely."""
    import orjson

    why = _text(h.get("why"))
    if h.get("rule"):
        why += f" «{_text(h.get('rule'))}»"
    parts = [_text(h.get("call_id")), _text(h.get("tool")) or "?", why]
    if h.get("agent") not in (None, "main"):
        parts.append(f"by {_text(h.get('agent'))}")
    held = f"held {ago(h.get('since'), now, suffix='')}".rstrip()
    expires = _when(h.get("expires_at"))
    if expires is not None:
        left = max(0.0, (expires - now).total_seconds())
        then = "denied" if h.get("on_expiry") == "deny" else "continues"
        held += f", {then} in {span(left)}"
    parts.append(held)
    value = h.get("input")
    shown = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    parts.append(_text(shown))
    return "  ".join(p for p in parts if p)


def ago(ts: Any, now: datetime, suffix: str = " ago") -> str:
    when = _when(ts)
    if when is None:
        return "-"
    return span(max(0.0, (now - when).total_seconds())) + suffix


def span(seconds: float) -> str:
    """A duration as a person reads it: 45s, 12m, 5h, 8d."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells, with an ellipsis where it was cut."""
    if cells(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = _cell(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def cells(text: str) -> int:
    return sum(_cell(ch) for ch in text)


def _cell(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _row(cols: list[tuple[str, int]]) -> str:
    out = []
    for i, (text, width) in enumerate(cols):
        cut = fit(text, width)
        out.append(cut if i == len(cols) - 1 else cut + " " * (width - cells(cut)))
    return "  ".join(out).rstrip()


def _text(value: Any) -> str:
    """Text from an agent as one safe line: terminal controls shown as visible escapes, whitespace collapsed."""
    from ..protocol.display import visible

    if value is None:
        return ""
    return " ".join(visible(str(value)).split())


def _when(ts: Any) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
