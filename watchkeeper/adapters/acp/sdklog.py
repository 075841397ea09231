"""The ACP SDK's complaints, said in the session they are about instead of on the terminal.

The SDK drops a notification whose params do not fit its schema (or whose method it does not know)
and reports it, like any failure of its tasks, with ``logging.exception`` on the root logger: a bare
traceback over the viewer (and, the first time, ``basicConfig`` on the root logger), or nothing at
all where logging is quiet. Its modules get a ``logging`` whose ``exception`` hands the complaint to
the ACP source whose task made it (:data:`REPORT`, a context variable the SDK's tasks inherit from
the source's); outside a source it goes to the ``acp`` logger.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ...protocol.display import visible

#: Set by an ACP source in its task: called with the complaint, in words for the person.
REPORT: ContextVar[Callable[[str], None] | None] = ContextVar("acp_report", default=None)
#: Characters of the agent's input quoted in a complaint.
QUOTED = 200
_NOTIFICATION = "Unhandled error while handling notification method="


class _Logging:
    """The ``logging`` module, but for ``exception``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(logging, name)

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kw: Any) -> None:
        report = REPORT.get()
        if report is None:
            logging.getLogger("acp").error(msg, *args, exc_info=exc_info, **kw)
            return
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        text = str(msg) % args if args else str(msg)
        if text.startswith(_NOTIFICATION):
            report(f"watchkeeper dropped a {visible(text[len(_NOTIFICATION):])} notification from the agent: "
                   f"{describe(error)}")
        else:
            report(f"watchkeeper's ACP client: {visible(text)}: {describe(error)}")


def describe(error: BaseException | None) -> str:
    """An exception in a line; a schema's complaint as its first problem and the input it was about."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        problems = error.errors()
        first: dict[str, Any] = dict(problems[0]) if problems else {}
        where = ".".join(str(p) for p in first.get("loc") or ()) or "params"
        got = visible(repr(first.get("input")))
        got = got if len(got) <= QUOTED else got[:QUOTED] + "…"
        return (f"its params do not fit the ACP schema ({len(problems)} problem(s); {where}: {first.get('msg')}; "
                f"got {got})")
    if error is None:
        return "no detail"
    data = getattr(error, "data", None)
    text = f"{type(error).__name__}: {error}" + (f" {data}" if data else "")
    text = visible(text)
    return text if len(text) <= QUOTED else text[:QUOTED] + "…"


def install() -> None:
    """The SDK's modules log through :class:`_Logging` (once; a module the SDK no longer has is skipped)."""
    import importlib

    for name in ("acp.connection", "acp.task.supervisor", "acp.task.sender", "acp._transport"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "logging", None) is logging:
            module.logging = _Logging()  # type: ignore[attr-defined]
