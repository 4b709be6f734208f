"""Round plans: which probes a round sends and when each target starts."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from monitor.config import Schedule, Settings
from monitor.ledger import RoundKey
from monitor.schedule.plan import (
    default_spread_s,
    plan_round,
    probes_per_round,
    target_offset_s,
)
from monitor.schedule.triggers import ANCHOR, interval_s, round_trigger


def settings(**schedule: object) -> Settings:
    sim = {"provider": "simulator", "base_url": "http://127.0.0.1:1/v1", "model": "m"}
    return Settings(
        region="lab",
        schedule=schedule,
        targets={
            "groq": {**sim, "workloads": {"prompt_tokens": [64, 128], "repetitions": 2}},
            "sim-a": {**sim, "region": "eu", "workloads": {"prompt_tokens": [32]}},
            "off": {**sim, "enabled": False},
        },
    )


def test_offset_is_stable_whole_minutes_for_long_spreads() -> None:
    # crc32("groq") % 1000 = 562: 0.562 * 1800 s = 1011.6 s -> 16 whole minutes
    assert target_offset_s("groq", 1800) == 960.0
    # short spreads keep seconds: 0.562 * 10 s
    assert target_offset_s("groq", 10) == pytest.approx(5.62)
    assert target_offset_s("groq", 0) == 0.0


def test_default_spread_is_half_the_interval_capped_at_30_minutes() -> None:
    assert default_spread_s(10) == 5
    assert default_spread_s(3600) == 1800
    assert default_spread_s(86400) == 1800


def test_plan_lists_every_workload_and_repetition_of_enabled_targets() -> None:
    s = settings(jitter_s=0)
    plans = plan_round(s, RoundKey(7, 2), spread_s=10, rng=random.Random(1))
    assert [p.name for p in plans] == ["groq", "sim-a"]  # `off` is disabled
    groq = plans[0]
    assert [(j.prompt_tokens, j.repetition) for j in groq.jobs] == [
        (64, 0),
        (128, 0),
        (64, 1),
        (128, 1),
    ]
    assert {j.round for j in groq.jobs} == {RoundKey(7, 2, "groq")}
    assert plans[1].region == "eu" and groq.region == "lab"
    assert groq.start_s == pytest.approx(5.62)  # no jitter: the offset alone
    assert probes_per_round(s) == 4 + 1


def test_jitter_is_added_within_its_bound() -> None:
    s = settings(jitter_s=3)
    starts = [
        plan_round(s, RoundKey(1, 0), 0, random.Random(seed))[0].start_s for seed in range(50)
    ]
    assert all(0 <= x <= 3 for x in starts)
    assert len(set(starts)) > 1


def test_interval_trigger_is_anchored_so_the_phase_survives_restarts() -> None:
    schedule = Schedule(every="1h")
    trigger = round_trigger(schedule)
    now = datetime(2026, 11, 23, 21, 17, 5, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert ANCHOR.minute == 0
    ten = round_trigger(Schedule(every="10s"))
    assert ten.get_next_fire_time(None, now) == datetime(2026, 11, 23, 21, 17, 10, tzinfo=UTC)


def test_cron_interval_is_the_gap_between_fires() -> None:
    now = datetime(2026, 11, 23, 21, 17, tzinfo=UTC)
    assert interval_s(Schedule(cron="7 * * * *"), now) == 3600.0
    assert interval_s(Schedule(every="10s"), now) == 10.0
    assert interval_s(Schedule(), now) == 3600.0  # neither set: hourly
