"""A report from simulator runs stored in PostgreSQL: two simulated vendors are probed over the
real HTTP path in a four-round cycle, the traces stored with their rounds, and the report read back
from the database (read-only). Its per-target numbers equal `analyze` on the same probes as
exported, and a report from the exported file agrees with the one from the database."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from monitor import trace as trace_codec
from monitor.cli import app
from monitor.ledger import RoundKey
from monitor.metrics.analysis import analyze
from monitor.probe.client import Prober
from monitor.probe.prompts import make_prompt
from monitor.probe.session import make_session
from monitor.probe.tokens import get_tokenizer
from monitor.report.json_schema import REPORT_SCHEMA
from monitor.report.source import load_store
from monitor.sim.profiles import Profile
from monitor.store import Store
from monitor.trace import Trace
from tests.fixtures.simulator import StartSimulator, simulator_target

ROUNDS = 4
PROMPTS = (64, 256)
MAX_TOKENS = 24
SUMMARY_KEYS = (
    "share_fluid",
    "deadline_slo_met",
    "fluent_token_rate",
    "tpot_rate",
    "tail_tbt_rate",
)

SMOOTH = Profile("smooth", ttft_s=(0.004, 0.0, 0.0), decode_tps=2000.0)
STALLY = Profile(
    "stally-quick",
    ttft_s=(0.006, 0.0, 0.0),
    decode_tps=1500.0,
    jitter=0.2,
    stall_prob=0.08,
    stall_s=0.04,
    fault_rates={"rate_limit": 0.1},
)
DEADLINES = {"decode_s": [0.005, 0.01], "prefill_s": 0.25}


@pytest.fixture
async def cycle(
    store: Store, start_simulator_factory: StartSimulator
) -> tuple[int, dict[str, Any]]:
    """Run the cycle; returns its id and the targets' config (as the YAML file holds it)."""
    sims = {
        "smooth": await start_simulator_factory(SMOOTH, seed=1),
        "stally": await start_simulator_factory(STALLY, seed=2),
    }
    targets = {
        name: simulator_target(
            sim,
            deadlines=DEADLINES,
            price={"input_per_1m": 1.0, "output_per_1m": 2.0},
            workloads={"prompt_tokens": list(PROMPTS), "max_tokens": MAX_TOKENS},
        )
        for name, sim in sims.items()
    }
    tokenizer = get_tokenizer()
    now = datetime.now(UTC)
    planned = await store.start_cycle("test", ROUNDS, now)
    async with make_session() as session:
        prober = Prober(session, tokenizer)
        for index in range(ROUNDS):
            assert await store.claim_round(RoundKey(planned.id, index), now)
            for name, target in targets.items():
                for tokens in PROMPTS:
                    prompt = make_prompt(tokens, tokenizer, seed=index)
                    trace = await prober.probe(target, prompt, target_name=name)
                    assert await store.ingest(trace, RoundKey(planned.id, index))
            await store.finish_round(RoundKey(planned.id, index), datetime.now(UTC))
    await store.finish_cycle(planned.id, datetime.now(UTC))
    config = {name: t.model_dump(mode="json", exclude_none=True) for name, t in targets.items()}
    return planned.id, config


def _config_file(tmp_path: Path, database_url: str, targets: dict[str, Any]) -> Path:
    path = tmp_path / "etalon.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": database_url}, "targets": targets}))
    return path


def _by_target(traces: list[Trace]) -> dict[str, list[Trace]]:
    out: dict[str, list[Trace]] = {}
    for t in traces:
        out.setdefault(t.target, []).append(t)
    return out


async def test_report_from_the_database_equals_analyze(
    tmp_path: Path, store: Store, database_url: str, cycle: tuple[int, dict[str, Any]]
) -> None:
    cycle_id, targets = cycle
    config = _config_file(tmp_path, database_url, targets)
    out = tmp_path / "review.json"
    args = ["report", "--config", str(config), "--cycle", str(cycle_id), "--out", str(out)]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert list(Draft202012Validator(REPORT_SCHEMA).iter_errors(doc)) == []

    exported = _by_target(await store.traces())
    assert sorted(exported) == ["smooth", "stally"]
    assert [t["target"] for t in doc["targets"]] == ["smooth", "stally"]
    for row in doc["targets"]:
        summary = analyze(exported[row["target"]]).summary
        assert row["probes"] == summary.requests == ROUNDS * len(PROMPTS)
        assert row["failed"] == summary.requests - summary.ok
        for key in SUMMARY_KEYS:
            assert row[key] == getattr(summary, key), (row["target"], key)
        for p in ("p50", "p90", "p99"):
            assert row[f"ttft_{p}_s"] == summary.ttft_s[p]
        assert row["decode_deadlines_s"] == [0.005]  # the first stored tier
        assert row["cost"]["input_per_1m"] == 1.0

    assert doc["window"]["cycle"] == str(cycle_id)
    complete = {c["target"]: c for c in doc["methodology"]["completeness"]}
    for name in ("smooth", "stally"):
        # 4 planned rounds x 2 prompt lengths x 1 repetition, all probed
        assert complete[name]["expected_probes"] == 8
        assert complete[name]["completeness"] == 1.0
        assert complete[name]["rounds"] == ROUNDS
    for incident in doc["incidents"]:
        assert incident["window"].startswith(f"cycle {cycle_id} round ")


async def test_database_and_exported_file_give_the_same_report(
    tmp_path: Path, store: Store, database_url: str, cycle: tuple[int, dict[str, Any]]
) -> None:
    _, targets = cycle
    config = _config_file(tmp_path, database_url, targets)
    exported = tmp_path / "traces.jsonl"
    exported.write_text(trace_codec.dumps(await store.traces()))
    runner = CliRunner()
    from_db = tmp_path / "db.json"
    from_file = tmp_path / "file.json"
    db_args = ["report", "-c", str(config), "--since", "1h", "--out", str(from_db)]
    file_args = ["report", "-c", str(config), "--traces", str(exported), "--out", str(from_file)]
    for args in (db_args, file_args):
        result = await asyncio.to_thread(runner.invoke, app, args)
        assert result.exit_code == 0, result.output
    a, b = json.loads(from_db.read_text()), json.loads(from_file.read_text())
    # a file has no rounds: its round compliance is judged per UTC hour instead; all else agrees
    for row in a["targets"]:
        assert row.pop("round_compliance")["rounds"] == ROUNDS
    for row in b["targets"]:
        row.pop("round_compliance")
    assert a["targets"] == b["targets"]
    assert a["comparisons"] == b["comparisons"]


async def test_store_query_filters_targets_and_labels_rounds(
    store: Store, cycle: tuple[int, dict[str, Any]]
) -> None:
    cycle_id, _ = cycle
    loaded = await load_store(store, cycle=cycle_id, targets=["stally"])
    assert {t.target for t in loaded.traces} == {"stally"}
    assert len(loaded.traces) == ROUNDS * len(PROMPTS)
    assert loaded.rounds_planned == ROUNDS
    assert sorted(set(loaded.round_of.values())) == [
        f"cycle {cycle_id} round {i}" for i in range(ROUNDS)
    ]


async def test_unknown_cycle_is_an_error(tmp_path: Path, store: Store, database_url: str) -> None:
    config = _config_file(tmp_path, database_url, {})
    args = ["report", "-c", str(config), "--cycle", "999999", "--out", str(tmp_path / "r.json")]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 2
    assert "no cycle with id 999999" in result.stderr


def test_database_without_schema_says_how_to_fix_it(
    tmp_path: Path, empty_database_url: str
) -> None:
    config = _config_file(tmp_path, empty_database_url, {})
    args = ["report", "-c", str(config), "--out", str(tmp_path / "r.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "run `etalon-monitor db upgrade`" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_unreachable_database_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    # port 1 on loopback: nothing listens, the connection is refused at once
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/nothing"
    config = _config_file(tmp_path, url, {})
    result = CliRunner().invoke(app, ["report", "-c", str(config), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "cannot read the database" in result.stderr
    assert "hunter2" not in result.output
