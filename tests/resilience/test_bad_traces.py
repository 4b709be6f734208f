"""Malformed trace files for `analyze` and `import`: each fails with exit 2 and names its line.

(Other bad lines — wrong field types, out-of-order chunks, unknown outcomes — are in
`tests/unit/cli/test_analyze.py` and `tests/unit/test_trace.py`.)
"""

from __future__ import annotations

import asyncio
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
