"""The one way tests wait: until a check holds, bounded by a deadline, never a fixed sleep.

A check reads state another thread or task fills in; until that data is there,
reading it may raise ``IndexError`` or ``KeyError`` (``got.events[-1]`` on an
empty list), which counts as "not yet", not as a failure. When the deadline
passes, the test fails with what was awaited and the last value (or error) seen.

``until`` blocks a thread; it wakes as soon as a given ``threading.Condition``
is notified, else it polls. ``until_async`` lets an event loop run between
checks; ``pause`` replaces the default ``asyncio.sleep`` (a Textual pilot's
``pilot.pause`` lets the app process messages and repaint).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

#: Seconds any one wait may take. Generous: it only matters when a test fails,
#: and the suite must pass on a busy two-core machine.
WAIT = 30.0
#: Seconds between two checks, when nothing wakes the waiter sooner.
POLL = 0.01

T = TypeVar("T")

_NOTHING = object()


class _Last:
    """The last value a check returned, or the error it raised, for the failure message."""

    def __init__(self, seen: Callable[[], object] | None = None) -> None:
        self.value: Any = _NOTHING
        self.seen = seen

    def check(self, check: Callable[[], T]) -> T | None:
        try:
            self.value = check()
        except LookupError as e:  # IndexError, KeyError: the data is not there yet
            self.value = e
            return None
        return self.value  # type: ignore[no-any-return]

    def fail(self, what: str, timeout: float) -> AssertionError:
        if self.seen is not None:
            try:
                self.check(self.seen)
            except Exception as e:
                self.value = e
        seen = "nothing (never checked)" if self.value is _NOTHING else _show(self.value)
        return AssertionError(f"gave up after {timeout:g}s waiting for {what}; last seen: {seen}")


def _show(value: object, limit: int = 2000) -> str:
    text = f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _describe(what: str | None, check: Callable[..., object]) -> str:
    """``what``, else the check's own source line (a lambda's name says nothing)."""
    if what:
        return what
    try:
        return " ".join(inspect.getsource(check).split())
    except (OSError, TypeError):
        return getattr(check, "__qualname__", repr(check))


def until(check: Callable[[], T], what: str | None = None, timeout: float = WAIT,
          condition: threading.Condition | None = None, seen: Callable[[], object] | None = None,
          poll: float = POLL) -> T:
    """Block until ``check()`` returns something truthy, and return it; fail the test at the deadline.

    With ``condition``, the check runs under that condition's lock and the wait
    wakes when it is notified (no polling delay); without it, it polls every
    ``poll`` seconds. ``seen`` says what to show on failure when the check's own
    value (often just ``False``) would not help, e.g. the screen.
    """
    last = _Last(seen)
    deadline = time.monotonic() + timeout
    if condition is not None:
        with condition:
            while not (value := last.check(check)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise last.fail(_describe(what, check), timeout)
                condition.wait(min(left, 0.5))
            return value
    while not (value := last.check(check)):
        if time.monotonic() >= deadline:
            raise last.fail(_describe(what, check), timeout)
        time.sleep(poll)
    return value


async def until_async(check: Callable[[], T], what: str | None = None, timeout: float = WAIT,
                      pause: Callable[[], Awaitable[Any]] | None = None,
                      seen: Callable[[], object] | None = None) -> T:
    """``until`` for a coroutine: the loop runs (``pause()``, else a short sleep) between checks."""
    last = _Last(seen)
    deadline = time.monotonic() + timeout
    while not (value := last.check(check)):
        if time.monotonic() >= deadline:
            raise last.fail(_describe(what, check), timeout)
        await (pause() if pause is not None else asyncio.sleep(POLL))
    return value


async def until_app(pilot: Any, check: Callable[[], T], what: str | None = None, timeout: float = WAIT,
                    seen: Callable[[], object] | None = None) -> T:
    """``until_async`` under a Textual pilot: the app handles its messages and repaints between checks."""
    value = await until_async(check, what, timeout, pause=lambda: pilot.pause(0.05), seen=seen)
    await asyncio.sleep(0)
    return value
