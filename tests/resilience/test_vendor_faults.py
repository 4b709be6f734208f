"""Every simulator fault at once, through the daemon, at concurrency: outcomes, kept chunks,
schedule and the alert-relevant metrics.

Each fault gets its own simulated vendor that always answers with it (so the expectations are
exact), beside a clean vendor and a `mixed` vendor that picks faults at random; all of them are
probed in the same rounds, several probes in flight per target.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

from monitor.config import Settings
from monitor.sim import RunningSimulator, start_simulator
from monitor.sim.faults import Fault
from monitor.sim.profiles import PRESETS
from monitor.store import Store
from monitor.trace import Outcome
from tests.integration.daemon.conftest import running_daemon
from tests.resilience.conftest import round_rows, stored_traces

ROUNDS = 3
EVERY_S = 2.5
"""Longer than the slowest fault (`never_end` hits the 1 s total timeout) and than the 2 s
`Retry-After` of a 429, so the rate-limited vendor is probed afresh every round."""
PROMPTS = [16, 32, 48]
MAX_TOKENS = 8
TIMEOUTS = {"connect_s": 2, "first_byte_s": 0.3, "idle_s": 0.2, "total_s": 1.0}

# fault → (outcome, content chunks kept); None: more than MAX_TOKENS (the stream never ends)
EXPECTED: dict[str, tuple[Outcome, int | None]] = {
    "clean": (Outcome.OK, MAX_TOKENS),
    Fault.RATE_LIMIT: (Outcome.RATE_LIMITED, 0),
    Fault.SERVER_ERROR: (Outcome.HTTP_ERROR, 0),
    Fault.UNAVAILABLE: (Outcome.HTTP_ERROR, 0),  # the HTML body of a fronting proxy
    Fault.ERROR_EVENT: (Outcome.STREAM_ERROR, 3),  # X-Sim-Fault-After defaults to 3 chunks
    Fault.RESET: (Outcome.TRUNCATED, 3),
    Fault.NO_TERMINATOR: (Outcome.TRUNCATED, MAX_TOKENS),
    Fault.GARBAGE: (Outcome.PROTOCOL_ERROR, MAX_TOKENS),
    Fault.SLOW_HEADERS: (Outcome.TIMEOUT, 0),
    Fault.NEVER_END: (Outcome.TIMEOUT, None),
    Fault.HANG: (Outcome.TIMEOUT, 3),
}


def name_of(fault: str) -> str:
    return fault.replace("_", "-")


def settings_for(sims: dict[str, RunningSimulator], data_dir: Path, url: str) -> Settings:
    targets: dict[str, Any] = {}
    for name, sim in sims.items():
        targets[name] = {
            "provider": "simulator",
            # both wire formats in the mix
            "api": "anthropic" if len(targets) % 2 else "openai-chat",
            "base_url": sim.base_url,
            "model": f"model-{name}",
            "workloads": {"prompt_tokens": PROMPTS, "max_tokens": MAX_TOKENS},
            # a 429 must be seen before the next probe of that vendor is sent
            "concurrency": 1 if name == name_of(Fault.RATE_LIMIT) else len(PROMPTS),
            "timeouts": TIMEOUTS,
        }
    return Settings(
        region="lab",
        data_dir=data_dir,
        database={"url": url},
        exporter={"listen": "127.0.0.1:0", "refresh_s": 0.2},
        schedule={
            "every": f"{EVERY_S}s",
            "rounds_per_cycle": ROUNDS,
            "cycles": 1,
            "jitter_s": 0,
            "spread": "0s",
            "leader_poll_s": 0.1,
            "stop_grace_s": 10,
        },
        targets=targets,
    )


async def test_every_fault_mixed_at_concurrency_through_the_daemon(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    test = PRESETS["test"]
    sims: dict[str, RunningSimulator] = {}
    try:
        for fault in EXPECTED:
            rates = {} if fault == "clean" else {str(fault): 1.0}
            sims[name_of(fault)] = await start_simulator(profile=test.with_(fault_rates=rates))
        sims["mixed"] = await start_simulator(
            profile=test.with_(fault_rates={f.value: 0.06 for f in Fault}), seed=7
        )
        settings = settings_for(sims, tmp_path, database_url)
        async with running_daemon(settings) as d:
            await d.daemon.cycles_complete.wait()

            def probes(name: str, workload: int, outcome: str) -> float | None:
                return d.sample(
                    "etalon_probes_total",
                    {
                        "target": name,
                        "provider": "simulator",
                        "model": f"model-{name}",
                        "region": "lab",
                        "workload": f"p{workload}",
                        "outcome": outcome,
                    },
                )

            def labels(name: str, workload: int) -> dict[str, str]:
                return {
                    "target": name,
                    "provider": "simulator",
                    "model": f"model-{name}",
                    "region": "lab",
                    "workload": f"p{workload}",
                }

            for fault, (outcome, _) in EXPECTED.items():
                name = name_of(fault)
                for k, p in enumerate(PROMPTS):
                    if fault == Fault.RATE_LIMIT and k > 0:
                        # backed off after the first probe's 429 (Retry-After: 2 s), every round
                        assert probes(name, p, "skipped") == ROUNDS
                        assert probes(name, p, outcome.value) == 0
                        continue
                    assert probes(name, p, outcome.value) == ROUNDS, (name, p)
                    assert probes(name, p, "skipped") == 0
                    success = d.sample("etalon_last_probe_success", labels(name, p))
                    assert success == (1 if outcome is Outcome.OK else 0), (name, p)
                    ttft_count = d.sample(
                        "etalon_time_to_first_token_seconds_count", labels(name, p)
                    )
                    assert (ttft_count or 0) == (ROUNDS if outcome is Outcome.OK else 0)
            # the schedule held: every round ran, none was skipped by an overrun
            assert d.sample("etalon_rounds_total", {"region": "lab", "status": "completed"}) == 3
            assert d.sample("etalon_rounds_total", {"region": "lab", "status": "skipped"}) == 0
            assert d.sample("etalon_db_write_errors_total") == 0
            mixed_skipped = sum(probes("mixed", p, "skipped") or 0 for p in PROMPTS)
            assert await d.stop() == 0

        traces = await stored_traces(database_url)
        by_target: dict[str, list[Any]] = {}
        for t in traces:
            by_target.setdefault(t.target, []).append(t)
        for fault, (outcome, kept) in EXPECTED.items():
            name = name_of(fault)
            got = by_target[name]
            assert len(got) == len(sims[name].requests), name  # every answer stored once
            for t in got:
                assert t.outcome is outcome, (name, t.error)
                if kept is None:
                    assert len(t.content_chunks) > MAX_TOKENS  # partial data kept
                else:
                    assert len(t.content_chunks) == kept, name
                assert (t.error is None) == (outcome is Outcome.OK)
        # the random mix: each request's fault became its outcome, nothing lost or extra
        mixed = sims["mixed"].requests
        want = Counter(EXPECTED[r.fault or "clean"][0] for r in mixed)
        assert Counter(t.outcome for t in by_target["mixed"]) == want
        assert len(mixed) + mixed_skipped == ROUNDS * len(PROMPTS)

        whole = [r for r in await round_rows(database_url) if r.target == ""]
        assert [(r.round_index, r.status) for r in whole] == [
            (i, "completed") for i in range(ROUNDS)
        ]
        gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(whole)]
        assert all(EVERY_S - 1.0 < g < EVERY_S + 1.0 for g in gaps), gaps
    finally:
        for sim in sims.values():
            await sim.stop()
