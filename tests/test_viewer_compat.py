"""The viewer's private Textual calls: all in ``viewer/compat.py``, each present on the pinned Textual.

An upgrade of Textual that renames or reshapes one fails here by name; a
private Textual call written anywhere else in the viewer fails here too. Both
checks are also run on a planted fault, so neither can pass vacuously.
"""

from __future__ import annotations

import ast
import inspect
import shutil
from importlib.metadata import version
from pathlib import Path

from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from watchkeeper.viewer import compat

VIEWER = Path(compat.__file__).resolve().parent
PINNED = "8.2.8"


def api_problems(entries: tuple[tuple[type, str, tuple[str, ...]], ...]) -> list[str]:
    """What of ``entries`` the installed Textual lacks, or has with other parameters."""
    problems = []
    for cls, name, params in entries:
        found = getattr(cls, name, None)
        if not callable(found):
            problems.append(f"{cls.__name__}.{name}: missing")
        elif tuple(inspect.signature(found).parameters) != params:
            problems.append(f"{cls.__name__}.{name}{inspect.signature(found)}: expected {params}")
    return problems


def own_names(viewer: Path) -> set[str]:
    """Underscore names the viewer defines itself (methods, attributes, module names)."""
    names: set[str] = set()
    for path in viewer.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def private_uses(viewer: Path) -> list[str]:
    """``obj._name`` outside compat.py where ``_name`` is not the viewer's own: a private Textual call;
    and an import from a private Textual module."""
    own = own_names(viewer)
    found = []
    for path in sorted(viewer.rglob("*.py")):
        if path.name == "compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("textual") \
                    and any(part.startswith("_") for part in node.module.split(".")):
                found.append(f"{path.relative_to(viewer)}:{node.lineno}: {node.module}")
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and node.attr not in own):
                found.append(f"{path.relative_to(viewer)}:{node.lineno}: {node.attr}")
    return found


def test_textual_is_the_pinned_version() -> None:
    assert version("textual") == PINNED


def test_every_private_api_exists_with_the_parameters_used() -> None:
    assert compat.PRIVATE_API
    assert api_problems(compat.PRIVATE_API) == []


def test_every_private_state_and_module_read_exists() -> None:
    # A class attribute, or one every instance is given in ``__init__``.
    assert all(hasattr(cls, name) or hasattr(cls(), name) for cls, name in compat.PRIVATE_STATE)
    assert compat.FooterKey.__module__ == "textual.widgets._footer"


def test_a_missing_or_reshaped_private_api_is_reported() -> None:
    planted = ((Widget, "_no_such_method", ("self",)), (Widget, "_scroll_update", ("self", "size")))
    problems = api_problems(planted)
    assert len(problems) == 2, problems
    assert "missing" in problems[0] and "expected ('self', 'size')" in problems[1]


def test_no_private_textual_call_outside_compat() -> None:
    assert private_uses(VIEWER) == []


def test_a_planted_private_call_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "viewer"
    shutil.copytree(VIEWER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    timeline = copy / "widgets" / "timeline.py"
    timeline.write_text(timeline.read_text() + "\n\ndef planted(w):\n    w._refresh_scrollbars()\n")
    assert [u.split(": ")[1] for u in private_uses(copy)] == ["_refresh_scrollbars"]


class Tall(ScrollView):
    def render_line(self, y: int) -> Strip:
        return Strip.blank(self.size.width)


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Tall()


async def test_set_scroll_range_gives_the_scroll_range_without_a_layout() -> None:
    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one(Tall)
        assert view.max_scroll_y == 0
        compat.set_scroll_range(view, Size(view.size.width, 500))
        # At once, with no layout in between: the scrollbar already spans the new range.
        assert view.show_vertical_scrollbar
        assert view.vertical_scrollbar.window_virtual_size == 500
        await pilot.pause()
        assert view.virtual_size.height == 500
        assert view.max_scroll_y > 400
        view.scroll_to(y=450, animate=False, immediate=True)
        assert view.scroll_offset.y == 450


class Ticking(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Tall()


class Crowded(Screen[None]):
    def compose(self) -> ComposeResult:
        for _ in range(40):
            yield Tall()


async def test_a_screens_timer_stops_calling_back_the_moment_it_is_being_removed() -> None:
    """From the moment a popped screen is being removed, its ticks are skipped: its widgets go with it."""
    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        screen = Ticking()
        await app.push_screen(screen)
        found: list[int] = []
        tick = compat.unless_removing(screen, lambda: found.append(len(screen.query(Tall))))
        tick()
        assert found == [1]
        app.pop_screen()
        skipped = 0
        while screen.is_attached:
            before = len(found)
            tick()
            skipped += len(found) == before
            await pilot.pause(0)
        before = len(found)
        tick()
        skipped += len(found) == before
        assert 0 not in found, "called back with the screen's widgets already gone"
        assert skipped, "never skipped once the screen was being removed"
        assert isinstance(app.screen, Screen) and app.screen is not screen


async def test_a_kept_screens_timer_stops_calling_back_when_the_app_exits() -> None:
    """At exit Textual closes an installed screen that is not shown, and its widgets, in no set order:
    a tick of the screen's in between found some of its widgets gone. Ticking every millisecond through
    the exit of a screen of 40 widgets."""
    found: list[int] = []
    for _ in range(10):
        app = Host()
        async with app.run_test(size=(40, 10)) as pilot:
            screen = Crowded()
            app.install_screen(screen, "kept")
            await app.push_screen("kept")
            count = compat.unless_removing(screen, lambda s=screen: found.append(len(s.query(Tall))))
            screen.set_interval(0.001, count)
            app.pop_screen()
            await pilot.pause(0.02)
        assert found and set(found) == {40}, sorted(set(found))
