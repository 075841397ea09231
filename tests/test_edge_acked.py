"""A hub's ``acked`` can only move what an edge owes for sessions the edge has: it cannot make the edge keep more.

The ledger runs beside a real relay and a ``Recorder`` writing real files, as
``serve --upstream`` wires them (``test_owed.Edge``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_owed import Edge, said


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    e = Edge(tmp_path, cap=10**9)
    yield e
    e.stop()


@pytest.mark.timeout(60)
def test_acked_for_sessions_the_edge_never_had_is_not_kept(edge: Edge) -> None:
    """A hub may name any number of sessions in one frame: only the edge's own are worth remembering."""
    edge.feed.send(said("S", 0, 10))
    edge.recorded("S", 10)
    edge.ledger.ack({**{f"never-{i}": 5 for i in range(200_000)}, "S": 4})
    assert edge.ledger.acked == {"S": 4}
    assert edge.ledger.owed_from("S") == 4, "the edge's own session still moves"
    edge.ledger.ack({"S": 2, "never-0": 9})
    assert edge.ledger.acked == {"S": 4}, "an ack never moves back, nor adds a stranger"
