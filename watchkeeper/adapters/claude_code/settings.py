"""A Claude Code settings file, edited the way its owner keeps it.

``hooks install``/``uninstall`` change only watchkeeper's own hook entries.
Everything else stays: the file's other keys, hooks and empty lists; its mode
and owner; a symlink into the person's dotfiles (the link's target is edited,
atomically where its directory allows). A file the owner made read-only, or
one whose ``hooks`` are not in the shape Claude Code reads, is refused with
one line that names the file and the key, and left as it is.

Uninstall restores what was there before install: ``before`` (from
:func:`remember`) names the event lists and the ``hooks`` object that existed,
so ``"PreToolUse": []`` or ``"hooks": {}`` survive a round trip.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson


class SettingsError(ValueError):
    """A settings file watchkeeper will not edit; the message names the file (and the key)."""


# --- shape ------------------------------------------------------------------------------


def shape_problem(settings: Any) -> str | None:
    """Why ``settings`` is not in the shape Claude Code reads its hooks in, naming the key; None if it is."""
    if not isinstance(settings, dict):
        return f"the settings are {_a(settings)}, not a JSON object"
    hooks = settings.get("hooks")
    if hooks is None:
        return None
    if not isinstance(hooks, dict):
        return f'"hooks" is {_a(hooks)}, not an object'
    for event, groups in hooks.items():
        key = f"hooks.{event}"
        if not isinstance(groups, list):
            return f'"{key}" is {_a(groups)}, not a list'
        for i, group in enumerate(groups):
            if not isinstance(group, dict):
                return f'"{key}[{i}]" is {_a(group)}, not an object'
            inner = group.get("hooks")
            if inner is not None and not isinstance(inner, list):
                return f'"{key}[{i}].hooks" is {_a(inner)}, not a list'
    return None


def _a(value: Any) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "a list",
             dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# --- the hook entries watchkeeper owns -----------------------------------------------------


#: The credential variable(s) that mark a hook entry as watchkeeper's (older installs sent another one),
#: or a test of the entry (Codex's command hooks).
TokenVars = str | tuple[str, ...] | Callable[[Any], bool]


def is_ours(hook: Any, token_var: TokenVars) -> bool:
    """A hook entry watchkeeper wrote: an http hook that sends a watchkeeper credential variable."""
    if callable(token_var):
        return bool(token_var(hook))
    if not (isinstance(hook, dict) and hook.get("type") == "http"):
        return False
    allowed = hook.get("allowedEnvVars") or []
    return any(var in allowed for var in ((token_var,) if isinstance(token_var, str) else token_var))


def remember(settings: dict[str, Any]) -> dict[str, Any]:
    """What uninstall needs to put back: whether ``hooks`` existed, and which event lists."""
    hooks = settings.get("hooks")
    return {"hooks": isinstance(hooks, dict), "events": sorted(hooks) if isinstance(hooks, dict) else []}


def remove_hooks(settings: dict[str, Any], token_var: TokenVars, before: dict[str, Any] | None = None,
                 keep: Iterable[str] = ()) -> dict[str, Any]:
    """``settings`` without watchkeeper's hooks; every other key and hook kept as it was.

    A list our hooks leave empty is dropped unless ``before`` (or ``keep``)
    says it was there; an empty ``hooks`` likewise. Lists that were empty
    already are always kept.
    """
    out = dict(settings)
    hooks = out.get("hooks")
    if not isinstance(hooks, dict):
        return out
    kept_events = set(keep) | set((before or {}).get("events") or [])
    kept: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            kept[event] = groups
            continue
        new_groups = []
        for group in groups:
            inner = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(inner, list):
                new_groups.append(group)
                continue
            rest = [h for h in inner if not is_ours(h, token_var)]
            if len(rest) == len(inner):
                new_groups.append(group)
            elif rest:
                new_groups.append({**group, "hooks": rest})
        if new_groups or not groups or event in kept_events:
            kept[event] = new_groups
    if kept or not hooks or (before or {}).get("hooks"):
        out["hooks"] = kept
    else:
        del out["hooks"]
    return out


def merge_hooks(settings: dict[str, Any], ours: dict[str, Any], token_var: TokenVars) -> dict[str, Any]:
    """``settings`` with ``ours`` in place of earlier watchkeeper hooks: installing twice changes nothing.

    Raises :class:`SettingsError` for settings not in the shape Claude Code reads.
    """
    problem = shape_problem(settings)
    if problem:
        raise SettingsError(problem)
    out = remove_hooks(settings, token_var, keep=ours)
    hooks = dict(out.get("hooks") or {})
    for event, groups in ours.items():
        hooks[event] = list(hooks.get(event) or []) + list(groups)
    out["hooks"] = hooks
    return out


def installed(settings: Any, token_var: TokenVars) -> dict[str, Any] | None:
    """What watchkeeper installed in ``settings`` (url, fail-closed, events), or None."""
    hooks = settings.get("hooks") if isinstance(settings, dict) else None
    if not isinstance(hooks, dict):
        return None
    found: dict[str, Any] = {"events": [], "url": None, "fail_closed": False}
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else []:
            inner = group.get("hooks") if isinstance(group, dict) else None
            for hook in inner if isinstance(inner, list) else []:
                if is_ours(hook, token_var):
                    found["events"].append(event)
                    found["url"] = found["url"] or hook.get("url")
                    found["fail_closed"] = found["fail_closed"] or hook.get("onFailure") == "block"
    return found if found["events"] else None


# --- the file ----------------------------------------------------------------------------


def read_settings(path: Path) -> dict[str, Any]:
    """The settings as they are; {} if the file does not exist. Never guesses at a broken or odd file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise SettingsError(f"cannot read {path}: {e.strerror}") from None
    if not raw.strip():
        return {}
    try:
        settings = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise SettingsError(f"{path} is not valid JSON ({e})") from None
    problem = shape_problem(settings)
    if problem:
        raise SettingsError(f"{path}: {problem}")
    return settings


def encode(settings: dict[str, Any]) -> bytes:
    """The formatting watchkeeper writes: two-space indent, a final newline."""
    return orjson.dumps(settings, option=orjson.OPT_INDENT_2) + b"\n"


def target_of(path: Path) -> Path:
    """The file an edit of ``path`` changes: ``path`` itself, or where its symlinks lead."""
    if not path.is_symlink():
        return path
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError) as e:
        raise SettingsError(f"cannot follow the symlink {path}: {e}") from None


def check_writable(path: Path) -> None:
    """Refuse a settings file its owner made read-only (by mode bits: root may write anything)."""
    target = target_of(path)
    try:
        st = target.stat()
    except FileNotFoundError:
        if path.is_symlink() and not target.parent.is_dir():
            raise SettingsError(f"{path} links to {target}, whose directory does not exist") from None
        return
    except OSError as e:
        raise SettingsError(f"cannot read {path}: {e.strerror}") from None
    where = f"{path} (a link to {target})" if target != path else str(path)
    if not st.st_mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise SettingsError(f"{where} is read-only; make it writable to change it")


def write_settings(path: Path, settings: dict[str, Any]) -> None:
    """Write ``settings`` through any symlink, keeping the file's mode and owner.

    A temporary file beside the target is renamed over it (atomic); if that
    directory is not writable, or the file cannot be replaced (a file
    bind-mounted into a container), it is rewritten in place.
    """
    check_writable(path)
    target = target_of(path)
    data = encode(settings)
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    if st is None and not path.is_symlink():
        target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o600
    tmp = target.with_name(f".{target.name}.watchkeeper-{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except PermissionError:
        if st is None:
            raise SettingsError(f"cannot create {target}: its directory is not writable") from None
        _rewrite_in_place(target, data)
        return
    except OSError as e:
        raise SettingsError(f"cannot write beside {target}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if st is None:
            raise SettingsError(f"cannot write {target}: {e.strerror}") from None
        _rewrite_in_place(target, data)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _rewrite_in_place(target: Path, data: bytes) -> None:
    try:
        with target.open("r+b") as f:
            f.write(data)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise SettingsError(f"cannot write {target}: {e.strerror}") from None


# --- settings: what the agent may not touch --------------------------------------


def deny_rules(directories: list[str]) -> list[str]:
    """``permissions.deny`` rules that keep Claude Code's own tools out of ``directories`` (absolute paths).

    ``//`` starts an absolute path in a Read/Edit rule; a Bash rule matches a
    command naming the directory anywhere. Deny rules win over every allow.
    """
    rules: list[str] = []
    for directory in dict.fromkeys(d.rstrip("/") for d in directories if d.startswith("/")):
        absolute = "/" + directory
        rules += [f"Read({absolute}/**)", f"Edit({absolute}/**)", f"Bash(*{directory}*)"]
    return rules


def merge_denials(settings: dict[str, Any], rules: list[str]) -> dict[str, Any]:
    """``settings`` with ``rules`` added to ``permissions.deny`` (the person's own rules kept, first)."""
    out = dict(settings)
    permissions = dict(out.get("permissions") or {}) if isinstance(out.get("permissions"), dict) else {}
    existing = permissions.get("deny")
    own = list(existing) if isinstance(existing, list) else []
    permissions["deny"] = own + [r for r in rules if r not in own]
    out["permissions"] = permissions
    return out
