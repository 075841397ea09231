"""The ``parentUuid`` tree of a transcript, used only to find abandoned branches.

Events are rendered in file order. A rewind (or an edited earlier prompt)
writes a new prompt whose parent already has a child leading to more
conversation; everything under that older child is an abandoned branch.
Forks without conversation below them are normal (parallel tool results hang
off their own tool_use lines, hook and progress records hang off the turn).

Kept cheap because every record passes through it: a prompt whose parent is
the record just before it cannot be a rewind, so the index of children is
built only the first time one is not, and kept up to date from then on.
"""

from __future__ import annotations


class Tree:
    __slots__ = ("_abandoned", "_children", "_conversation", "_last", "_previous", "parents")

    def __init__(self) -> None:
        self.parents: dict[str, str | None] = {}
        self._conversation: set[str] = set()
        self._children: dict[str, list[str]] | None = None
        self._abandoned: set[str] = set()
        self._last: str | None = None
        self._previous: str | None = None

    def add(self, uuid: str, parent: str | None, conversation: bool) -> None:
        last = self._last
        if parent == last:
            parent = last  # the same string as a key already held, not a second copy of it
        self.parents[uuid] = parent
        self._previous, self._last = last, uuid
        if conversation:
            self._conversation.add(uuid)
        if self._children is not None and parent is not None:
            self._children.setdefault(parent, []).append(uuid)

    def rewound(self, prompt_uuid: str) -> tuple[str | None, list[str]]:
        """For a prompt just added: (fork point, uuids of the branches it abandons), depth first."""
        parent = self.parents.get(prompt_uuid)
        if parent is None or parent == self._previous:
            return None, []
        children = self._children
        if children is None:
            children = self._children = {}
            for uuid, up in self.parents.items():
                if up is not None:
                    children.setdefault(up, []).append(uuid)
        abandoned: list[str] = []
        for sibling in children.get(parent, ()):
            if sibling == prompt_uuid or sibling in self._abandoned:
                continue
            branch = self._subtree(sibling, children)
            if any(u in self._conversation for u in branch):
                abandoned.extend(branch)
        self._abandoned.update(abandoned)
        return (parent if abandoned else None), abandoned

    @staticmethod
    def _subtree(root: str, children: dict[str, list[str]]) -> list[str]:
        out: list[str] = []
        stack = [root]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(children.get(node, ())))
        return out
