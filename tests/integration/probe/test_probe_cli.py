"""`etalon-monitor probe` as a process against the simulator; the API key never leaks."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from monitor import trace as trace_codec
from monitor.config import Target
from monitor.probe.client import Prober
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import BuiltinTokenizer
from monitor.trace import Outcome
from tests.fixtures.simulator import StartSimulator, simulator_target

KEY = "sk-test-DO-NOT-LEAK-4f9c2e7a1b"


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from monitor.cli import main; main()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_probe_json_summary_and_traces(
    start_simulator_factory: StartSimulator, tmp_path: Path
) -> None:
    sim = await start_simulator_factory("test", api_key=KEY)
    out_file = tmp_path / "traces.jsonl"
    code, out, err = await run_cli(
        "probe", "--base-url", sim.base_url, "--model", "sim-model", "--api-key-env",
        "SIM_KEY", "--prompt-tokens", "32,64", "--max-tokens", "6", "--requests", "3",
        "--concurrency", "4", "--trace-out", str(out_file), "--json",
        env={"SIM_KEY": KEY},
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc["by_prompt_tokens"]) == {"32", "64"}
    row = doc["by_prompt_tokens"]["64"]
    assert (row["requests"], row["ok"], row["failures"]) == (3, 3, {})
    assert row["tokens_per_chunk"] == 1.0
    assert set(row["fluidity_index"]) == {"25ms", "50ms", "100ms"}
    traces = trace_codec.read(out_file.read_text().splitlines()).traces
    assert len(traces) == 6
    assert {t.outcome for t in traces} == {Outcome.OK}
    assert sorted(t.prompt_tokens or 0 for t in traces) == [32, 32, 32, 64, 64, 64]
    assert all(r.authorized for r in sim.requests)
    for text in (out, err, out_file.read_text()):
        assert KEY not in text


async def test_probe_table_reports_failures_by_outcome(
    start_simulator_factory: StartSimulator,
) -> None:
    # the simulator wants a key the client doesn't send: every probe is an HTTP 401
    sim = await start_simulator_factory("test", api_key=KEY)
    code, out, err = await run_cli(
        "probe", "--base-url", sim.base_url, "--model", "m", "--api", "anthropic",
        "--api-key-env", "SIM_KEY", "--prompt-tokens", "32", "--max-tokens", "4",
        env={"SIM_KEY": "sk-wrong-key-0000"},
    )  # fmt: skip
    assert code == 1
    assert "http_error 1" in out
    assert "HTTP 401" in err
    assert "sk-wrong-key-0000" not in out + err


async def test_probe_target_from_config(
    start_simulator_factory: StartSimulator, tmp_path: Path
) -> None:
    sim = await start_simulator_factory("test")
    config = tmp_path / "etalon.yaml"
    config.write_text(
        "targets:\n"
        "  sim-chat:\n"
        "    provider: simulator\n"
        f"    base_url: {sim.base_url}\n"
        "    model: sim-model\n"
        "    api: openai-completions\n"
        "    workloads: {prompt_tokens: [48], max_tokens: 5, repetitions: 2}\n"
    )
    code, out, err = await run_cli(
        "probe", "--target", "sim-chat", "--config", str(config), "--json", env={}
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["target"] == "sim-chat"
    assert doc["api"] == "openai-completions"
    assert doc["by_prompt_tokens"]["48"]["ok"] == 2
    assert [r.max_tokens for r in sim.requests] == [5, 5]


async def test_key_never_in_traces_errors_or_logs(
    start_simulator_factory: StartSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A vendor that echoes the key in an error must not get it into the trace either."""
    caplog.set_level(logging.DEBUG)
    sim = await start_simulator_factory("test", api_key=KEY)
    tok = BuiltinTokenizer()
    traces = []
    async with make_session() as session:
        good = Prober(session, tok, environ={"SIM_KEY": KEY})
        bad = Prober(session, tok, environ={"SIM_KEY": KEY + "-wrong"})
        for api in ("openai-chat", "anthropic"):
            target = simulator_target(sim, api, api_key_env="SIM_KEY")
            for prober in (good, bad):
                for fault in (None, "error_event", "rate_limit"):
                    headers = {"X-Sim-Fault": fault} if fault else None
                    traces.append(
                        await prober.probe(
                            target, make_prompt(32, tok), max_tokens=4, extra_headers=headers
                        )
                    )
    outcomes = [t.outcome for t in traces]
    assert outcomes.count(Outcome.OK) == 2
    assert outcomes.count(Outcome.HTTP_ERROR) == 6  # the wrong key: 401 whatever the fault
    dumped = trace_codec.dumps(traces)
    assert KEY not in dumped  # also covers KEY + "-wrong", which the simulator echoed
    assert "Incorrect API key: ***" in dumped
    assert KEY not in caplog.text
    assert "Bearer" not in dumped


async def test_simulate_command_serves_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from monitor.cli import main; main()",
        "simulate", "--port", "0", "--profile", "test", "--seed", "3",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "simulator (test, seed 3) listening on http://127.0.0.1:" in line
        base_url = line.rsplit(" ", 1)[1].strip()
        tok = BuiltinTokenizer()
        target = Target(provider="simulator", base_url=base_url, model="m")
        async with make_session() as session:
            trace = await Prober(session, tok).probe(target, make_prompt(20, tok), max_tokens=3)
        assert trace.outcome is Outcome.OK
        assert trace.output_tokens == 3
    finally:
        proc.terminate()
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0


@pytest.mark.parametrize("api", ["openai-responses", "gemini"])
async def test_probe_speaks_responses_and_gemini(
    api: str, start_simulator_factory: StartSimulator, tmp_path: Path
) -> None:
    # the simulator demands the key in the API's own header (Bearer, x-goog-api-key)
    sim = await start_simulator_factory("test", api_key=KEY)
    out_file = tmp_path / "traces.jsonl"
    code, out, err = await run_cli(
        "probe", "--base-url", sim.base_url, "--model", "sim-model", "--api", api,
        "--api-key-env", "SIM_KEY", "--prompt-tokens", "32", "--max-tokens", "5",
        "--requests", "2", "--trace-out", str(out_file), "--json",
        env={"SIM_KEY": KEY},
    )  # fmt: skip
    assert code == 0, err
    traces = trace_codec.read(out_file.read_text().splitlines()).traces
    assert [(t.outcome, t.api, t.output_tokens) for t in traces] == [(Outcome.OK, api, 5)] * 2
    assert all(r.authorized and r.api == api for r in sim.requests)
    if api == "gemini":
        assert {r.path_qs for r in sim.requests} == {
            "/v1/models/sim-model:streamGenerateContent?alt=sse"
        }
    for text in (out, err, out_file.read_text(), *(r.path_qs for r in sim.requests)):
        assert KEY not in text
