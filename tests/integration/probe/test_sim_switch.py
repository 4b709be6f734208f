"""A simulated vendor that changes mid-run: requests after the first N get the new profile."""

from __future__ import annotations

import aiohttp

from monitor.sim import Profile, Switch, start_simulator

BEFORE = Profile("before", ttft_s=(0.001, 0.0, 0.0), decode_tps=4000.0)
AFTER = BEFORE.with_(name="after", decode_tps=1000.0)


async def test_requests_after_the_switch_use_the_new_profile() -> None:
    sim = await start_simulator(profile=BEFORE, switch=Switch(2, AFTER))
    body = {
        "model": "m",
        "stream": True,
        "max_tokens": 4,
        "messages": [{"role": "user", "content": "hi"}],
    }
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.post(f"{sim.base_url}/chat/completions", json=body) as r:
                    assert r.status == 200
                    await r.read()
    finally:
        await sim.stop()
    gaps = [r.plan.gaps_s[1:] if r.plan else () for r in sim.requests]
    # 1 token per chunk: 1/4000 s per gap before the switch, 1/1000 s after it (no jitter)
    assert [set(g) for g in gaps] == [{0.00025}, {0.00025}, {0.001}]
