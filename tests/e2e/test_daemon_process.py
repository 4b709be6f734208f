"""`etalon-monitor run` as a process: a full cycle, /metrics vs `analyze`, SIGTERM, takeover."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.metrics.analysis import analyze
from monitor.sim import RunningSimulator
from monitor.store import Store
from tests.e2e.conftest import daemon_process, eventually, start_daemon, write_config

PROBES_PER_ROUND = 2 * 2  # two targets x two prompt lengths
DATA = Path(__file__).parent.parent / "data" / "config"


async def rounds_of(url: str) -> list[tuple[int, str, int]]:
    """(round index, status, probes) of every all-target round row, in index order."""
    store = await Store.open(url, pool_size=1)
    try:
        async with store.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT r.round_index, r.status, "
                    "(SELECT count(*) FROM probes p WHERE p.cycle_id = r.cycle_id "
                    "AND p.round_index = r.round_index) FROM rounds r "
                    "WHERE r.target = '' ORDER BY r.round_index"
                )
            )
            return [(int(a), str(b), int(c)) for a, b, c in result]
    finally:
        await store.close()


async def test_cycle_metrics_match_analyze_and_sigterm_exits_0(
    tmp_path: Path, fresh_database_url: str, sims: dict[str, RunningSimulator]
) -> None:
    config = write_config(tmp_path / "etalon.yaml", fresh_database_url, sims)
    completed = {"region": "lab", "status": "completed"}
    async with daemon_process("--config", str(config)) as daemon:

        async def cycle_done() -> bool:
            return await daemon.sample("etalon_rounds_total", completed) == 3

        await eventually(cycle_done)
        assert await rounds_of(fresh_database_url) == [
            (0, "completed", PROBES_PER_ROUND),
            (1, "completed", PROBES_PER_ROUND),
            (2, "completed", PROBES_PER_ROUND),
        ]
        store = await Store.open(fresh_database_url, pool_size=1)
        try:
            traces = await store.traces()
        finally:
            await store.close()
        assert len(traces) == 3 * PROBES_PER_ROUND
        groups = defaultdict(list)
        for t in traces:
            groups[(t.target, t.model, f"p{t.requested_prompt_tokens}")].append(t)

        async def windows_settled() -> bool:
            for target, model, workload in groups:
                labels = {
                    "target": target,
                    "provider": "simulator",
                    "model": model,
                    "region": "lab",
                    "workload": workload,
                    "window": "24h",
                }
                if await daemon.sample("etalon_window_probes", labels) != 3:
                    return False
            return True

        await eventually(windows_settled)
        exposition = await daemon.scrape()
        for (target, model, workload), group in groups.items():
            labels = {
                "target": target,
                "provider": "simulator",
                "model": model,
                "region": "lab",
                "workload": workload,
            }
            rows = analyze(group).requests
            assert [r.outcome for r in rows] == ["ok"] * 3
            assert await daemon.sample("etalon_probes_total", {**labels, "outcome": "ok"}) == 3
            ttft_sum = await daemon.sample("etalon_time_to_first_token_seconds_sum", labels)
            assert ttft_sum == pytest.approx(sum(r.ttft_s or 0 for r in rows), rel=1e-9)
            fluidity_sum = await daemon.sample("etalon_fluidity_index_sum", labels)
            assert fluidity_sum == pytest.approx(sum(r.fluidity_index for r in rows), rel=1e-9)
            tokens = await daemon.sample("etalon_output_tokens_total", labels)
            assert tokens == sum(r.output_tokens for r in rows)
            assert await daemon.sample("etalon_last_probe_success", labels) == 1
        assert await daemon.sample("etalon_leader", {"region": "lab"}) == 1

        promtool = shutil.which("promtool")
        assert promtool is not None, "promtool missing (Debian package prometheus)"
        lint = subprocess.run(
            [promtool, "check", "metrics"],
            input=exposition,
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr

        daemon.signal(signal.SIGTERM)
        assert await daemon.wait_exit(20) == 0, daemon.output

    # one readable line per target and round, then one at shutdown (issue 18)
    ttfts: dict[str, list[float]] = defaultdict(list)
    for t in traces:
        ttfts[t.target].extend(r.ttft_s for r in analyze([t]).requests if r.ttft_s is not None)
    per_target = PROBES_PER_ROUND // len(ttfts)
    for index in range(3):
        for target, values in ttfts.items():
            found = re.search(
                rf"round {index} completed: {target}: {per_target} ok, 0 failed, "
                r"TTFT p50 (\d+\.\d+) s, \d+% fluid",
                daemon.output,
            )
            assert found, daemon.output
            # the median of two of this target's TTFTs lies within all of them (3 decimals shown)
            assert min(values) - 5e-4 <= float(found.group(1)) <= max(values) + 5e-4
    assert f"stopped: {3 * PROBES_PER_ROUND} probe(s) stored or spooled this run" in daemon.output
    assert "probes sent" not in daemon.output


async def test_restart_mid_cycle_continues_without_duplicates(
    tmp_path: Path, fresh_database_url: str, sims: dict[str, RunningSimulator]
) -> None:
    # four rounds, so that the first daemon is surely stopped mid-cycle
    config = write_config(tmp_path / "etalon.yaml", fresh_database_url, sims, rounds_per_cycle=4)
    completed = {"region": "lab", "status": "completed"}
    async with daemon_process("--config", str(config)) as first:

        async def one_round() -> bool:
            return (await first.sample("etalon_rounds_total", completed) or 0) >= 1

        await eventually(one_round)
        first.signal(signal.SIGTERM)
        assert await first.wait_exit(20) == 0, first.output
    done_before = len(await rounds_of(fresh_database_url))
    assert 1 <= done_before < 4
    async with daemon_process("--config", str(config)) as second:

        async def rest_of_cycle() -> bool:
            ran = await second.sample("etalon_rounds_total", completed) or 0
            return ran + done_before >= 4

        await eventually(rest_of_cycle)
        second.signal(signal.SIGTERM)
        assert await second.wait_exit(20) == 0, second.output
    assert await rounds_of(fresh_database_url) == [
        (i, "completed", PROBES_PER_ROUND) for i in range(4)
    ]


async def test_killed_leader_is_replaced_by_the_standby_within_seconds(
    tmp_path: Path, fresh_database_url: str, sims: dict[str, RunningSimulator]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config_a = write_config(
        tmp_path / "a" / "etalon.yaml", fresh_database_url, sims, rounds_per_cycle=6
    )
    config_b = write_config(
        tmp_path / "b" / "etalon.yaml", fresh_database_url, sims, rounds_per_cycle=6
    )
    region = {"region": "lab"}
    completed = {"region": "lab", "status": "completed"}
    async with daemon_process("--config", str(config_a)) as leader:

        async def leads() -> bool:
            return await leader.sample("etalon_leader", region) == 1

        await eventually(leads)
        async with daemon_process("--config", str(config_b)) as standby:
            assert await standby.sample("etalon_leader", region) == 0

            async def a_round() -> bool:
                return (await leader.sample("etalon_rounds_total", completed) or 0) >= 1

            await eventually(a_round)
            assert await standby.sample("etalon_leader", region) == 0
            leader.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await leader.wait_exit(10)

            async def took_over() -> bool:
                return await standby.sample("etalon_leader", region) == 1

            await eventually(took_over, timeout=10)
            assert time.monotonic() - killed_at < 5  # poll 0.2 s; the lock frees with the socket

            async def cycle_done() -> bool:
                rounds = await rounds_of(fresh_database_url)
                return len(rounds) == 6 and all(s != "running" for _, s, _ in rounds)

            await eventually(cycle_done)
            standby.signal(signal.SIGTERM)
            assert await standby.wait_exit(20) == 0, standby.output
    rounds = await rounds_of(fresh_database_url)
    assert [i for i, _, _ in rounds] == list(range(6))  # each round once, none skipped over
    for _, status, probes in rounds:
        # a round the killed leader was in is closed as failed by the new leader, not re-run
        assert (status == "completed" and probes == PROBES_PER_ROUND) or status == "failed"
    assert sum(1 for _, s, _ in rounds if s == "completed") >= 4


async def test_config_error_exits_2_naming_the_key() -> None:
    daemon = await start_daemon("--config", str(DATA / "bad/unknown-key.yaml"), ready=False)
    assert await daemon.wait_exit(30) == 2
    assert "targets.groq.tokn: unknown key" in daemon.output
