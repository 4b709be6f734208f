"""The durable append-log on its own: whole lines only, bad lines quarantined anywhere, offsets.

The full-disk cases run on the 1 MiB tmpfs of `tests.fixtures.disk` (a real ENOSPC mid-write).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.durable import AppendLog, LogWriteError
from tests.fixtures.disk import PAGE, TinyDisk


def _ids(log: AppendLog) -> list[int]:
    return [e.record["i"] for e in log.read()]


def test_records_come_back_in_order_and_commit_empties_the_file(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "log.jsonl")
    log.append([{"i": 0}, {"i": 1}])
    log.append([{"i": 2}])
    assert (log.lines, _ids(log)) == (3, [0, 1, 2])
    first = log.read(limit=1)[0]
    log.commit(first.end)
    reopened = AppendLog(tmp_path / "log.jsonl")  # a restart keeps the consumed offset
    assert (reopened.lines, _ids(reopened)) == (2, [1, 2])
    reopened.commit(reopened.read()[-1].end)
    assert reopened.path.stat().st_size == 0 and not reopened.offset_path.exists()
    assert not reopened.pending


def test_a_corrupt_line_anywhere_is_quarantined_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    glued = b'{"i":1,"half":"writ{"i":2}\n'  # what a torn write with the next line glued looks like
    path.write_bytes(b'{"i":0}\n' + glued + b"[3]\n" + b'{"i":4}\n')
    log = AppendLog(path)
    assert log.lines == 4
    assert _ids(log) == [0, 4]
    assert log.quarantined == 2
    assert log.quarantine_path.read_bytes() == glued + b"[3]\n"
    assert _ids(log) == [0, 4]  # read again: skipped silently, quarantined once
    assert log.quarantined == 2
    log.commit(log.read()[-1].end)
    assert log.lines == 0


def test_only_bad_lines_left_are_stepped_over(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"i":0}\nnot json\n')
    log = AppendLog(path)
    log.commit(log.read()[0].end)
    assert log.read() == []
    assert (log.lines, log.pending) == (0, False)


def test_a_torn_last_line_is_cut_at_open(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"i":0}\n{"i":1,"tr')
    log = AppendLog(path)
    assert path.read_bytes() == b'{"i":0}\n'
    log.append([{"i": 1}])
    assert _ids(AppendLog(path)) == [0, 1]


def test_a_write_the_disk_refuses_leaves_nothing_behind(tiny_disk: TinyDisk) -> None:
    log = AppendLog(tiny_disk.root / "log.jsonl")
    log.append([{"i": 0}])
    before = log.path.read_bytes()
    tiny_disk.fill(free_pages=1)
    big = {"i": 1, "pad": "x" * (2 * PAGE)}  # needs 3 pages, 1 is free: a short write, ENOSPC
    with pytest.raises(LogWriteError) as refused:
        log.append([big])
    assert refused.value.disk_full and "disk full" in str(refused.value)
    assert log.path.read_bytes() == before  # cut back: the next line cannot be glued onto it
    assert log.lines == 1
    tiny_disk.free()
    log.append([{"i": 2}])
    assert [json.loads(line)["i"] for line in log.path.read_bytes().splitlines()] == [0, 2]


def test_an_offset_the_full_disk_refuses_is_kept_in_memory(tiny_disk: TinyDisk) -> None:
    log = AppendLog(tiny_disk.root / "log.jsonl")
    log.append([{"i": 0}, {"i": 1}, {"i": 2}])
    tiny_disk.fill(free_pages=0)
    log.commit(log.read(limit=1)[0].end)  # the offset file cannot be written
    assert not log.offset_path.exists()
    assert _ids(log) == [1, 2]  # this process goes on from memory
    assert _ids(AppendLog(log.path)) == [0, 1, 2]  # a restart reads it again (consumers dedupe)
    log.commit(log.read()[-1].end)  # everything consumed: truncation needs no space
    assert log.path.stat().st_size == 0
