"""SSE framing: events split anywhere, merged reads, line endings, comments, huge events."""

from __future__ import annotations

from monitor.probe.sse import SseEvent, SseParser


def feed_all(parts: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
    out: list[SseEvent] = []
    for part in parts:
        out.extend(parser.feed(part))
    out.extend(parser.close())
    return out


STREAM = b'data: {"a": 1}\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\n'


def test_sse_event_split_across_reads_at_every_byte() -> None:
    whole = feed_all([STREAM])
    assert [e.data for e in whole] == ['{"a": 1}', "{}", "[DONE]"]
    assert whole[1].event == "ping"
    for cut in range(1, len(STREAM)):
        split = feed_all([STREAM[:cut], STREAM[cut:]])
        assert [(e.data, e.event) for e in split] == [(e.data, e.event) for e in whole], cut


def test_an_event_completed_by_a_later_read_comes_out_whole() -> None:
    events = feed_all([b"data: first half", b" and the rest\n", b"\n"])
    assert [e.data for e in events] == ["first half and the rest"]


def test_crlf_and_lone_cr_line_endings() -> None:
    events = feed_all([b"data: a\r\n\r\ndata: b\r\rdata: c\n\n"])
    assert [e.data for e in events] == ["a", "b", "c"]


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    """A `\\r` at the end of a read must wait for a possible `\\n`, else the `\\n` would read as an
    empty line and dispatch a half event."""
    events = feed_all([b"data: a\r", b"\ndata: b\r\n\r\n"])
    assert [e.data for e in events] == ["a\nb"]


def test_comments_are_skipped_and_counted() -> None:
    parser = SseParser()
    events = parser.feed(b": keep-alive\n\n:OPENROUTER PROCESSING\n\ndata: x\n\n")
    assert [e.data for e in events] == ["x"]
    assert parser.comments == 2


def test_multi_line_data_joined_with_newline() -> None:
    events = feed_all([b"data: line one\ndata: line two\ndata:no space\n\n"])
    assert [e.data for e in events] == ["line one\nline two\nno space"]


def test_one_mebibyte_event_in_many_reads() -> None:
    payload = b"x" * (1 << 20)
    raw = b"data: " + payload + b"\n\n"
    parts = [raw[i : i + 65536] for i in range(0, len(raw), 65536)]
    events = feed_all(parts)
    assert len(events) == 1
    assert len(events[0].data) == 1 << 20


def test_utf8_character_split_across_reads() -> None:
    raw = "data: héllo ✓\n\n".encode()
    cut = raw.index("✓".encode()) + 1
    events = feed_all([raw[:cut], raw[cut:]])
    assert [e.data for e in events] == ["héllo ✓"]


def test_unterminated_event_is_dropped_at_close() -> None:
    parser = SseParser()
    assert parser.feed(b"data: done\n\ndata: half") == [SseEvent("done")]
    assert parser.pending
    assert parser.close() == []


def test_unknown_fields_and_garbage_lines_are_ignored() -> None:
    events = feed_all([b"id: 7\nretry: 10\nthis is not sse\ndata: ok\n\n"])
    assert [e.data for e in events] == ["ok"]


def test_an_event_longer_than_the_limit_sets_overflow_and_frees_the_buffer() -> None:
    p = SseParser(max_event_chars=1000)
    assert p.feed(b"data: short\n\n") == [SseEvent("short")]
    # a line that never ends, in 100-byte reads: overflow once past 1000 characters
    reads = [b"data: " + b"x" * 94] + [b"x" * 100] * 20
    for i, raw in enumerate(reads):
        assert p.feed(raw) == []
        if 100 * (i + 1) > 1000:
            assert p.overflow
            break
    else:
        raise AssertionError("no overflow")
    assert not p.pending  # nothing held
    assert p.feed(b"\n\ndata: later\n\n") == []  # the rest of the stream is not parsed
    assert p.close() == []


def test_many_data_lines_count_toward_the_event_limit() -> None:
    p = SseParser(max_event_chars=1000)
    out = p.feed(b"data: 123456789\n" * 99)  # 99 x 10 characters with their newlines: fine
    assert out == [] and not p.overflow
    p.feed(b"data: 123456789\n" * 2)
    assert p.overflow


def test_events_before_the_overflow_in_the_same_read_are_kept() -> None:
    p = SseParser(max_event_chars=100)
    out = p.feed(b"data: a\n\ndata: b\n\ndata: " + b"y" * 200)
    assert [e.data for e in out] == ["a", "b"]
    assert p.overflow
