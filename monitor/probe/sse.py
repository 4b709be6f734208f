"""Incremental Server-Sent Events framing (WHATWG rules), fed raw network reads.

Reads split anywhere: an event may straddle reads (even inside a multi-byte UTF-8 character or
between the `\\r` and `\\n` of a line end), one read may hold several events. Lines end in `\\n`,
`\\r\\n` or `\\r`; `:` lines are comments (keep-alives); several `data:` lines join with `\\n`.
Reads with no line end in them are only collected (joined once the line ends), so a long line
costs linear time, not a rescan and a copy of the whole buffer per read. `max_event_chars` caps
what one event (or one unfinished line) may hold: past it the parser sets `overflow`, frees its
buffers and ignores the rest of the stream, so a hostile endless line costs at most that much
memory. Each event remembers which read completed it, so its arrival time is that read's stamp.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Final

_LINE_END: Final = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str | None = None


class SseParser:
    """Feed bytes with `feed()`; complete events come back in order."""

    def __init__(self, max_event_chars: int | None = None) -> None:
        self._limit = max_event_chars
        self.overflow = False
        """An event or line grew past `max_event_chars`; the stream is no longer parsed."""
        self._parts_chars = 0
        self._data_chars = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._parts: list[str] = []
        """Reads after `_buf` that hold no line end (a long line still arriving)."""
        self._data: list[str] = []
        self._event: str | None = None
        self._has_field = False
        self.comments = 0
        """Comment lines seen (keep-alives)."""

    def feed(self, raw: bytes) -> list[SseEvent]:
        if self.overflow:
            return []
        text = self._decoder.decode(raw)
        limit = self._limit
        if self._parts or (self._buf and not self._buf.endswith("\r")):
            if "\n" not in text and "\r" not in text:
                self._parts.append(text)  # the line goes on: nothing to parse yet
                self._parts_chars += len(text)
                if limit is not None and len(self._buf) + self._parts_chars > limit:
                    self._overflowed()
                return []
            self._join()
        elif (
            not self._buf
            and not self._has_field
            and text.endswith("\n\n")
            and "\r" not in text
            and (limit is None or len(text) <= limit)
        ):
            return self._whole_events(text)
        self._buf += text
        out = self._drain(final=False)
        if limit is not None and len(self._buf) > limit:
            self._overflowed()
        return out

    def _overflowed(self) -> None:
        self.overflow = True
        self._buf = ""
        self._parts = []
        self._parts_chars = 0
        self._data = []
        self._data_chars = 0

    def _join(self) -> None:
        if self._parts:
            self._buf += "".join(self._parts)
            self._parts = []
            self._parts_chars = 0

    def _whole_events(self, text: str) -> list[SseEvent]:
        """Fast path for the usual read: complete `\n`-terminated events, nothing buffered."""
        out: list[SseEvent] = []
        for block in text[:-2].split("\n\n"):
            if block.startswith("data: ") and "\n" not in block:
                out.append(SseEvent(block[6:], None))
                continue
            for line in block.split("\n"):
                self._line(line, out)
            if self.overflow:
                return out
            self._line("", out)
        return out

    def close(self) -> list[SseEvent]:
        """End of stream: finish a pending line; an event without its blank line is dropped."""
        if self.overflow:
            return []
        self._join()
        self._buf += self._decoder.decode(b"", final=True)
        return self._drain(final=True)

    @property
    def pending(self) -> bool:
        """Bytes or fields of an unfinished event are buffered."""
        return bool(self._buf) or bool(self._parts) or self._has_field

    def _drain(self, *, final: bool) -> list[SseEvent]:
        out: list[SseEvent] = []
        buf = self._buf
        pos = 0
        size = len(buf)
        while pos < size:
            match = _LINE_END.search(buf, pos)
            if match is None:
                if final:
                    self._line(buf[pos:], out)
                    pos = size
                break
            if match.group() == "\r" and match.end() == size and not final:
                break  # may be the first half of \r\n
            self._line(buf[pos : match.start()], out)
            if self.overflow:
                return out
            pos = match.end()
        self._buf = buf[pos:]
        if final:
            self._data = []
            self._data_chars = 0
            self._event = None
            self._has_field = False
        return out

    def _line(self, line: str, out: list[SseEvent]) -> None:
        if not line:
            if self._has_field:
                if self._data:
                    out.append(SseEvent("\n".join(self._data), self._event))
                self._data = []
                self._data_chars = 0
                self._event = None
                self._has_field = False
            return
        if line[0] == ":":
            self.comments += 1
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_chars += len(value) + 1
            self._has_field = True
            if self._limit is not None and self._data_chars > self._limit:
                self._overflowed()
        elif name == "event":
            self._event = value
            self._has_field = True
        # id, retry and unknown field names are ignored, as the spec says
