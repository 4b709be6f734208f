"""Alembic environment (async template, plus the connection-sharing recipe).

Connection, in order: one handed in via `config.attributes["connection"]` (the app and the tests),
a URL in `config.attributes["url"]`, `-x url=...` on the `alembic` command line, `sqlalchemy.url` in
alembic.ini, then the monitor's own settings (`ETALON_DATABASE__URL` / the config file).
Runtime-created partitions of `probes` are not in the models; autogenerate must not drop them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from monitor import config as settings_module
from monitor.store.partitions import partition_day
from monitor.store.schema import metadata

config = context.config
target_metadata = metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table" and reflected and compare_to is None and name and partition_day(name):
        return False
    table = getattr(obj, "table", None)
    table_name = getattr(table, "name", None)
    return not (reflected and compare_to is None and table_name and partition_day(table_name))


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    configured = settings_module.load().database.url
    if configured is None:
        raise SystemExit(
            "no database URL: pass -x url=postgresql+psycopg://..., set ETALON_DATABASE__URL, "
            "or use `etalon-monitor db upgrade` (which starts the embedded server)"
        )
    return configured.get_secret_value()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
    )


def do_run_migrations(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
