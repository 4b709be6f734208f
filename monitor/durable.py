"""One durable append-only log: fsync'd JSON lines, under both the spool and the round journal.

A line is acknowledged when `append` returns: written whole and fsync'd. What can go wrong, and
what this module does about it (so its two users do not each half-handle it):

- **A failed write** (ENOSPC, EDQUOT, EIO) may leave part of a line behind; the next line would be
  glued onto it and the pair would be lost. So before each append the file is cut back to the end
  of the last acknowledged line, and a failed append is cut back at once; the caller gets
  `LogWriteError` (with `disk_full`) and nothing of that record is in the file.
- **A crash mid-append** leaves a torn last line, never acknowledged: cut when the log is opened.
- **A corrupt line anywhere** (a glued line from an older version, a disk error): reading skips it,
  copies it to the quarantine file beside the log and counts it, instead of failing every replay.
- **Consumption** is a byte offset kept in memory and in `<file>.offset` (replaced atomically).
  When the offset cannot be written (the disk is full), the in-memory offset stays authoritative
  for this process; after a restart the consumer sees those records again, so consumers must be
  idempotent (the spool's ingest is; the journal recognises its own claims). Once every record is
  consumed the file is truncated to zero, which needs no free space and frees it.

Everything here is blocking I/O: callers on an event loop run it with `asyncio.to_thread` (fsync
takes milliseconds, and seconds on a busy disk), serialising their own appends so the order of
lines is the order of calls. A thread lock makes each call atomic.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

READ_BLOCK: Final = 1 << 20
FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


class LogWriteError(Exception):
    """A record could not be made durable; nothing of it is left in the log."""

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        self.errno = error.errno
        self.disk_full = error.errno in FULL_ERRNOS
        reason = error.strerror or type(error).__name__
        super().__init__(f"{'disk full' if self.disk_full else 'cannot write'}: {path}: {reason}")


@dataclass(frozen=True, slots=True)
class Entry:
    record: dict[str, Any]
    start: int
    """Byte offset of this record's line (what `quarantine` takes)."""
    end: int
    """Byte offset just past this record's line (what `commit` takes)."""


def encode(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AppendLog:
    """An append-only JSONL file, the offset consumed so far, and a quarantine for bad lines."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.offset_path = path.with_name(path.name + ".offset")
        self.quarantine_path = path.with_name(path.name + ".corrupt")
        self.quarantined = 0
        """Lines set aside by this process because they were not a JSON object."""
        self._lock = threading.Lock()
        self._bad: set[int] = set()
        """Start offsets of lines already quarantined (skipped silently when read again)."""
        self._size = self._cut_torn_tail()
        self._consumed = min(self._read_offset(), self._size)
        self._lines = self._count(self._consumed, self._size)

    # ----------------------------------------------------------------- state

    @property
    def size(self) -> int:
        """Bytes of acknowledged lines."""
        return self._size

    @property
    def consumed(self) -> int:
        return self._consumed

    @property
    def pending(self) -> bool:
        return self._consumed < self._size

    @property
    def lines(self) -> int:
        """Lines not consumed yet (a bad one counts until it is read and skipped)."""
        return self._lines

    def _read_offset(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _cut_torn_tail(self) -> int:
        """Cut half a line left by a crash mid-append (never acknowledged); returns the size."""
        try:
            f = self.path.open("r+b")
        except FileNotFoundError:
            return 0
        with f:
            end = f.seek(0, os.SEEK_END)
            position = end
            while position > 0:
                step = min(64 * 1024, position)
                f.seek(position - step)
                newline = f.read(step).rfind(b"\n")
                if newline >= 0:
                    position = position - step + newline + 1
                    break
                position -= step
            if position != end:
                log.warning("%s: cut a torn last line (%d bytes)", self.path, end - position)
                f.truncate(position)
                os.fsync(f.fileno())
            return position

    # ----------------------------------------------------------------- writes

    def append(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append records as one write and fsync; returns the new end offset.

        Raises `LogWriteError` when they cannot be made durable; the file is then as it was.
        """
        encoded = [encode(r) for r in records]
        data = b"".join(encoded)
        with self._lock:
            good = self._size
            created = not self.path.exists()
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            except OSError as e:
                raise LogWriteError(self.path, e) from None
            try:
                if os.fstat(fd).st_size != good:
                    os.ftruncate(fd, good)  # what a failed write left: never glue onto it
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError as e:
                # if this fails too, the next append (above) or the next open cuts it
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, good)
                raise LogWriteError(self.path, e) from None
            finally:
                os.close(fd)
            self._size = good + len(data)
            self._lines += len(encoded)
        if created:
            try:
                _fsync_dir(self.path.parent)
            except OSError as e:  # the lines are written; only the new name may not be durable
                log.warning("%s: directory not synced: %s", self.path, e.strerror)
        return self._size

    def commit(self, end: int) -> None:
        """Mark everything before byte `end` consumed; empty the file when nothing is left."""
        with self._lock:
            end = min(end, self._size)
            if end <= self._consumed:
                return
            self._lines -= self._count(self._consumed, end)
            self._consumed = end
            if self._consumed >= self._size:
                try:
                    with self.path.open("r+b") as f:
                        f.truncate(0)
                        os.fsync(f.fileno())
                except FileNotFoundError:
                    pass
                except OSError as e:
                    log.warning("%s: not emptied (%s); offset kept", self.path, e.strerror)
                    self._write_offset()
                    return
                self._size = self._consumed = self._lines = 0
                self._bad.clear()
                self.offset_path.unlink(missing_ok=True)
                return
            self._write_offset()

    def _write_offset(self) -> None:
        tmp = self.offset_path.with_name(self.offset_path.name + ".tmp")
        try:
            with tmp.open("w") as f:
                f.write(str(self._consumed))
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.offset_path)
            _fsync_dir(self.path.parent)
        except OSError as e:
            # kept in memory: after a restart these records are read again (consumers are
            # idempotent), which is better than stopping here
            log.warning("%s: consumed offset not saved (%s)", self.path, e.strerror)
            tmp.unlink(missing_ok=True)

    # ----------------------------------------------------------------- reads

    def read(self, limit: int | None = None) -> list[Entry]:
        """The oldest records not consumed, in order; bad lines are quarantined and skipped."""
        out: list[Entry] = []
        with self._lock:
            start, stop = self._consumed, self._size
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return out
        with f:
            f.seek(start)
            position = start
            while position < stop and (limit is None or len(out) < limit):
                raw = f.readline(stop - position)
                if not raw.endswith(b"\n"):
                    break  # cannot happen below `stop`, but never read past an acknowledged line
                begin, position = position, position + len(raw)
                record = self._parse(raw, begin)
                if record is not None:
                    out.append(Entry(record, begin, position))
        if not out and position > start:
            self.commit(position)  # nothing but bad lines: step over them
        return out

    def _parse(self, raw: bytes, begin: int) -> dict[str, Any] | None:
        if begin in self._bad:
            return None
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if isinstance(record, dict):
            return record
        self.quarantine(raw, begin, "not a JSON object")
        return None

    def quarantine(self, raw: bytes, begin: int, why: str) -> None:
        """Set a line aside (copied to the quarantine file) so it cannot block the rest."""
        self._bad.add(begin)
        self.quarantined += 1
        log.error(
            "%s: line at byte %d skipped (%s); kept in %s",
            self.path,
            begin,
            why,
            self.quarantine_path.name,
        )
        try:
            with self.quarantine_path.open("ab") as f:
                f.write(raw if raw.endswith(b"\n") else raw + b"\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            log.error("%s: quarantine not written (%s)", self.quarantine_path, e.strerror)

    def _count(self, start: int, stop: int) -> int:
        """Newlines in `[start, stop)` of the file."""
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return 0
        with f:
            f.seek(start)
            lines, left = 0, stop - start
            while left > 0:
                block = f.read(min(READ_BLOCK, left))
                if not block:
                    break
                lines += block.count(b"\n")
                left -= len(block)
            return lines
