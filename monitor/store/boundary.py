"""The store's boundary: driver errors that mean "the database cannot be reached" leave the store
as one exception, `StoreUnavailable` (declared with the ledger vocabulary in `monitor.ledger`).

Everything else (a refused statement, a bug) propagates as it is. The decision is made here, once,
for the store's own calls only, so a local disk error in the spool or the journal can never pass
for a database outage. The reason keeps the driver's first line (host and port, never a password)
and drops SQLAlchemy's statement dump, which would carry row contents.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from monitor.ledger import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def is_connection_failure(exc: BaseException) -> bool:
    """True when `exc` means the server cannot be reached (as opposed to a refused statement)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | ConnectionError)


def reason(exc: BaseException) -> str:
    """`Type: first line` of the driver's error, at most 200 characters."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {lines[0] if lines else ''}"[:200]


@contextmanager
def boundary() -> Iterator[None]:
    """Turn connection-level failures inside the block into `StoreUnavailable`."""
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as e:
        if not is_connection_failure(e):
            raise
        raise StoreUnavailable(reason(e)) from None


def guarded(fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """A store method behind the boundary."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with boundary():
            return await fn(*args, **kwargs)

    return call
