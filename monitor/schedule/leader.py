"""One active scheduler per region: a PostgreSQL session advisory lock on a dedicated connection.

The lock lives as long as the connection: when the active daemon dies, the OS closes its socket,
PostgreSQL frees the lock, and a standby polling every `poll_s` takes over within about that long.
The leader checks its connection as often; if it is lost, leadership is lost with it (another
daemon may already hold the lock). The daemon then tries `reacquire()`: while the database is
unreachable it keeps leading in a degraded state (see `monitor.daemon`); once the database answers,
it either holds the lock again or learns that a standby took it, and only then stops scheduling.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

import psycopg

log = logging.getLogger(__name__)

LOCK_NAMESPACE = b"etalon-monitor/leader/"


def lock_key(region: str) -> int:
    """A signed 64-bit advisory-lock key for the region (stable across versions and hosts)."""
    digest = hashlib.blake2b(LOCK_NAMESPACE + region.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLeader:
    def __init__(self, conninfo: str, region: str, poll_s: float = 1.0) -> None:
        self._conninfo = conninfo
        self.region = region
        self.key = lock_key(region)
        self._poll_s = poll_s
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    @property
    def is_leader(self) -> bool:
        return self._conn is not None

    async def _try_once(self) -> bool:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            application_name=f"etalon-monitor leader {self.region}",
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
        )
        try:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cur.fetchone()
        except BaseException:
            await conn.close()
            raise
        if row is not None and row[0] is True:
            self._conn = conn
            return True
        await conn.close()
        return False

    async def acquire(self) -> None:
        """Wait (as a standby) until this process holds the region's lock."""
        unreachable = False
        while True:
            try:
                if await self._try_once():
                    log.info("leader for region %s", self.region)
                    return
                unreachable = False
            except psycopg.OperationalError as e:
                if not unreachable:  # once per outage, not once per poll
                    log.warning("leader lock: database unreachable (%s)", type(e).__name__)
                unreachable = True
            await asyncio.sleep(self._poll_s)

    async def lost(self) -> None:
        """Return when the lock connection fails (leadership is gone)."""
        conn = self._conn
        assert conn is not None, "lost() needs the lock"
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await asyncio.wait_for(conn.execute("SELECT 1"), timeout=max(self._poll_s, 5.0))
            except (psycopg.Error, TimeoutError, OSError) as e:
                log.error("leader lock lost for region %s (%s)", self.region, type(e).__name__)
                self._conn = None
                with contextlib.suppress(psycopg.Error, OSError):
                    await conn.close()
                return

    async def reacquire(self) -> bool | None:
        """One attempt to take the lock back after `lost()`: True when held again, False when
        another daemon holds it, None while the database is unreachable."""
        try:
            return await self._try_once()
        except (psycopg.OperationalError, OSError):
            return None

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
