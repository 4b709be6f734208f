"""From settings to a database: the configured URL, or the embedded server in the data directory.

`database_url(settings)` is a context manager for commands: with no `database.url` it starts the
embedded PostgreSQL (unless it already runs, e.g. under the daemon) and stops it afterwards only if
it started it, or adopted it because the process that started it is gone (`kill -9`).
`open_store` adds the `Store` and, by default, `alembic upgrade head` (`StoreUnavailable` when
the server cannot be reached).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from monitor.config import Settings
from monitor.store import migrate
from monitor.store.boundary import boundary
from monitor.store.embedded import EmbeddedError, EmbeddedPostgres
from monitor.store.store import Store

log = logging.getLogger(__name__)

EMBEDDED_DIR = "postgres"


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / EMBEDDED_DIR)


def missing_database(settings: Settings) -> EmbeddedError:
    """Why a reading command found nothing: no daemon has written to this data directory."""
    return EmbeddedError(
        f"no monitor database in {settings.data_dir}: `etalon-monitor run` has not stored any "
        "probe with this data directory. Run the daemon first, or point ETALON_DATA_DIR (or "
        "database.url in --config) at the monitor's data."
    )


@contextmanager
def database_url(settings: Settings, *, create: bool = True) -> Iterator[str]:
    """Yield a SQLAlchemy URL; `EmbeddedError` (naming the ways forward) when none is possible.

    `create=False` is for commands that only read: they must not initialise an empty embedded
    server in a data directory the daemon never used and then report that it is empty.
    """
    if settings.database.url is not None:
        yield settings.database.url.get_secret_value()
        return
    server = embedded_server(settings)
    if not create and not server.initialized():
        raise missing_database(settings)
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
async def open_store(
    settings: Settings, *, upgrade: bool | None = None, create: bool = True
) -> AsyncIterator[Store]:
    """A connected `Store`; upgrades the schema when `upgrade_on_start` (or `upgrade`) says so."""
    db = settings.database
    manager = database_url(settings, create=create)
    url = await asyncio.to_thread(manager.__enter__)
    try:
        store = await Store.open(url, store_text=db.store_text, retention_days=db.retention_days)
        try:
            if db.upgrade_on_start if upgrade is None else upgrade:
                with boundary():
                    await migrate.upgrade(store.engine)
            yield store
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
