"""The ``parentUuid`` tree of a transcript: which uuids were seen, and the abandoned branches.

Events are rendered in file order. A rewind (or an edited earlier prompt)
writes a new prompt whose parent already has a child leading to more
conversation; everything under that older child is an abandoned branch.
Forks without conversation below them are normal (parallel tool results hang
off their own tool_use lines, hook and progress records hang off the turn).

Every record passes through it and it lives as long as its converter, so it
is kept in flat buffers: each record is a number (its place among the records
with a uuid), its uuid's 36 bytes in one buffer with an open-addressed index
of them beside (as ``keys.KeyTable`` does), its parent's number in an array
and whether it is conversation in a byte: ~55 bytes a record instead of ~200
as strings in dicts and sets. A parent that is not (yet) a record is a
*ghost*, numbered ``-2, -3, …``; the record that later has its uuid stands for
it from then on. A prompt whose parent is the record just before it cannot be
a rewind, so the links to children are built only the first time one is not,
and kept up to date from then on. The index is sized up front for the records
the converter expects from the file's size: growing it places every record
again in a Python loop, and with the probe written out in ``add`` that was a
quarter of what adding a record cost (a 200 MB file: 1.0 -> 0.64 µs a record;
uuids in a dict and a set took 0.34).
"""

from __future__ import annotations

from array import array

from .keys import index_size

#: The parent of a record without one.
NONE = -1
#: The bytes of a uuid (``8-4-4-4-12`` hex digits): such keys are kept at ``WIDTH * record`` in one buffer.
WIDTH = 36
_FILLER = bytes(WIDTH)
_LOW32 = 0xFFFFFFFF


class Tree:
    __slots__ = ("_abandoned", "_aliases", "_blob", "_conversation", "_first", "_ghost_kids", "_ghosts", "_hashes",
                 "_last_uuid", "_mask", "_next", "_odd", "_odd_names", "_slots", "_tail", "_up")

    def __init__(self, expected: int = 0) -> None:
        """``expected``: about how many records will come (the index is sized for them at once: growing it
        places every record again, in Python)."""
        #: record -> its uuid's bytes, at ``WIDTH * record`` (zeros for the others, in ``_odd``)
        self._blob = bytearray()
        #: record -> the low 32 bits of its uuid's hash; an open-addressed index of the records by it
        self._hashes = array("I")
        size = index_size(expected)
        self._slots = array("i", [NONE]) * size
        self._mask = size - 1
        #: uuids of another length: uuid -> record, record -> uuid
        self._odd: dict[str, int] = {}
        self._odd_names: dict[int, str] = {}
        #: record -> its parent: a record, ``NONE``, or a ghost
        self._up = array("i")
        self._conversation = bytearray()
        #: parents not records when first named -> their ghost numbers; a ghost -> its record once that came
        self._ghosts: dict[str, int] = {}
        self._aliases: dict[int, int] = {}
        #: links to children, once a rewind is possible: record -> first and last child, record -> next sibling;
        #: a ghost's children in a list.
        self._first: array[int] | None = None
        self._tail: array[int] | None = None
        self._next: array[int] | None = None
        self._ghost_kids: dict[int, list[int]] = {}
        self._abandoned = bytearray()
        #: the uuid of the record added last (records are numbered in order: it is ``len(self) - 1``)
        self._last_uuid: str | None = None

    def __len__(self) -> int:
        return len(self._up)

    @property
    def last(self) -> int:
        """The number of the record added last."""
        return len(self._up) - 1

    def add(self, uuid: str, parent: str | None, conversation: bool) -> bool:
        """Add a record; False (and nothing added) if a record with this uuid came before."""
        ups = self._up
        me = len(ups)
        data = uuid.encode("utf-8", "surrogatepass")
        if len(data) == WIDTH:
            # The probe, written out here: every record passes, and a call would cost a third of it.
            h = hash(uuid) & _LOW32
            slots, mask = self._slots, self._mask
            i = h & mask
            j = slots[i]
            while j >= 0:
                if self._hashes[j] == h and self._blob.startswith(data, WIDTH * j):
                    return False
                i = (i + 1) & mask
                j = slots[i]
            slots[i] = me
            self._blob += data
            self._hashes.append(h)
            if 2 * me >= mask:
                self._grow()
        else:
            if uuid in self._odd:
                return False
            self._odd[uuid] = me
            self._odd_names[me] = uuid
            self._blob += _FILLER
            self._hashes.append(0)
        if parent is None:
            up = NONE
        elif parent == self._last_uuid:
            up = me - 1
        else:
            up = self._find(parent)
            if up == NONE:
                up = self._ghost(parent)
        ghost = self._ghosts.get(uuid) if self._ghosts else None
        if ghost is not None:
            self._aliases[ghost] = me
        ups.append(up)
        self._conversation.append(conversation)
        self._last_uuid = uuid
        if self._first is not None:
            self._added(me, up, ghost)
        return True

    def uuid(self, record: int) -> str:
        name = self._odd_names.get(record) if self._odd_names else None
        if name is not None:
            return name
        return self._blob[WIDTH * record:WIDTH * (record + 1)].decode("utf-8", "surrogatepass")

    def _find(self, uuid: str) -> int:
        """The record with this uuid, or ``NONE``."""
        data = uuid.encode("utf-8", "surrogatepass")
        if len(data) != WIDTH:
            return self._odd.get(uuid, NONE)
        return self._probe(data, hash(uuid) & _LOW32)[1]

    def _probe(self, data: bytes, h: int) -> tuple[int, int]:
        """(the slot, the record) for the uuid of bytes ``data`` (``WIDTH`` of them) and hash ``h``; the
        record -1 and the free slot it would take if no record has it."""
        slots, mask, hashes, blob = self._slots, self._mask, self._hashes, self._blob
        i = h & mask
        j = slots[i]
        while j >= 0:
            if hashes[j] == h and blob.startswith(data, WIDTH * j):
                return i, j
            i = (i + 1) & mask
            j = slots[i]
        return i, -1

    def _grow(self) -> None:
        """Twice the slots (at most half of them used), every record placed again by its stored hash."""
        size = 2 * (self._mask + 1)
        mask = size - 1
        slots = array("i", [NONE]) * size
        odd = self._odd_names
        for j, h in enumerate(self._hashes):
            if odd and j in odd:
                continue
            i = h & mask
            while slots[i] >= 0:
                i = (i + 1) & mask
            slots[i] = j
        self._slots, self._mask = slots, mask

    def rewound(self, prompt_uuid: str) -> tuple[str | None, list[int]]:
        """For a prompt just added: (fork point, records of the branches it abandons), depth first."""
        me = len(self._up) - 1 if prompt_uuid == self._last_uuid else self._find(prompt_uuid)
        if me < 0:
            return None, []
        parent = self._resolve(self._up[me])
        if parent == NONE or parent == len(self._up) - 2:  # the record before the last one
            return None, []
        if self._first is None:
            self._build()
        abandoned: list[int] = []
        gone = self._abandoned
        for sibling in self._children(parent):
            if sibling == me or (sibling < len(gone) and gone[sibling]):
                continue
            branch = self._subtree(sibling)
            if any(self._conversation[r] for r in branch):
                abandoned.extend(branch)
        if not abandoned:
            return None, []
        if len(gone) < len(self._up):
            gone.extend(bytes(len(self._up) - len(gone)))
        for r in abandoned:
            gone[r] = 1
        return self._name(parent), abandoned

    # --- parents that are not records ----------------------------------------------

    def _ghost(self, parent: str) -> int:
        ghost = self._ghosts.get(parent)
        if ghost is None:
            ghost = self._ghosts[parent] = -2 - len(self._ghosts)
        return ghost

    def _resolve(self, up: int) -> int:
        return self._aliases.get(up, up) if up < NONE else up

    def _name(self, node: int) -> str:
        if node >= 0:
            return self.uuid(node)
        return next(name for name, ghost in self._ghosts.items() if ghost == node)

    # --- links to children ---------------------------------------------------------

    def _build(self) -> None:
        """The links for every record so far, each under its parent in file order."""
        n = len(self._up)
        self._first = array("i", [NONE]) * n
        self._tail = array("i", [NONE]) * n
        self._next = array("i", [NONE]) * n
        for record, up in enumerate(self._up):
            self._link(record, up)

    def _added(self, record: int, up: int, ghost: int | None) -> None:
        """Keep the links up to date for a record just added (``ghost``: the ghost it stands for)."""
        assert self._first is not None and self._tail is not None and self._next is not None
        self._first.append(NONE)
        self._tail.append(NONE)
        self._next.append(NONE)
        if ghost is not None:
            for child in self._ghost_kids.pop(ghost, ()):
                self._link(child, record)
        self._link(record, up)

    def _link(self, record: int, up: int) -> None:
        up = self._resolve(up)
        if up == NONE:
            return
        if up < NONE:
            self._ghost_kids.setdefault(up, []).append(record)
            return
        first, tail, nxt = self._first, self._tail, self._next
        assert first is not None and tail is not None and nxt is not None
        if tail[up] == NONE:
            first[up] = record
        else:
            nxt[tail[up]] = record
        tail[up] = record

    def _children(self, node: int) -> list[int]:
        if node < NONE:
            return list(self._ghost_kids.get(node, ()))
        assert self._first is not None and self._next is not None
        out: list[int] = []
        child = self._first[node]
        while child != NONE:
            out.append(child)
            child = self._next[child]
        return out

    def _subtree(self, root: int) -> list[int]:
        """``root`` and everything under it, depth first (each once: a crafted file may link in a loop)."""
        out: list[int] = []
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            out.append(node)
            stack.extend(reversed(self._children(node)))
        return out
