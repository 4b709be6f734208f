"""The round ledger: a restarted daemon finds its cycle; a round is claimed at most once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.ledger import RoundKey, RoundStatus
from monitor.store import Store
from tests.factories import T0


async def test_a_round_is_claimed_once(store: Store) -> None:
    cycle = await store.start_cycle("eu-west", 24, T0, config_hash="abc")
    assert await store.claim_round(RoundKey(cycle.id, 3), T0) is True
    assert await store.claim_round(RoundKey(cycle.id, 3), T0 + timedelta(seconds=1)) is False
    assert await store.claim_round(RoundKey(cycle.id, 3, "groq"), T0) is True  # per target


async def test_restart_sees_current_cycle_and_finished_rounds(store: Store) -> None:
    old = await store.start_cycle("eu-west", 2, T0 - timedelta(days=1))
    await store.finish_cycle(old.id, T0 - timedelta(hours=1))
    cycle = await store.start_cycle("eu-west", 24, T0)
    await store.start_cycle("us-east", 24, T0)
    for i in range(3):
        await store.claim_round(RoundKey(cycle.id, i), T0 + timedelta(hours=i))
    await store.finish_round(RoundKey(cycle.id, 0), T0 + timedelta(minutes=5))
    await store.finish_round(
        RoundKey(cycle.id, 1), T0 + timedelta(hours=1, minutes=5), RoundStatus.SKIPPED
    )
    found = await store.current_cycle("eu-west")
    assert found == cycle
    records = await store.rounds(cycle.id)
    assert [(r.round_index, r.status) for r in records] == [
        (0, RoundStatus.COMPLETED),
        (1, RoundStatus.SKIPPED),
        (2, RoundStatus.RUNNING),
    ]
    assert records[2].finished_at is None
    assert await store.current_cycle("ap-south") is None


async def test_finishing_an_unclaimed_round_is_an_error(store: Store) -> None:
    cycle = await store.start_cycle("eu-west", 24, T0)
    with pytest.raises(LookupError, match="never claimed"):
        await store.finish_round(RoundKey(cycle.id, 7), T0)


async def test_target_versions_follow_config_changes(store: Store) -> None:
    first = await store.register_target("groq", {"model": "a", "concurrency": 1}, T0)
    same = await store.register_target("groq", {"concurrency": 1, "model": "a"}, T0)
    changed = await store.register_target("groq", {"model": "b", "concurrency": 1}, T0)
    assert first == same
    assert changed != first
