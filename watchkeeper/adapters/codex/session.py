"""What ``session.started`` says about a Codex thread, gathered from the records that tell it.

``session_meta`` (line 1) gives the id, cwd, version and parent link; the model
and policies come from ``turn_context`` (or ``thread_settings_applied`` /
``world_state``), and the title from the first real prompt, a few lines later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ...protocol import OBSERVE_ONLY, Isolation, Profile
from ...protocol.codec import as_text

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def session_from_path(path: Path | None) -> str:
    """The thread id in ``rollout-<time>-<uuid>.jsonl``; the file's stem otherwise."""
    if path is None:
        return "unknown"
    found = _UUID.findall(path.name)
    return found[-1] if found else path.stem


class StartFacts:
    """Everything ``session.started`` carries, filled in as records arrive."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.approval: str | None = None
        self.sandbox: str | None = None
        self.title: str | None = None
        self.model: str | None = None

    def read_meta(self, p: dict[str, Any]) -> None:
        self.meta.update(
            cwd=as_text(p.get("cwd")),
            version=as_text(p.get("cli_version")),
            originator=as_text(p.get("originator")),
            session_source=p.get("source"),
            model_provider=as_text(p.get("model_provider")),
            git=p.get("git"),
            forked_from=as_text(p.get("forked_from_id")),
        )
        self.meta.update(spawn_info(p))
        if isinstance(p.get("model"), str):
            self.model = p["model"]

    def read_settings(self, p: dict[str, Any], snapshot: bool = False) -> None:
        """turn_context, thread_settings_applied, world_state: the model, cwd and policies in force.

        ``snapshot`` (world_state, the harness's view) fills in only what no turn said yet.
        """
        settings = p.get("thread_settings") or p.get("state") or p
        if not isinstance(settings, dict):
            return
        model = settings.get("model")
        mode = settings.get("collaboration_mode")
        if not isinstance(model, str) and isinstance(mode, dict) and isinstance(mode.get("settings"), dict):
            model = mode["settings"].get("model")
        if isinstance(model, str) and model and not (snapshot and self.model):
            self.model = model
        if isinstance(settings.get("cwd"), str) and not self.meta.get("cwd"):
            self.meta["cwd"] = settings["cwd"]
        if isinstance(settings.get("approval_policy"), str):
            self.approval = settings["approval_policy"]
        sandbox = settings.get("sandbox_policy")
        if isinstance(sandbox, dict) and isinstance(sandbox.get("type"), str):
            self.sandbox = sandbox["type"]

    def data(self, agent_kind: str, source: str | None) -> dict[str, Any]:
        meta = self.meta
        profile = Profile(
            autonomy="run-to-done" if self.approval in (None, "never") else "pauses",
            coordination="orchestrated" if meta.get("parent_session") else "single",
            observability=OBSERVE_ONLY,
            isolation=Isolation(cwd=meta.get("cwd"), permission_mode=self.approval, sandbox=self.sandbox),
        )
        data = {
            "agent_kind": agent_kind,
            "title": self.title or sub_agent_title(meta),
            "cwd": meta.get("cwd"),
            "model": self.model,
            "version": meta.get("version"),
            "source": source,
            "capabilities": OBSERVE_ONLY.model_dump(mode="json"),
            "profile": profile.model_dump(mode="json"),
        }
        data.update((k, v) for k, v in meta.items() if k not in data and v is not None)
        return data


def sub_agent_title(meta: dict[str, Any]) -> str | None:
    """A sub-agent's thread has no prompt of its own to be titled by (its task comes from its parent,
    encrypted): ``Wegener (/root/counter)``."""
    path, nickname = meta.get("agent_path"), meta.get("agent_nickname")
    if not path and not nickname:
        return None
    return f"{nickname} ({path})" if nickname and path else str(path or nickname)


def spawn_info(meta: dict[str, Any]) -> dict[str, Any]:
    """The parent link of a sub-agent thread.

    ``source`` is ``"cli"``/``"exec"``/… for a main thread, and for a sub-agent
    an object such as ``{"subagent": {"thread_spawn": {"parent_thread_id", "agent_path",
    "agent_nickname", "agent_role", "depth"}}}`` or ``{"subagent": "review"}``;
    newer versions also write ``parent_thread_id`` at the top level.
    """
    out: dict[str, Any] = {}
    stack: list[Any] = [meta.get("source")]
    for _ in range(8):
        if not stack:
            break
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if node.get("parent_thread_id"):
            out["parent_session"] = node["parent_thread_id"]
            out.update(
                (k, node[k])
                for k in ("agent_path", "agent_nickname", "agent_role", "depth")
                if node.get(k) is not None
            )
        if isinstance(node.get("subagent"), str):
            out["subagent"] = node["subagent"]
        stack.extend(v for v in node.values() if isinstance(v, dict))
    if meta.get("parent_thread_id"):
        out["parent_session"] = meta["parent_thread_id"]
    return out
