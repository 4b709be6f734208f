"""The spool file on its own: fsync'd appends, order, offsets across a restart, torn last lines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.ledger import RoundKey
from monitor.store.spool import Spool
from tests.factories import T0, make_trace, reasoning_trace


def test_appended_traces_come_back_in_order_with_their_round(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    traces = [make_trace(f"s{i}", started_at=T0 + timedelta(seconds=i)) for i in range(3)]
    traces.append(reasoning_trace(started_at=T0 + timedelta(seconds=9)))
    for i, t in enumerate(traces):
        spool.append(t, RoundKey(7, i, "groq") if i % 2 else None)
    assert spool.depth == 4
    pending = spool.pending()
    assert [p.trace for p in pending] == traces
    assert [p.round for p in pending] == [
        None,
        RoundKey(7, 1, "groq"),
        None,
        RoundKey(7, 3, "groq"),
    ]


def test_committed_offset_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append(make_trace(f"s{i}"))
    first_two = spool.pending(2)
    spool.commit(first_two[-1].end)
    reopened = Spool(tmp_path)  # a daemon restart
    assert reopened.depth == 3
    assert [p.trace.probe_id for p in reopened.pending()] == ["s2", "s3", "s4"]


def test_spool_is_emptied_when_everything_is_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(make_trace("a"))
    spool.append(make_trace("b"))
    pending = spool.pending()
    spool.commit(pending[-1].end)
    assert spool.depth == 0
    assert spool.path.stat().st_size == 0
    assert Spool(tmp_path).depth == 0
    spool.append(make_trace("c"))
    assert [p.trace.probe_id for p in Spool(tmp_path).pending()] == ["c"]


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    """A crash mid-append leaves half a line, never acknowledged: it must not break replay."""
    spool = Spool(tmp_path)
    spool.append(make_trace("whole"))
    with spool.path.open("ab") as f:
        f.write(b'{"round":null,"trace":{"format":"etal')
    reopened = Spool(tmp_path)
    assert reopened.depth == 1
    assert [p.trace.probe_id for p in reopened.pending()] == ["whole"]
    reopened.append(make_trace("next"))
    assert [p.trace.probe_id for p in Spool(tmp_path).pending()] == ["whole", "next"]
