"""The daemon in-process: a 3-round cycle, exact rows, metrics equal to `analyze`, resume, 429s."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from monitor.ledger import RoundKey
from monitor.metrics.analysis import analyze
from monitor.sim import RunningSimulator, start_simulator
from monitor.sim.profiles import PRESETS, Profile
from monitor.store import Store
from tests.integration.daemon.conftest import daemon_settings, running_daemon, wait_until

PROBES_PER_ROUND = 2 * 2  # two targets x two prompt lengths x one repetition


async def probe_rows(store: Store, cycle_id: int | None = None) -> list[dict[str, object]]:
    where = "" if cycle_id is None else f"WHERE cycle_id = {int(cycle_id)}"
    async with store.engine.connect() as conn:
        result = await conn.execute(
            text(f"SELECT probe_id, target, cycle_id, round_index FROM probes {where}")
        )
        return [dict(r) for r in result.mappings()]


async def round_rows(store: Store) -> list[tuple[int, str, str, int]]:
    """Every round row of every cycle: (index, target, status, probes stored)."""
    out = []
    for cycle_id in await store_cycles(store):
        for r in await store.rounds(cycle_id):
            out.append((r.round_index, r.target, r.status.value, r.probes))
    return out


async def store_cycles(store: Store) -> list[int]:
    async with store.engine.connect() as conn:
        result = await conn.execute(text("SELECT id FROM cycles ORDER BY id"))
        return [int(r[0]) for r in result]


async def test_three_round_cycle_stores_rounds_times_probes_and_exports_analyze_values(
    store: Store, database_url: str, tmp_path: Path, sims: dict[str, RunningSimulator]
) -> None:
    settings = daemon_settings(database_url, tmp_path, sims)
    async with running_daemon(settings) as d:
        await d.daemon.cycles_complete.wait()
        rows = await probe_rows(store)
        assert len(rows) == 3 * PROBES_PER_ROUND
        assert len({r["probe_id"] for r in rows}) == len(rows)
        assert sorted({(r["round_index"]) for r in rows}) == [0, 1, 2]
        rounds = await round_rows(store)
        # one exactly-once row per round, one row per target and round, all completed
        assert sorted(r[:3] for r in rounds if r[1] == "") == [
            (0, "", "completed"),
            (1, "", "completed"),
            (2, "", "completed"),
        ]
        assert sorted((r[0], r[1], r[2], r[3]) for r in rounds if r[1]) == [
            (i, t, "completed", 2) for i in range(3) for t in ("alpha", "beta")
        ]
        assert d.sample("etalon_rounds_total", {"region": "lab", "status": "completed"}) == 3
        assert d.sample("etalon_cycle_round", {"region": "lab"}) == 2

        # per-probe series equal what `analyze` says about the stored traces
        traces = await store.traces()
        by_series = defaultdict(list)
        for t in traces:
            by_series[(t.target, t.model, t.requested_prompt_tokens)].append(t)
        for (target, model, prompt), group in by_series.items():
            labels = {
                "target": target,
                "provider": "simulator",
                "model": model,
                "region": "lab",
                "workload": f"p{prompt}",
            }
            result = analyze(group)
            ok = [r for r in result.requests if r.outcome == "ok"]
            assert len(ok) == 3  # one per round
            assert d.sample("etalon_probes_total", {**labels, "outcome": "ok"}) == 3
            assert d.sample("etalon_output_tokens_total", labels) == sum(
                r.output_tokens for r in result.requests
            )
            assert d.sample("etalon_time_to_first_token_seconds_sum", labels) == pytest.approx(
                sum(r.ttft_s or 0 for r in ok), rel=1e-9
            )
            assert d.sample("etalon_fluidity_index_sum", labels) == pytest.approx(
                sum(r.fluidity_index for r in ok), rel=1e-9
            )
            assert d.sample("etalon_end_to_end_seconds_sum", labels) == pytest.approx(
                sum(r.e2e_s or 0 for r in ok), rel=1e-9
            )
            # the rolling window over the same probes (exact quantiles, numpy's linear method)
            window = {**labels, "window": "1h"}
            await wait_until(lambda w=window: d.sample("etalon_window_probes", w) == 3)
            p50 = float(np.quantile([r.fluidity_index for r in ok], 0.5))
            assert d.sample(
                "etalon_window_fluidity_index", {**window, "quantile": "0.5"}
            ) == pytest.approx(p50)
            ttft_p90 = float(np.quantile([r.ttft_s for r in ok], 0.9))
            assert d.sample(
                "etalon_window_time_to_first_token_seconds", {**window, "quantile": "0.9"}
            ) == pytest.approx(ttft_p90)
        assert await d.stop() == 0


async def test_restart_mid_cycle_resumes_at_the_next_round_without_duplicates(
    store: Store, database_url: str, tmp_path: Path, sims: dict[str, RunningSimulator]
) -> None:
    settings = daemon_settings(database_url, tmp_path, sims)
    completed = {"region": "lab", "status": "completed"}
    async with running_daemon(settings) as first:
        await wait_until(lambda: (first.sample("etalon_rounds_total", completed) or 0) >= 1)
        assert await first.stop() == 0  # graceful: a round in flight finishes
        ran_first = first.sample("etalon_rounds_total", completed)
    assert ran_first is not None and 1 <= ran_first < 3
    async with running_daemon(settings) as second:
        await second.daemon.cycles_complete.wait()
        ran_second = second.sample("etalon_rounds_total", completed)
    assert ran_first + (ran_second or 0) == 3
    rows = await probe_rows(store)
    assert len(rows) == 3 * PROBES_PER_ROUND
    assert len({r["probe_id"] for r in rows}) == len(rows)
    rounds = await round_rows(store)
    assert sorted(r[0] for r in rounds if r[1] == "") == [0, 1, 2]


async def test_round_left_running_by_a_crash_is_failed_not_rerun(
    store: Store, database_url: str, tmp_path: Path, sims: dict[str, RunningSimulator]
) -> None:
    now = datetime.now(UTC)
    cycle = await store.start_cycle("lab", 3, now)
    assert await store.claim_round(RoundKey(cycle.id, 0), now)  # a leader died during round 0
    settings = daemon_settings(database_url, tmp_path, sims)
    async with running_daemon(settings) as d:
        await d.daemon.cycles_complete.wait()
    rounds = {r.round_index: r.status.value for r in await store.rounds(cycle.id) if r.target == ""}
    assert rounds == {0: "failed", 1: "completed", 2: "completed"}
    assert len(await probe_rows(store, cycle.id)) == 2 * PROBES_PER_ROUND


async def test_rate_limited_target_is_backed_off_and_skips_are_recorded(
    store: Store, database_url: str, tmp_path: Path, rate_limited_profile: Profile
) -> None:
    sim = await start_simulator(profile=rate_limited_profile)
    try:
        settings = daemon_settings(
            database_url, tmp_path, {"alpha": sim}, prompts=(16, 32, 64), rounds_per_cycle=1
        )
        async with running_daemon(settings) as d:
            await d.daemon.cycles_complete.wait()
            base = {
                "target": "alpha",
                "provider": "simulator",
                "model": "model-alpha",
                "region": "lab",
            }
            # concurrency 1: the first probe gets 429 (Retry-After: 2 s), the next two are skipped
            assert (
                d.sample(
                    "etalon_probes_total", {**base, "workload": "p16", "outcome": "rate_limited"}
                )
                == 1
            )
            for w in ("p32", "p64"):
                assert (
                    d.sample("etalon_probes_total", {**base, "workload": w, "outcome": "skipped"})
                    == 1
                )
        assert len(sim.requests) == 1
        rows = await probe_rows(store)
        assert len(rows) == 1
        rounds = await round_rows(store)
        assert (0, "alpha", "skipped", 1) in rounds
    finally:
        await sim.stop()


async def test_standby_takes_over_when_the_leader_stops(
    store: Store, database_url: str, tmp_path: Path, sims: dict[str, RunningSimulator]
) -> None:
    settings = daemon_settings(database_url, tmp_path / "a", sims, rounds_per_cycle=6)
    standby_settings = daemon_settings(database_url, tmp_path / "b", sims, rounds_per_cycle=6)
    async with running_daemon(settings) as leader:
        await leader.daemon.leading.wait()
        async with running_daemon(standby_settings) as standby:
            await wait_until(lambda: standby.sample("etalon_leader", {"region": "lab"}) == 0)
            assert not standby.daemon.leading.is_set()
            assert leader.sample("etalon_leader", {"region": "lab"}) == 1
            assert await leader.stop() == 0
            await standby.daemon.leading.wait()
            assert standby.sample("etalon_leader", {"region": "lab"}) == 1
            await standby.daemon.cycles_complete.wait()
    rounds = await round_rows(store)
    assert sorted(r[0] for r in rounds if r[1] == "") == list(range(6))


async def test_a_round_that_overruns_its_interval_makes_the_next_fire_a_skipped_round(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    # 8 tokens at 5 tokens/s: each probe takes ~1.6 s, longer than the 1 s interval
    sim = await start_simulator(profile=PRESETS["test"].with_(decode_tps=5.0))
    try:
        settings = daemon_settings(
            database_url, tmp_path, {"alpha": sim}, prompts=(16,), rounds_per_cycle=2
        )
        async with running_daemon(settings) as d:
            await d.daemon.cycles_complete.wait()
            skipped = d.sample("etalon_rounds_total", {"region": "lab", "status": "skipped"})
            assert skipped is not None and skipped >= 1
            assert d.sample("etalon_rounds_total", {"region": "lab", "status": "completed"}) == 2
        rounds = await round_rows(store)
        assert sorted(r[0] for r in rounds if r[1] == "") == [0, 1]  # skipped fires use no index
    finally:
        await sim.stop()


async def test_stop_cancels_probes_still_running_after_the_grace_period(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    # 8 tokens at 1 token/s: ~8 s per probe; the daemon is stopped with 0.3 s of grace
    sim = await start_simulator(profile=PRESETS["test"].with_(decode_tps=1.0))
    try:
        settings = daemon_settings(
            database_url, tmp_path, {"alpha": sim}, prompts=(16,), stop_grace_s=0.3
        )
        async with running_daemon(settings) as d:
            await sim.sim.wait_for_requests(1, timeout=10)
            stopped_at = time.monotonic()
            assert await d.stop() == 0
            assert time.monotonic() - stopped_at < 5  # not the ~8 s the probe would take
        rounds = await round_rows(store)
        assert [(r[0], r[1], r[2]) for r in rounds if r[1] == ""] == [(0, "", "failed")]
        assert (0, "alpha", "failed", 0) in rounds
        assert await probe_rows(store) == []  # a cancelled probe is not a measurement
    finally:
        await sim.stop()


async def test_responses_and_gemini_targets_run_a_cycle(
    store: Store, database_url: str, tmp_path: Path, sims: dict[str, RunningSimulator]
) -> None:
    apis = {"alpha": "openai-responses", "beta": "gemini"}
    settings = daemon_settings(database_url, tmp_path, sims, apis=apis, rounds_per_cycle=1)
    async with running_daemon(settings) as d:
        await d.daemon.cycles_complete.wait()
        traces = await store.traces()
        assert sorted((t.target, t.api, t.outcome.value) for t in traces) == [
            (name, apis[name], "ok") for name in ("alpha", "alpha", "beta", "beta")
        ]
        assert {t.output_tokens for t in traces} == {8}  # max_tokens, one token per chunk
        assert {t.finish_reason for t in traces} == {"max_output_tokens", "MAX_TOKENS"}
        assert await d.stop() == 0
