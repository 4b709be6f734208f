"""From settings to a database: the configured URL, or the embedded server in the data directory.

`database_url(settings)` is a context manager for commands: with no `database.url` it starts the
embedded PostgreSQL (unless it already runs, e.g. under the daemon) and stops it afterwards only if
it started it, or adopted it because the process that started it is gone (`kill -9`).
`open_store` adds the `Store` and, by default, `alembic upgrade head`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from monitor.config import Settings
from monitor.store import migrate
from monitor.store.embedded import EmbeddedPostgres
from monitor.store.store import Store

log = logging.getLogger(__name__)

EMBEDDED_DIR = "postgres"


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / EMBEDDED_DIR)


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """Yield a SQLAlchemy URL; `EmbeddedError` (naming the ways forward) when none is possible."""
    if settings.database.url is not None:
        yield settings.database.url.get_secret_value()
        return
    server = embedded_server(settings)
    running = server.running()
    owned_here = not running or not server.owner_alive()
    if running and owned_here:
        log.warning(
            "adopting the embedded PostgreSQL in %s (pid %s): the process that started it is "
            "gone; it is stopped when this one is done",
            server.data,
            server.pid(),
        )
    url = server.start()
    if owned_here:
        server.take_ownership()
    try:
        yield url
    finally:
        if owned_here:
            server.stop()


@asynccontextmanager
async def open_store(settings: Settings, *, upgrade: bool | None = None) -> AsyncIterator[Store]:
    """A connected `Store`; upgrades the schema when `upgrade_on_start` (or `upgrade`) says so."""
    db = settings.database
    manager = database_url(settings)
    url = await asyncio.to_thread(manager.__enter__)
    try:
        store = await Store.open(url, store_text=db.store_text, retention_days=db.retention_days)
        try:
            if db.upgrade_on_start if upgrade is None else upgrade:
                await migrate.upgrade(store.engine)
            yield store
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
