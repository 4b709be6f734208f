"""`etalon-monitor db upgrade|downgrade|current|recompute|maintain|stop`: schema and upkeep.

Each command connects like the daemon does (the configured URL, else the embedded server in the
data directory, started for the command and stopped after it if it was not already running).
`db stop` stops the embedded server, e.g. one left running by a daemon killed with `kill -9`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import create_async_engine

from monitor.cli.app import app
from monitor.cli.transfer import progress_bar, settings_or_exit
from monitor.config import Settings
from monitor.ledger import StoreUnavailable
from monitor.store import migrate
from monitor.store.boundary import boundary
from monitor.store.connect import database_url, embedded_server, open_store
from monitor.store.embedded import EmbeddedError
from monitor.store.recompute import stale_count

db_app = typer.Typer(name="db", help="Database schema and upkeep.", no_args_is_help=True)
app.add_typer(db_app)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: $ETALON_CONFIG)."),
]


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)
    return typer.Exit(1)


@contextmanager
def _reported() -> Iterator[None]:
    """An embedded server that cannot start, or a database that cannot be reached, is a one-line
    error (the driver's message names host and port, never the password), not a traceback."""
    try:
        with boundary():
            yield
    except EmbeddedError as e:
        raise _fail(str(e)) from None
    except StoreUnavailable as e:
        raise _fail(f"cannot reach the database: {e.reason}") from None


async def _on_engine(url: str, action: str, revision: str) -> str | None:
    engine = create_async_engine(url)
    try:
        if action == "upgrade":
            await migrate.upgrade(engine, revision)
        elif action == "downgrade":
            await migrate.downgrade(engine, revision)
        return await migrate.current(engine)
    finally:
        await engine.dispose()


def _migrate(config: Path | None, action: str, revision: str = "head") -> None:
    settings = settings_or_exit(config)
    with _reported(), database_url(settings) as url:
        current = asyncio.run(_on_engine(url, action, revision))
    suffix = " (head)" if current == migrate.head() else ""
    print(f"{current or '(empty: no schema)'}{suffix}")


@db_app.command("upgrade")
def upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    _migrate(config, "upgrade", revision)


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    config: ConfigOption = None,
) -> None:
    """Revert migrations down to REVISION (`base` drops every table and all stored probes)."""
    _migrate(config, "downgrade", revision)


@db_app.command("current")
def current(config: ConfigOption = None) -> None:
    """Print the database's schema revision."""
    _migrate(config, "current")


async def _recompute(settings: Settings, force: bool) -> int:
    async with open_store(settings, upgrade=False, create=False) as store:
        total = await store.count() if force else await stale_count(store.engine)
        with progress_bar("recompute", total) as advance:
            return await store.recompute(force=force, progress=advance)


@db_app.command("recompute")
def recompute(
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option("--all", help="Recompute every probe, not only stale ones.")
    ] = False,
) -> None:
    """Re-derive the summary columns from the stored chunks (resumable; run after an upgrade)."""
    settings = settings_or_exit(config)
    with _reported():
        done = asyncio.run(_recompute(settings, force))
    print(f"recomputed {done} probe(s)")


async def _maintain(settings: Settings) -> tuple[list[str], list[str]]:
    async with open_store(settings) as store:
        result = await store.maintain(datetime.now(UTC))
    return result.created, result.dropped


@db_app.command("maintain")
def maintain(config: ConfigOption = None) -> None:
    """Create the coming days' partitions and drop those past `database.retention_days`."""
    settings = settings_or_exit(config)
    with _reported():
        created, dropped = asyncio.run(_maintain(settings))
    print(f"created {len(created)} partition(s), dropped {len(dropped)}")


@db_app.command("stop")
def stop(
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Stop it even while the process that started it runs.")
    ] = False,
) -> None:
    """Stop the embedded PostgreSQL of the data directory (left running by a killed daemon)."""
    settings = settings_or_exit(config)
    if settings.database.url is not None:
        raise _fail("database.url is set: there is no embedded PostgreSQL to stop")
    server = embedded_server(settings)
    try:
        if not server.running():
            print(f"the embedded PostgreSQL in {server.data} is not running")
            return
        if server.owner_alive() and not force:
            owner = (server.owner() or "?").partition(":")[0]
            raise _fail(
                f"the embedded PostgreSQL in {server.data} belongs to a running process "
                f"(pid {owner}, a daemon?): stop that first, or pass --force"
            )
        pid = server.pid()
        server.stop()
    except EmbeddedError as e:
        raise _fail(str(e)) from None
    print(f"stopped the embedded PostgreSQL in {server.data} (pid {pid})")
