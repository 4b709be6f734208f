"""The advisory-lock leader on the real test database: one per region, handed over on release."""

from __future__ import annotations

import asyncio

from monitor.daemon import lock_conninfo
from monitor.schedule.leader import AdvisoryLeader, lock_key


def test_lock_key_is_stable_and_per_region() -> None:
    assert lock_key("eu") == lock_key("eu")
    assert lock_key("eu") != lock_key("us")
    assert -(2**63) <= lock_key("eu") < 2**63


async def test_one_leader_per_region_and_handover(database_url: str) -> None:
    conninfo = lock_conninfo(database_url)
    first = AdvisoryLeader(conninfo, "eu", poll_s=0.05)
    second = AdvisoryLeader(conninfo, "eu", poll_s=0.05)
    other_region = AdvisoryLeader(conninfo, "us", poll_s=0.05)
    await asyncio.wait_for(first.acquire(), 5)
    waiting = asyncio.create_task(second.acquire())
    await asyncio.wait_for(other_region.acquire(), 5)  # regions probe side by side
    assert first.is_leader and other_region.is_leader
    done, _ = await asyncio.wait({waiting}, timeout=0.3)
    assert not done  # the second daemon of region eu stands by
    await first.release()
    await asyncio.wait_for(waiting, 5)
    assert second.is_leader
    await second.release()
    await other_region.release()
