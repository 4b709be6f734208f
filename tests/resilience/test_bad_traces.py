"""Malformed trace files for `analyze` and `import`: each fails with exit 2 and names its line.

(Other bad lines — wrong field types, out-of-order chunks, unknown outcomes — are in
`tests/unit/cli/test_analyze.py` and `tests/unit/test_trace.py`.)
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor import trace as trace_codec
from monitor.cli import app
from monitor.store import Store
from tests.factories import make_trace

runner = CliRunner()
MINIMAL = b'{"probe_id":"ok-1","prompt_tokens":256,"chunks":[[100000000,1],[125000000,1]]}\n'
FULL = trace_codec.encode(make_trace("full-1")).encode() + b"\n"

# name → (file content after one good line, message about line 2)
CASES: dict[str, tuple[bytes, str]] = {
    "invalid UTF-8": (b'{"probe_id":"\xff\xfe"}\n', "line 2: (line): not valid UTF-8"),
    "NUL byte": (b'{"probe_id":"a\x00b"}\n', "line 2: (line): not valid JSON"),
    "torn last line": (b'{"probe_id":"cut","prompt_tok', "line 2: (line): not valid JSON"),
    "a JSON array": (b"[1, 2]\n", "line 2: (line): must be a JSON object"),
    "byte-order mark mid-file": (b"\xef\xbb\xbf" + MINIMAL, "line 2: (line): not valid JSON"),
    "time beyond 64 bits": (
        b'{"probe_id":"big","prompt_tokens":1,"chunks":[[1180591620717411303424,1]]}\n',
        "line 2: chunks[0].t_ns: must be at most 604800000000000 ns (a week)",
    ),
    "NaN prompt length": (
        b'{"probe_id":"nan","prompt_tokens":NaN,"chunks":[[1,1]]}\n',
        "line 2: prompt_tokens: must be an integer",
    ),
    "HTML instead of JSON lines": (b"<html><body>502</body></html>\n", "line 2: (line)"),
    "no probe id": (b'{"prompt_tokens":1,"chunks":[[1,1]]}\n', "line 2: probe_id: missing"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_analyze_names_the_bad_line(case: str, tmp_path: Path) -> None:
    bad, message = CASES[case]
    path = tmp_path / "traces.jsonl"
    path.write_bytes(MINIMAL + bad)
    result = runner.invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()), result.stderr
    assert result.stdout == ""
    skipped = runner.invoke(app, ["analyze", str(path), "--json", "--skip-invalid"])
    assert skipped.exit_code == 0
    assert "skipped 1 invalid line(s); scored 1" in skipped.stderr


def test_analyze_reads_bad_bytes_on_stdin_as_a_bad_line() -> None:
    result = runner.invoke(app, ["analyze", "-", "--json"], input=MINIMAL + b"\xff\n")
    assert result.exit_code == 2
    assert "line 2: (line): not valid UTF-8" in result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_names_the_bad_line_and_stores_nothing_of_its_batch(
    case: str, tmp_path: Path, store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)
    bad, message = CASES[case]
    path = tmp_path / "traces.jsonl"
    path.write_bytes(FULL + bad)
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_import_stores_nothing_from_a_file_whose_first_batch_is_bad(
    tmp_path: Path, store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(FULL + b"\xff\n")
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 2

    async def count() -> int:
        other = await Store.open(database_url, pool_size=1)
        try:
            return await other.count()
        finally:
            await other.close()

    assert asyncio.run(count()) == 0
    # the same file with the bad line fixed imports fully
    path.write_bytes(FULL)
    assert runner.invoke(app, ["import", str(path)]).exit_code == 0
    assert asyncio.run(count()) == 1


# --------------------------------------------------------------------------- range checks on import

# name → (a full-form line with one value its column cannot hold, the line error)
OUT_OF_RANGE: dict[str, tuple[dict[str, object], str]] = {
    "10^12 prompt tokens": (
        {"prompt_tokens": 10**12},
        "line 2: prompt_tokens: must be at most 2147483647",
    ),
    "10^10 requested prompt tokens": (
        {"requested_prompt_tokens": 10**10},
        "line 2: requested_prompt_tokens: must be at most 2147483647",
    ),
    "HTTP status 70000": ({"http_status": 70000}, "line 2: http_status: must be at most 999"),
    "year 9999": (
        {"started_at": "9999-12-31T12:00:00.000000Z"},
        "line 2: started_at: year 9999 is outside 1970..9998",
    ),
    "loop lag beyond 64 bits": (
        {"client": {"loop_lag_max_ns": 2**63}},
        "line 2: client.loop_lag_max_ns: must be at most 9223372036854775807",
    ),
    "NaN in meta": (
        {"meta": {"retry_after_s": float("nan")}},
        "line 2: meta.retry_after_s: nan is not a JSON number",
    ),
}


@pytest.mark.parametrize("case", sorted(OUT_OF_RANGE))
def test_import_range_checks_against_the_columns(
    case: str, tmp_path: Path, store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)
    fields, message = OUT_OF_RANGE[case]
    obj = trace_codec.to_dict(make_trace("bad-1"))
    obj.update(fields)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(FULL + json.dumps(obj).encode() + b"\n")
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output

    async def stored() -> list[int | None]:
        other = await Store.open(database_url, pool_size=1)
        try:
            return [t.prompt_tokens for t in await other.traces()]
        finally:
            await other.close()

    assert asyncio.run(stored()) == []  # the bad line's batch is not half-stored, nor wrapped


def test_import_names_the_line_of_a_trace_the_store_cannot_keep(
    tmp_path: Path, store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(FULL + MINIMAL)
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 2, result.output
    assert (
        "line 2: (trace): probe 'ok-1': only full-form traces with started_at can be stored"
        in " ".join(result.output.split())
    )


# ------------------------------------------------------------------ probe → import → analyze

HEAD_429 = (
    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: nan\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
)
NEGATIVE_USAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi there"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":-5,"completion_tokens":-7,"total_tokens":-12}}\n\n'
    b"data: [DONE]\n\n"
)


@contextmanager
def hostile_vendor(*answers: bytes) -> Iterator[str]:
    """A raw HTTP server on loopback answering request n with `answers[n % len(answers)]`."""
    served = itertools.count()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    part = conn.recv(65536)
                    if not part:
                        break
                    data += part
                conn.sendall(answers[next(served) % len(answers)])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_probe_trace_out_reads_back_through_import_and_analyze(
    tmp_path: Path, store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Retry-After: nan` and negative usage (issue 14): the file `probe --trace-out` writes is
    accepted by `analyze` and `import`, and the vendor's numbers survive as text."""
    monkeypatch.setenv("ETALON_DATABASE__URL", database_url)
    out = tmp_path / "probe.jsonl"
    with hostile_vendor(HEAD_429, NEGATIVE_USAGE) as base_url:
        probed = runner.invoke(
            app,
            [
                "probe", "--base-url", base_url, "--model", "m", "--prompt-tokens", "16",
                "--max-tokens", "4", "--requests", "2", "--concurrency", "1",
                "--trace-out", str(out), "--json",
            ],
        )  # fmt: skip
    # the prober judges both (monitor/probe/numbers.py): negative usage is implausible, so that
    # probe is a protocol_error; `Retry-After: nan` is no Retry-After. No probe ok: exit 1.
    assert probed.exit_code == 1, (probed.output, probed.exception)
    written = trace_codec.read(out.open()).traces
    assert sorted(t.outcome.value for t in written) == ["protocol_error", "rate_limited"]
    limited = next(t for t in written if t.outcome.value == "rate_limited")
    bad = next(t for t in written if t.outcome.value == "protocol_error")
    assert limited.meta is None or limited.meta.get("retry_after_s") is None
    assert bad.meta is not None and "-7" in json.dumps(bad.meta["implausible"])

    analyzed = runner.invoke(app, ["analyze", str(out), "--json"])
    assert analyzed.exit_code == 0, analyzed.output
    assert json.loads(analyzed.stdout)["summary"]["requests"] == 2
    imported = runner.invoke(app, ["import", str(out)])
    assert imported.exit_code == 0, imported.output
    assert "imported 2 new probe(s) of 2" in imported.output
    exported = runner.invoke(app, ["export"])
    assert exported.exit_code == 0
    again = trace_codec.read(io.StringIO(exported.stdout))
    assert again.errors == []
    assert {t.probe_id: t.usage for t in again.traces} == {t.probe_id: t.usage for t in written}
