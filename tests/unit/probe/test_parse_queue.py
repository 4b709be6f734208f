"""The low-priority parse queue: every submitted stream gets parsed, in slices, then it idles."""

from __future__ import annotations

import asyncio

from monitor.probe.assemble import ParseQueue, StreamAssembler
from monitor.probe.wire import WIRES

EVENT = b'data: {"choices":[{"index":0,"delta":{"content":" hi"}}]}\n\n'


async def test_submitted_reads_are_parsed_and_the_worker_exits() -> None:
    # a 0 ns budget: one stream per slice, yielding to the loop between slices
    queue = ParseQueue(budget_ns=0)
    streams = [StreamAssembler(0, WIRES["openai-chat"], None) for _ in range(3)]
    for i, asm in enumerate(streams):
        asm.times.append(10 + i)
        asm.datas.append(EVENT)
        queue.submit(asm)
        queue.submit(asm)  # already queued: ignored
    assert all(s.scheduled for s in streams)
    assert [s.facts.events for s in streams] == [0, 0, 0]  # nothing parsed on the read path
    worker = queue._worker
    assert worker is not None
    await asyncio.wait_for(worker, 5)
    assert [s.facts.events for s in streams] == [1, 1, 1]
    assert not any(s.scheduled for s in streams)
    assert queue._worker is None
    assert [[c.t_ns for c in s.finish().chunks] for s in streams] == [[10], [11], [12]]


async def test_finish_resolves_in_queue_order_after_pending_parsing() -> None:
    queue = ParseQueue(budget_ns=0)
    a = StreamAssembler(0, WIRES["openai-chat"], None)
    a.times.append(5)
    a.datas.append(EVENT)
    queue.submit(a)
    done = queue.finish(a)
    assert not done.done()
    facts = await asyncio.wait_for(done, 5)
    assert [(c.t_ns, c.text) for c in facts.chunks] == [(5, " hi")]
