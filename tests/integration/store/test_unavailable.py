"""`StoreUnavailable` at the store's boundary: every method of a `Store` whose server cannot be
reached raises it (and nothing driver-specific), with a reason that never carries the password."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.exc import DBAPIError

from monitor.ledger import RoundKey, RoundStatus
from monitor.store import Store, StoreUnavailable
from tests.factories import T0, make_trace

SECRET = "s3cret-pw"


@pytest.fixture
async def unreachable() -> AsyncIterator[Store]:
    # nothing listens on port 1 of the loopback: a real refused connection
    store = await Store.open(
        f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/none", connect_timeout_s=1
    )
    yield store
    await store.close()


CALLS: dict[str, Callable[[Store], Awaitable[object]]] = {
    "ping": lambda s: s.ping(),
    "ingest": lambda s: s.ingest(make_trace("u")),
    "ingest_many": lambda s: s.ingest_many([make_trace("u")]),
    "traces": lambda s: s.traces(),
    "count": lambda s: s.count(),
    "window_summaries": lambda s: s.window_summaries(T0),
    "maintain": lambda s: s.maintain(T0),
    "register_target": lambda s: s.register_target("t", {}, T0),
    "current_cycle": lambda s: s.current_cycle("lab"),
    "start_cycle": lambda s: s.start_cycle("lab", 3, T0),
    "finish_cycle": lambda s: s.finish_cycle(1, T0),
    "claim_round": lambda s: s.claim_round(RoundKey(1, 0), T0),
    "finish_round": lambda s: s.finish_round(RoundKey(1, 0), T0, RoundStatus.COMPLETED),
    "rounds": lambda s: s.rounds(1),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_every_call_raises_store_unavailable(
    unreachable: Store, call: Callable[[Store], Awaitable[object]]
) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        await call(unreachable)
    assert "OperationalError" in raised.value.reason
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_a_refused_statement_is_not_an_outage(store: Store) -> None:
    # PostgreSQL text cannot hold NUL, so it refuses that row (DataError); the server is fine.
    # (An out-of-range number would not do: the trace codec conforms it before it is stored.)
    with pytest.raises(DBAPIError) as raised:
        await store.ingest(make_trace("r\x00"))
    assert not isinstance(raised.value, StoreUnavailable)
    assert await store.ingest(make_trace("ok"))
