"""`profile` and `capacity` as processes: stored in PostgreSQL, read back; the daemon judges a
`prefill_model: profile` target against the stored profile; a client that falls behind states no
capacity."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.capacity.profile import PrefillProfile
from monitor.config import Settings
from monitor.sim.batching import EngineModel, start_engine
from monitor.store import Store
from monitor.store.capacity import capacity_documents, latest_profiles, save_profile
from tests.integration.daemon.conftest import FAST_SCHEDULE, running_daemon

FAST = EngineModel(overhead_s=0.002, per_token_s=2e-5, per_decode_s=2e-4, attention_s=1e-9)


async def run_cli(*args: str, database_url: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from monitor.cli import main; main()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "ETALON_DATABASE__URL": database_url, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_profile_then_capacity_from_the_stored_profile(
    store: Store, database_url: str
) -> None:
    engine = await start_engine(FAST)
    try:
        target = ["--base-url", engine.base_url, "--model", "e", "--api", "openai-chat"]
        code, out, err = await run_cli(
            "profile", *target, "--prompt-tokens", "128,512,1024,2048", "--repeats", "2",
            "--json", database_url=database_url,
        )  # fmt: skip
        assert code == 0, err
        doc = json.loads(out)
        assert [p["prompt_tokens"] for p in doc["points"]] == [128, 512, 1024, 2048]
        stored = (await latest_profiles(store.engine, ["cli"]))["cli"]
        assert stored.coefficients == pytest.approx(tuple(doc["coefficients"]))
        assert stored.lengths == (128, 512, 1024, 2048)

        code, out, err = await run_cli(
            "capacity", *target, "--prompt-tokens", "256", "--max-tokens", "8",
            "--prefill-profile", "--requests-per-step", "12", "--start-qps", "20",
            "--max-steps", "2", "--max-client-lag", "0.5", "--drain", "5", "--json",
            database_url=database_url,
        )  # fmt: skip
        assert code == 0, err
        doc = json.loads(out)
        assert doc["prefill_model"]["coefficients"] == pytest.approx(list(stored.coefficients))
        assert len(doc["steps"]) == 2 and doc["steps"][0]["qps"] == 20.0
        assert set(doc["capacity_qps"]) == {"deadline", "tbt", "ttft_tpot"}
        assert "QPS 20" in err  # live progress, one line per step, on stderr
        (saved,) = await capacity_documents(store.engine, targets=["cli"])
        assert saved == doc
    finally:
        await engine.stop()


async def test_client_that_falls_behind_states_no_capacity(store: Store, database_url: str) -> None:
    engine = await start_engine(FAST)
    try:
        code, out, err = await run_cli(
            "capacity", "--base-url", engine.base_url, "--model", "e", "--api", "openai-chat",
            "--prompt-tokens", "64", "--max-tokens", "4", "--requests-per-step", "10",
            "--start-qps", "50", "--prefill-deadline", "0.5",
            "--max-client-lag", "0", "--json", database_url=database_url,
        )  # fmt: skip
    finally:
        await engine.stop()
    # a limit of 0 s: any lateness at all (there always is some) makes the client "behind"
    assert code == 3, err
    doc = json.loads(out)
    assert doc["client_limited_at_qps"] == 50.0
    assert doc["capacity_qps"] == {"deadline": None, "tbt": None, "ttft_tpot": None}
    assert doc["steps"][0]["client"]["ok"] is False


async def test_daemon_judges_a_profile_target_against_its_latest_profile(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for coefficients, age in (((9.0, 0.0, 0.0), 2), ((0.5, 0.0, 0.0), 1)):
        await save_profile(
            store.engine,
            PrefillProfile(
                target="eng",
                model="e",
                measured_at=now - timedelta(days=age),
                lengths=(1, 2, 3),
                min_ttft_s=(0.5, 0.5, 0.5),
                coefficients=coefficients,
                residuals_s=(0.0, 0.0, 0.0),
                repeats=1,
            ),
        )
    engine = await start_engine(FAST)
    try:
        settings = Settings(
            region="lab",
            data_dir=tmp_path,
            database={"url": database_url},
            exporter={"listen": "127.0.0.1:0", "refresh_s": 0.2},
            schedule={**FAST_SCHEDULE, "rounds_per_cycle": 1},
            targets={
                "eng": {
                    "provider": "openai-compatible",
                    "api": "openai-chat",
                    "base_url": engine.base_url,
                    "model": "e",
                    "workloads": {"prompt_tokens": [32], "max_tokens": 4},
                    "deadlines": {"prefill_model": "profile", "prefill_slack_s": 0.1},
                }
            },
        )
        async with running_daemon(settings) as d:
            await d.daemon.cycles_complete.wait()
    finally:
        await engine.stop()
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT deadline_prefill_s FROM probes"))).all()
    # the latest profile (0.5 s flat) plus 0.1 s slack, not the older 9 s one nor the default
    assert rows and all(r[0] == pytest.approx(0.6) for r in rows)
