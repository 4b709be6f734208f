"""The composition root of `etalon-monitor run`: builds every part, wires them, runs the lifecycle.

The only module that knows every package. Flow: the scheduler (when leader) hands each probe job to
the measurement plane (`monitor.plane`: the core builds the prompt, a probe worker process sends it
and stamps the stream, the trace comes back); a finished trace updates the exporter's per-probe
series and goes to the store through the spooling writer (a database outage fills the local spool
instead of losing probes); a task rebuilds the rolling-window snapshot from the store every
`exporter.refresh_s`. A second daemon on the same database waits on the region's advisory lock as a
hot standby.

A leader that loses only its database keeps leading in a logged "degraded" state: rounds keep
their schedule, probes go to the spool, round bookkeeping to a journal in the data directory
(`monitor.schedule.journal`); both are replayed, journal first, when the database answers again
(see `_keep_lead` for the network-partition trade-off).

After `schedule.cycles` cycles the daemon stops probing but keeps serving (and holding the lead)
until stopped. Shutdown (SIGTERM/SIGINT): no new rounds; in-flight probes get
`schedule.stop_grace_s` to finish, then are cancelled; the spool is flushed if the database
answers; the probe workers are told to stop and exit; exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import make_url

from monitor.config import Settings
from monitor.export import (
    DaemonMetrics,
    PlaneMetrics,
    ProbeMetrics,
    Readiness,
    TargetCollector,
    WindowCollector,
    WindowSnapshot,
    make_app,
)
from monitor.plane import Job, Supervisor
from monitor.probe.gcpolicy import settle_heap
from monitor.probe.prompts import make_prompt
from monitor.probe.tokens import Tokenizer, get_tokenizer
from monitor.schedule import (
    AdvisoryLeader,
    Backoff,
    CycleInfo,
    JournaledLedger,
    ProbeJob,
    RoundInfo,
    RoundRunner,
    RoundScheduler,
)
from monitor.schedule.triggers import interval_s
from monitor.store import RoundRef, RoundStatus, Store, is_unavailable
from monitor.store.connect import open_store
from monitor.store.embedded import EmbeddedError
from monitor.store.spool import Spool, SpoolingWriter
from monitor.trace import Trace

log = logging.getLogger(__name__)

SPOOL_DIR = "spool"
LEDGER_DIR = "ledger"
MAINTENANCE_EVERY_S = 6 * 3600.0


def version() -> str:
    try:
        return metadata.version("etalon-monitor")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class StartupError(RuntimeError):
    """The daemon cannot start (port taken, database unreachable); the message says which."""


def _reason(exc: BaseException) -> str:
    """First line of a driver error: says what failed without the URL (never a password)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0][:200] if text else type(inner).__name__


class StoreLedger:
    """The store's round ledger, seen through the scheduler's protocol (statuses as strings)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def current_cycle(self, region: str) -> CycleInfo | None:
        return await self._store.current_cycle(region)

    async def start_cycle(
        self, region: str, rounds_planned: int, started_at: datetime
    ) -> CycleInfo:
        return await self._store.start_cycle(region, rounds_planned, started_at)

    async def finish_cycle(self, cycle_id: int, finished_at: datetime) -> None:
        await self._store.finish_cycle(cycle_id, finished_at)

    async def claim_round(
        self, cycle_id: int, round_index: int, started_at: datetime, target: str
    ) -> bool:
        return await self._store.claim_round(cycle_id, round_index, started_at, target)

    async def finish_round(
        self, cycle_id: int, round_index: int, finished_at: datetime, target: str, status: str
    ) -> None:
        await self._store.finish_round(
            cycle_id, round_index, finished_at, target, RoundStatus(status)
        )

    async def rounds(self, cycle_id: int) -> list[RoundInfo]:
        return [*await self._store.rounds(cycle_id)]


def lock_conninfo(sqlalchemy_url: str) -> str:
    """The libpq URL for the leader's own psycopg connection (same server, no SQLAlchemy)."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@dataclass(slots=True)
class Served:
    """Where the exporter listens (the port is known only after binding when 0 was asked)."""

    host: str
    port: int

    @property
    def metrics_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        on_serving: Callable[[Served], None] | None = None,
        lower_priority: bool = False,
    ) -> None:
        """`lower_priority`: lower the core's scheduling priority below its probe workers'
        (`probe.core_nice`); for the `run` process, not for a daemon embedded in another one."""
        self.settings = settings
        self._lower_priority = lower_priority
        self._wall = wall
        self._monotonic = monotonic
        self._on_serving = on_serving
        self.stop_requested = asyncio.Event()
        self.cycles_complete = asyncio.Event()
        """Set when `schedule.cycles` cycles are done (probing has stopped; serving goes on)."""
        self.leading = asyncio.Event()
        """Set while this daemon holds its region's lead."""
        self.registry = CollectorRegistry()
        self.probe_metrics = ProbeMetrics(self.registry)
        self.daemon_metrics = DaemonMetrics(self.registry, version(), settings.region)
        self.plane_metrics = PlaneMetrics(self.registry)
        self.plane: Supervisor | None = None
        """The running supervisor of the probe workers (None before start)."""
        self._snapshot = WindowSnapshot()
        self._db_state = "starting"
        self._role = "standby"
        self._backoff = Backoff(monotonic, settings.schedule.backoff_default_s)
        self._maintained_at = monotonic()
        self._mine = {(n, settings.target_region(n)) for n in settings.targets}
        """(target, region) pairs this daemon exports windows for (others' regions share the DB)."""
        self.registry.register(TargetCollector(settings, interval_s(settings.schedule, wall())))
        self.registry.register(WindowCollector(self.snapshot))

    # ----------------------------------------------------------------- helpers

    def snapshot(self) -> WindowSnapshot:
        return self._snapshot

    def readiness(self) -> Readiness:
        checks = {"database": self._db_state, "scheduler": self._role}
        return Readiness(self._db_state == "ok", checks)

    def request_stop(self) -> None:
        self.stop_requested.set()

    # ----------------------------------------------------------------- lifecycle

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            async with AsyncExitStack() as stack:
                try:
                    served = await stack.enter_async_context(self._serve())
                except OSError as e:
                    raise StartupError(
                        f"cannot listen on {self.settings.exporter.listen}: {e.strerror}"
                    ) from None
                if self._on_serving is not None:
                    self._on_serving(served)
                try:
                    store = await stack.enter_async_context(open_store(self.settings))
                except EmbeddedError as e:
                    raise StartupError(str(e)) from None
                except Exception as e:
                    if not is_unavailable(e):
                        raise
                    raise StartupError(f"database unreachable: {_reason(e)}") from None
                self._db_state = "ok"
                ledger = JournaledLedger(
                    StoreLedger(store), self.settings.data_dir / LEDGER_DIR, is_unavailable
                )
                writer = SpoolingWriter(
                    store,
                    Spool(self.settings.data_dir / SPOOL_DIR),
                    on_write_error=lambda _e: self.daemon_metrics.db_write_errors.inc(),
                    ready=ledger.reconcile,
                )
                self.daemon_metrics.spool_depth.set(writer.depth)
                tokenizer = get_tokenizer()
                plane = await stack.enter_async_context(self._plane())
                self._declare_series()
                settle_heap()  # start-up garbage frozen: fewer GC pauses between reads
                background = [
                    asyncio.create_task(self._refresh_windows(store, writer), name="windows"),
                    asyncio.create_task(
                        self.daemon_metrics.sample_loop_lag(
                            self.settings.exporter.loop_lag_sample_s
                        ),
                        name="loop-lag",
                    ),
                ]
                try:
                    await self._lead(store, ledger, writer, plane, tokenizer)
                finally:
                    for task in background:
                        task.cancel()
                    await asyncio.gather(*background, return_exceptions=True)
                    await self._flush(ledger, writer)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return 0

    def _session_size(self) -> int:
        return max(sum(t.concurrency for t in self.settings.targets.values()), 8)

    @asynccontextmanager
    async def _plane(self) -> AsyncIterator[Supervisor]:
        """The probe workers: started before the core lowers its priority, drained at exit."""
        plane = Supervisor(
            self.settings.probe,
            connections=self._session_size(),
            metrics=self.plane_metrics,
            wall=self._wall,
        )
        await plane.start()
        self.plane = plane
        try:
            if self._lower_priority and plane.config.core_nice:
                nice = plane.lower_core_priority()
                log.info(
                    "core at nice %d, its %d probe worker(s) above it", nice, len(plane.pids())
                )
            yield plane
        finally:
            await plane.stop(self.settings.schedule.stop_grace_s + 5.0)

    def _declare_series(self) -> None:
        s = self.settings
        for name, t in s.targets.items():
            if t.enabled:
                region = s.target_region(name)
                self.probe_metrics.declare(
                    name, t.provider, t.model, region, t.workloads.prompt_tokens
                )

    @asynccontextmanager
    async def _serve(self) -> AsyncIterator[Served]:
        ex = self.settings.exporter
        app = make_app(self.registry, self.readiness)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, ex.host, ex.port)
            await site.start()
            bound = runner.addresses[0]
            yield Served(str(bound[0]), int(bound[1]))
        finally:
            await runner.cleanup()

    async def _lead(
        self,
        store: Store,
        ledger: JournaledLedger,
        writer: SpoolingWriter,
        plane: Supervisor,
        tokenizer: Tokenizer,
    ) -> None:
        s = self.settings
        leader = AdvisoryLeader(
            lock_conninfo(store.engine.url.render_as_string(hide_password=False)),
            s.region,
            s.schedule.leader_poll_s,
        )
        runner = RoundRunner(
            self._probe_fn(plane, tokenizer),
            self._trace_sink(writer),
            self._skip_sink(),
            self._backoff,
        )
        enabled = [n for n, t in s.targets.items() if t.enabled]
        log.info(
            "region %s: %d target(s) (%s); rounds %s; %s rounds per cycle",
            s.region,
            len(enabled),
            ", ".join(enabled) or "none",
            f"every {s.schedule.every_s:g}s"
            if s.schedule.every_s
            else f"at cron {s.schedule.cron}",
            s.schedule.rounds_per_cycle or "unlimited",
        )
        cycles_done = 0
        try:
            while not self.stop_requested.is_set():
                if not await self._first(leader.acquire()):
                    return
                try:
                    await self._register_targets(store)
                    await self._maintain(store)
                except Exception as e:
                    if not is_unavailable(e):
                        raise
                    log.warning("database lost right after taking the lead: %s", _reason(e))
                    await leader.release()
                    await self._first(asyncio.sleep(s.schedule.leader_poll_s))
                    continue
                self._role = "leader"
                self.leading.set()
                self.daemon_metrics.set_leader(True)
                scheduler = RoundScheduler(
                    s,
                    ledger,
                    runner,
                    self.daemon_metrics,
                    wall=self._wall,
                    cycles_done=cycles_done,
                )
                await scheduler.start()
                finished = asyncio.create_task(scheduler.finished.wait(), name="cycles-done")
                try:
                    await self._first(self._keep_lead(leader, finished))
                finally:
                    await scheduler.stop(s.schedule.stop_grace_s)
                    finished.cancel()
                    self._role = "standby"
                    self.leading.clear()
                    self.daemon_metrics.set_leader(False)
                    self._snapshot = WindowSnapshot()
                    cycles_done = scheduler.cycles_done
                if scheduler.finished.is_set():
                    log.info(
                        "%d cycle(s) complete; probing stopped, still serving until stopped",
                        scheduler.cycles_done,
                    )
                    self._role = "leader (cycles done)"
                    self.leading.set()
                    self.daemon_metrics.set_leader(True)
                    self.cycles_complete.set()
                    await self.stop_requested.wait()
                    return
        finally:
            await leader.release()

    async def _keep_lead(self, leader: AdvisoryLeader, finished: asyncio.Task[object]) -> None:
        """Return when the cycles are done or another daemon took the lead.

        Losing the lock's connection is not losing the lead when the database is simply gone:
        then nobody else can take the lock either (as far as this daemon can tell), so it keeps
        running rounds in a degraded state: probes go to the spool, round bookkeeping to the
        local journal. It polls the lock every `leader_poll_s`: once the database answers it
        either holds the lock again (back to normal, the journal and spool are replayed) or
        finds a standby holding it, and stops scheduling.

        Trade-off: in a network partition where a standby still reaches the database but this
        daemon does not, both run rounds until the partition heals. Each round index is still
        recorded once (the first claim in the database wins; this daemon's later replay keeps
        the existing row, and its probes are counted into that row) and every probe is stored
        once (probe ids are unique), but the region was probed twice as often for that time.
        Stopping on the first lost connection would avoid that, at the price of no probing at
        all through every database outage.
        """
        poll = self.settings.schedule.leader_poll_s
        while True:
            lost = asyncio.create_task(leader.lost(), name="leader-watch")
            try:
                await asyncio.wait({lost, finished}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
            if finished.done():
                return
            log.warning(
                "region %s: database unreachable; leading in degraded mode (rounds go on, "
                "probes are spooled, round bookkeeping is kept in the data directory)",
                leader.region,
            )
            self._role = "leader (degraded)"
            while True:
                done, _ = await asyncio.wait({finished}, timeout=poll)
                if done:
                    return
                regained = await leader.reacquire()
                if regained is None:
                    continue
                if regained:
                    log.warning("region %s: database back; lead kept", leader.region)
                    self._role = "leader"
                    break
                log.error(
                    "region %s: another daemon took the lead during the outage", leader.region
                )
                return

    async def _first(self, work: Awaitable[object]) -> bool:
        """Run `work` until it ends or a stop is requested; True when `work` ended first."""
        task = asyncio.ensure_future(work)
        stop = asyncio.create_task(self.stop_requested.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False

    async def _maintain(self, store: Store) -> None:
        """Partitions for today and the coming days, expired ones dropped (leader, then daily).

        Creating partitions ahead also keeps concurrent first writes of a day from racing to
        create the same partition.
        """
        result = await store.maintain(self._wall())
        self._maintained_at = self._monotonic()
        log.info("partitions: %s", result)

    async def _register_targets(self, store: Store) -> None:
        now = self._wall()
        for name, t in self.settings.targets.items():
            await store.register_target(name, t.model_dump(mode="json"), now)

    # ----------------------------------------------------------------- wiring

    def _probe_fn(
        self, plane: Supervisor, tokenizer: Tokenizer
    ) -> Callable[[ProbeJob], Awaitable[Trace]]:
        keep_text = self.settings.database.store_text

        async def probe(job: ProbeJob) -> Trace:
            # The core builds the prompt (~4 ms of tokenising at 4 096 tokens, in a thread of its
            # own process) and ships the text: nothing that heavy goes near a stamping loop.
            prompt = await asyncio.to_thread(make_prompt, job.prompt_tokens, tokenizer)
            return await plane.run(
                Job(
                    probe_id=uuid.uuid4().hex,
                    target_name=job.target_name,
                    target=job.target,
                    region=job.region,
                    prompt=prompt,
                    keep_text=keep_text,
                )
            )

        return probe

    def _trace_sink(self, writer: SpoolingWriter) -> Callable[[ProbeJob, Trace], Awaitable[None]]:
        async def on_trace(job: ProbeJob, trace: Trace) -> None:
            # Scoring a trace for its histograms is ~1.5 ms of numpy per probe: off the loop that
            # stamps other probes' chunks (prometheus_client metrics are thread-safe).
            await asyncio.to_thread(self.probe_metrics.observe, trace)
            ref = RoundRef(job.round.cycle_id, job.round.round_index, job.target_name)
            await writer.write(trace, ref)
            self.daemon_metrics.spool_depth.set(writer.depth)

        return on_trace

    def _skip_sink(self) -> Callable[[ProbeJob], Awaitable[None]]:
        async def on_skip(job: ProbeJob) -> None:
            t = job.target
            self.probe_metrics.skipped(
                job.target_name, t.provider, t.model, job.region, job.prompt_tokens
            )

        return on_skip

    async def _refresh_windows(self, store: Store, writer: SpoolingWriter) -> None:
        """Rebuild the window snapshot (leader only) and retry the spool, every `refresh_s`."""
        while True:
            try:
                if writer.depth:
                    await writer.drain()
                    self.daemon_metrics.spool_depth.set(writer.depth)
                if self._role.startswith("leader"):
                    if self._monotonic() - self._maintained_at >= MAINTENANCE_EVERY_S:
                        await self._maintain(store)
                    now = self._wall()
                    rows = await store.window_summaries(now)
                    mine = tuple(r for r in rows if (r.target, r.region) in self._mine)
                    self._snapshot = WindowSnapshot(now.timestamp(), mine)
                else:
                    await store.ping()
                self._db_state = "ok"
            except Exception as e:
                if not is_unavailable(e):
                    log.exception("window refresh failed (a bug)")
                self._db_state = f"down: {type(e).__name__}"
            await asyncio.sleep(self.settings.exporter.refresh_s)

    async def _flush(self, ledger: JournaledLedger, writer: SpoolingWriter) -> None:
        if ledger.pending and not await ledger.reconcile():
            log.warning(
                "ledger: changes made during the outage kept in %s for the next start", ledger.path
            )
        if writer.depth:
            replayed = await writer.drain()
            log.info("spool: %d trace(s) stored at shutdown, %d left", replayed, writer.depth)
