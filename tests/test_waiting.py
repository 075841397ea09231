"""The shared wait helper itself: not-yet data is no failure, and a failure says what and what was seen."""

from __future__ import annotations

import asyncio
import threading

import pytest
from waiting import until, until_async


def test_a_check_on_data_not_there_yet_waits_instead_of_crashing() -> None:
    events: list[str] = []
    cond = threading.Condition()

    def later() -> None:
        with cond:
            events.append("late")
            cond.notify_all()

    threading.Thread(target=later).start()
    assert until(lambda: events[-1] == "late", condition=cond) is True
    mapping: dict[str, int] = {}
    threading.Thread(target=lambda: mapping.update(k=7)).start()
    assert until(lambda: mapping["k"]) == 7, "the check's value is returned"


def test_giving_up_says_what_was_awaited_and_the_last_value_seen() -> None:
    answer = [41]
    with pytest.raises(AssertionError, match=r"gave up after 0.05s waiting for the answer; last seen: 41$"):
        until(lambda: answer[0] == 42, what="the answer", timeout=0.05, seen=lambda: answer[0])
    with pytest.raises(AssertionError, match=r"waiting for until\(lambda: answer\[0\] == 42.*last seen: False$"):
        until(lambda: answer[0] == 42, timeout=0.05)
    with pytest.raises(AssertionError, match=r"waiting for .*\[\]\[0\].*last seen: IndexError"):
        until(lambda: [][0], timeout=0.05)


async def test_the_async_form_lets_the_loop_run_and_fails_the_same_way() -> None:
    box: list[int] = []
    asyncio.get_running_loop().call_later(0.02, box.append, 1)
    assert await until_async(lambda: box[0]) == 1
    with pytest.raises(AssertionError, match=r"waiting for nothing ever; last seen: KeyError: 'x'"):
        await until_async(lambda: {}["x"], what="nothing ever", timeout=0.05)
