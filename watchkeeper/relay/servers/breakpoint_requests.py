"""``breakpoints`` requests from viewers attached to ``serve``: list, add, remove, enable or disable a rule.

The rules are the serving machine's own (its config directory's
``breakpoints.toml``, read by its hook endpoint's matcher), so a rule set
from ``attach`` holds the next matching call there. The connection is the
person's (its token was checked at the handshake); nothing here widens that.

Request: ``{t: "breakpoints", id, op, rule?, name?}``. Reply, whatever the op:
``{t: "breakpoints", id, rules: [table…], problems: [...], where, done?, error?}``.
"""

from __future__ import annotations

from typing import Any

from ...breakpoints import Book, BookError, rule_from, rule_table
from ...protocol import wire

OPS = ("list", "add", "remove", "enable", "disable")


def breakpoint_request(book: Book | None, msg: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Do what ``msg`` asks of ``book``; the reply (WireError for a request that cannot be read)."""
    req = msg.get("id")
    op = msg.get("op", "list")
    if op not in OPS:
        raise wire.WireError("bad-breakpoints", f"unknown op {op!r}; expected one of {', '.join(OPS)}", req)
    if book is None:
        return {"t": "breakpoints", "id": req, "rules": [], "problems": [], "where": where,
                "error": "this relay has no breakpoints (it serves no hook endpoint)"}
    done: str | None = None
    error: str | None = None
    try:
        done = _apply(book, op, msg, req)
    except BookError as e:
        error = str(e)
    reply: dict[str, Any] = {"t": "breakpoints", "id": req, "rules": [rule_table(r) for r in book.rules],
                             "problems": list(book.problems), "where": f"{where}: {book.path}"}
    if done is not None:
        reply["done"] = done
    if error is not None:
        reply["error"] = error
    return reply


def _apply(book: Book, op: str, msg: dict[str, Any], req: Any) -> str | None:
    if op == "list":
        return None
    if op == "add":
        rule, problems = rule_from(msg.get("rule"))
        if rule is None:
            raise wire.WireError("bad-breakpoints", "; ".join(problems) or "not a rule", req)
        book.add(rule)
        return f"added «{rule.name}»"
    name = msg.get("name")
    if not isinstance(name, str) or not name:
        raise wire.WireError("bad-breakpoints", f"{op} needs the rule's 'name'", req)
    if book.get(name) is None:
        raise BookError(f"no breakpoint «{name}»")
    if op == "remove":
        book.remove(name)
        return f"removed «{name}»"
    book.set_enabled(name, op == "enable")
    return f"{op}d «{name}»"
