"""A hostile transcript replayed in a real terminal (tmux) leaves its title, clipboard and screen alone.

The transcript's prompt, reply, tool input and output carry OSC 0/2 (title),
OSC 52 (clipboard), OSC 8 (link), DCS, a screen clear, colours, C1 and bidi
controls, and Rich markup. tmux runs the installed ``watchkeeper replay`` with
``set-clipboard on`` (an OSC 52 would fill its paste buffer); every row is
selected so the detail pane shows each event in full. Then the pane's title is
still the one set before, there is no paste buffer, and the sequences read on
screen as text.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_viewer_support import ClaudeTranscript
from tmux_support import Tmux, tmux_server

ESC = "\x1b"
KEEP = "KEEP-THIS-TITLE"


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("hostile")


def hostile_transcript(path: Path) -> None:
    t = ClaudeTranscript(path)
    t.write(
        t.prompt(f"[@click=app.quit]x[/] fix [/src] {ESC}]0;OWNED-TITLE\x07 now"),
        t.say(f"reply {ESC}]52;c;T1dORUQtQ0xJUA=={ESC}\\ then {ESC}[2J{ESC}[31mRED{ESC}[0m "
              f"{ESC}]8;;http://evil.example/{ESC}\\link{ESC}]8;;{ESC}\\ [md link](http://evil.example/)"),
        t.tool_use("toolu_1", "Bash", {"command": f"echo {ESC}]2;OWNED-TITLE2{ESC}\\ \x9b31m \u202eevil"}),
        t.tool_result("toolu_1", f"out {ESC}P1$r0m{ESC}\\ {ESC}[201~ {ESC}]52;c;T1dORUQy\x07 done"),
    )


def detail(screen: str) -> str:
    """The detail pane: right of the timeline's border."""
    return "\n".join(line.split("▏", 1)[1] for line in screen.splitlines() if "▏" in line)


def test_a_hostile_replay_leaves_the_terminal_alone(tmp_path: Path, tmux: Tmux) -> None:
    transcript = tmp_path / "proj" / "11111111-2222-4333-8444-555555555555.jsonl"
    transcript.parent.mkdir()
    hostile_transcript(transcript)
    watchkeeper = Path(sys.executable).parent / "watchkeeper"
    # The app starts on Enter, once the title is set and checked.
    # pytest may set COLUMNS/LINES; the app must size itself to the pane.
    command = f"read _ && exec env -u COLUMNS -u LINES TZ=UTC {watchkeeper} replay --speed max {transcript}"
    tmux("start-server", ";", "set-option", "-g", "set-clipboard", "on", ";",
         "new-session", "-d", "-s", "wk", "-x", "160", "-y", "45", command)
    tmux("resize-window", "-t", "wk", "-x", "160", "-y", "45")
    tmux("select-pane", "-t", "wk", "-T", KEEP)
    assert tmux("display", "-p", "-t", "wk", "#{pane_title}").stdout.strip() == KEEP
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "■ ended" in s and "OWNED-TITLE2" in s)
    tmux.keys("u")  # every row, the usage and state rows too

    def count(screen: str) -> int:
        return sum(1 for line in screen.splitlines() if line.startswith("18:00:"))

    rows = count(tmux.wait_for(lambda s: count(s) >= 6))
    tmux.keys("Home")
    seen = [tmux.wait_for(lambda s: "seq 0" in detail(s))]
    for _ in range(rows - 1):
        before = detail(seen[-1])
        tmux.keys("Down")
        seen.append(tmux.wait_for(lambda s, before=before: detail(s) != before))  # type: ignore[misc]
    shown = "\n".join(seen)

    assert tmux("display", "-p", "-t", "wk", "#{pane_title}").stdout.strip() == KEEP
    buffers = tmux("list-buffers")
    assert buffers.stdout == "", f"the clipboard was written: {buffers.stdout!r}"
    # Shown, not obeyed: each row's detail read as text, the screen never cleared under the app.
    for text in ("[@click=app.quit]x[/] fix [/src] ␛]0;OWNED-TITLE␇ now",
                 "reply ␛]52;c;T1dORUQtQ0xJUA==␛\\ then ␛[2J␛[31mRED␛[0m",
                 "echo ␛]2;OWNED-TITLE2␛\\ ⟨U+009B⟩31m ⟨U+202E⟩evil",
                 "out ␛P1$r0m␛\\ ␛[201~ ␛]52;c;T1dORUQy␇ done",
                 "␛]8;;http://evil.example/␛\\link␛]8;;␛\\", "md link", "(http://evil.example/)"):
        assert text in shown, text
    for screen in seen:
        top = screen.splitlines()[0]
        assert "⭘" in top and "watchkeeper" in top, f"the header is gone:\n{screen}"
