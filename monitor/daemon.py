"""The composition root of `etalon-monitor run`: builds every part, wires them, runs the lifecycle.

The only module that knows every package. Flow: the scheduler (when leader) hands each probe job to
the measurement plane (`monitor.plane`: the core builds the prompt, a probe worker process sends it
and stamps the stream, the trace comes back); a finished trace is scored once
(`monitor.metrics.score`, in a worker thread), and that one `ScoreRecord` goes with the trace to
the store through the spooling writer (a database outage fills the local spool instead of losing
probes) and, once stored or spooled, updates the exporter's per-probe series; a task rebuilds the
rolling-window snapshot from the store every `exporter.refresh_s`; after each write the change
watcher (`monitor.detect.watch`) re-tests that probe's series in the background, from the stored
values. A second daemon on the same database waits on the region's advisory lock as a hot standby.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import make_url

from monitor.capacity.deadlines import apply_profile, wants_profile
from monitor.config import Settings
from monitor.detect.watch import ChangeWatcher, settings_from
from monitor.durable import LogWriteError
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
from monitor.export.changes import ChangeCollector, Tally
from monitor.ledger import RoundStatus
from monitor.metrics.round_summary import RoundResults
from monitor.metrics.score import score_traces
from monitor.plane import Job, Supervisor
from monitor.probe.gcpolicy import settle_heap
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.prompts import make_prompt
from monitor.probe.tokens import Tokenizer, get_tokenizer
from monitor.schedule import (
    AdvisoryLeader,
    Backoff,
    JournaledLedger,
    ProbeJob,
    RoundRunner,
    RoundScheduler,
)
from monitor.schedule.triggers import interval_s
from monitor.secrets import scrub_logs, scrubber_for
from monitor.store import Store, StoreUnavailable
from monitor.store.boundary import reason
from monitor.store.capacity import latest_profiles
from monitor.store.connect import open_store
from monitor.store.embedded import EmbeddedError
from monitor.store.spool import Spool, SpoolingWriter
from monitor.trace import Outcome, Trace
from monitor.version import version

log = logging.getLogger(__name__)

SPOOL_DIR = "spool"
LEDGER_DIR = "ledger"
MAINTENANCE_EVERY_S = 6 * 3600.0


class StartupError(RuntimeError):
    """The daemon cannot start (port taken, database unreachable); the message says which."""


class Role(StrEnum):
    """What this daemon does in its region (readiness shows it)."""

    STANDBY = "standby"
    LEADER = "leader"
    DEGRADED = "leader (degraded)"
    """Leading without the database: rounds go on, probes to the spool, bookkeeping to the
    journal."""
    DONE = "leader (cycles done)"

    @property
    def leads(self) -> bool:
        return self is not Role.STANDBY


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


class RoundLines:
    """The scheduler's round observer: the exporter's self-metrics, plus one log line per target
    when a round ends (ok/failed, TTFT p50, share fluid, fluent rate)."""

    def __init__(self, metrics: DaemonMetrics, results: RoundResults) -> None:
        self._metrics = metrics
        self._results = results

    def round_started(self, index: int, late_s: float) -> None:
        self._metrics.round_started(index, late_s)

    def round_done(self, index: int, status: RoundStatus) -> None:
        self._metrics.round_done(index, status)
        for target in self._results.pop(index):
            log.info("round %d %s: %s", index, status.value, target.line())

    def round_missed(self) -> None:
        self._metrics.round_missed()


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
        self._scrubber = scrubber_for(settings)
        """Every configured secret: probes and log lines pass it."""
        self._db_state = "starting"
        self._role = Role.STANDBY
        self._writer: SpoolingWriter | None = None
        self._ledger: JournaledLedger | None = None
        self._backoff = Backoff(monotonic, settings.schedule.backoff_default_s)
        self._maintained_at = monotonic()
        self._mine = {(n, settings.target_region(n)) for n in settings.targets}
        """(target, region) pairs this daemon exports windows for (others' regions share the DB)."""
        self._round_results = RoundResults()
        """Score records of the running round, for its one line per target in the log."""
        self._written = 0
        """Probes stored or spooled by this process (the shutdown line says how many)."""
        self._profiles: dict[str, tuple[float, float, float]] = {}
        """Fitted D_p coefficients of targets with `prefill_model: profile` (see _load_profiles)."""
        self.registry.register(TargetCollector(settings, interval_s(settings.schedule, wall())))
        self.registry.register(WindowCollector(self.snapshot))
        self._changes: ChangeWatcher | None = None
        self.registry.register(ChangeCollector(self._change_tallies))

    # ----------------------------------------------------------------- helpers

    def snapshot(self) -> WindowSnapshot:
        return self._snapshot

    def _change_tallies(self) -> Sequence[Tally]:
        return () if self._changes is None else self._changes.snapshot().tallies

    def readiness(self) -> Readiness:
        """Not ready while the database is down or the spool's disk refuses writes; each check
        names its own cause, so a full disk is never reported as a database outage."""
        disk = "ok"
        if self._writer is not None and self._writer.disk_error is not None:
            disk = f"{self._writer.disk_error} ({self._writer.held} trace(s) held in memory)"
        elif self._ledger is not None and self._ledger.disk_error is not None:
            disk = self._ledger.disk_error
        checks = {"database": self._db_state, "disk": disk, "scheduler": self._role.value}
        return Readiness(self._db_state == "ok" and disk == "ok", checks)

    def request_stop(self) -> None:
        self.stop_requested.set()

    # ----------------------------------------------------------------- lifecycle

    async def run(self) -> int:
        scrub_logs(self._scrubber)  # handlers are set up by now (`run` configures logging)
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
                except StoreUnavailable as e:
                    raise StartupError(f"database unreachable: {e.reason}") from None
                self._db_state = "ok"
                ledger = JournaledLedger(store, self.settings.data_dir / LEDGER_DIR)
                writer = SpoolingWriter(
                    store,
                    Spool(self.settings.data_dir / SPOOL_DIR),
                    on_write_error=lambda _e: self.daemon_metrics.db_write_errors.inc(),
                    ready=ledger.reconcile,
                    on_drop=self.daemon_metrics.spool_dropped.inc,
                )
                self._writer, self._ledger = writer, ledger
                self.daemon_metrics.spool_depth.set(writer.depth)
                tokenizer = get_tokenizer()
                plane = await stack.enter_async_context(self._plane())
                self._declare_series()
                settle_heap()  # start-up garbage frozen: fewer GC pauses between reads
                lag = LoopLagMonitor(
                    self.settings.exporter.loop_lag_sample_s,
                    on_sample=self.daemon_metrics.loop_lag.observe,
                )
                lag.start()
                stack.push_async_callback(lag.stop)
                background = [
                    asyncio.create_task(self._refresh_windows(store, writer), name="windows"),
                ]
                if self.settings.changes.enabled:  # change detection after each stored probe
                    self._changes = ChangeWatcher(
                        store.engine, settings_from(self.settings.changes), self._wall
                    )
                    background.append(asyncio.create_task(self._changes.run(), name="changes"))
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
                except StoreUnavailable as e:
                    log.warning("database lost right after taking the lead: %s", e.reason)
                    await leader.release()
                    await self._first(asyncio.sleep(s.schedule.leader_poll_s))
                    continue
                self._role = Role.LEADER
                self.leading.set()
                self.daemon_metrics.set_leader(True)
                scheduler = RoundScheduler(
                    s,
                    ledger,
                    runner,
                    RoundLines(self.daemon_metrics, self._round_results),
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
                    self._role = Role.STANDBY
                    self.leading.clear()
                    self.daemon_metrics.set_leader(False)
                    self._snapshot = WindowSnapshot()
                    cycles_done = scheduler.cycles_done
                if scheduler.finished.is_set():
                    log.info(
                        "%d cycle(s) complete; probing stopped, still serving until stopped",
                        scheduler.cycles_done,
                    )
                    self._role = Role.DONE
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
            self._role = Role.DEGRADED
            while True:
                done, _ = await asyncio.wait({finished}, timeout=poll)
                if done:
                    return
                regained = await leader.reacquire()
                if regained is None:
                    continue
                if regained:
                    log.warning("region %s: database back; lead kept", leader.region)
                    self._role = Role.LEADER
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
        create the same partition. Stored prefill profiles are reloaded on the same rhythm.
        """
        await self._load_profiles(store)
        result = await store.maintain(self._wall())
        self._maintained_at = self._monotonic()
        log.info("partitions: %s", result)

    async def _register_targets(self, store: Store) -> None:
        now = self._wall()
        for name, t in self.settings.targets.items():
            await store.register_target(name, t.model_dump(mode="json"), now)

    async def _load_profiles(self, store: Store) -> None:
        wanted = [n for n, t in self.settings.targets.items() if wants_profile(t)]
        if not wanted:
            return
        found = await latest_profiles(store.engine, wanted)
        self._profiles = {n: p.coefficients for n, p in found.items()}
        for name in sorted(set(wanted) - set(found)):
            log.warning("target %s wants a prefill profile but none is stored: default D_p", name)

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
                    target=apply_profile(job.target, self._profiles.get(job.target_name)),
                    region=job.region,
                    prompt=prompt,
                    keep_text=keep_text,
                )
            )

        return probe

    def _trace_sink(self, writer: SpoolingWriter) -> Callable[[ProbeJob, Trace], Awaitable[None]]:
        async def on_trace(job: ProbeJob, trace: Trace) -> None:
            # Score once (~1.5 ms of numpy per probe) in a worker thread, off the loop that stamps
            # other probes' chunks; the same record feeds the row and, once the row (or the
            # spool) holds the probe, /metrics (prometheus_client metrics are thread-safe).
            (record,) = await asyncio.to_thread(score_traces, [trace])
            ref = job.round
            try:
                await writer.write(trace, ref, score=record)
            except Exception as e:
                # Refused for its content (an outage spools instead): set aside, counted as a
                # write error, and NOT counted as a probe, since the database will never hold it.
                # One line, never the row (it holds vendor text): the driver's first line only.
                self.daemon_metrics.db_write_errors.inc()
                try:
                    await asyncio.to_thread(writer.spool.reject, trace, type(e).__name__)
                except LogWriteError as disk:
                    self.daemon_metrics.spool_dropped.inc()
                    log.error(
                        "probe %s of %s refused by the database (%s) and dropped: %s",
                        trace.probe_id,
                        job.target_name,
                        reason(e),
                        disk,
                    )
                    return
                log.error(
                    "probe %s of %s refused by the database (%s); kept in %s",
                    trace.probe_id,
                    job.target_name,
                    reason(e),
                    writer.spool.rejected_path,
                )
                return
            finally:
                self.daemon_metrics.spool_depth.set(writer.depth)
            await asyncio.to_thread(self.probe_metrics.observe, trace, record)
            self._written += 1
            ok = trace.outcome is Outcome.OK
            self._round_results.add(job.round.round_index, job.target_name, ok, record)
            if self._changes is not None:
                self._changes.notify(trace.target, trace.requested_prompt_tokens)

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
                if self._role.leads:
                    if self._monotonic() - self._maintained_at >= MAINTENANCE_EVERY_S:
                        await self._maintain(store)
                    now = self._wall()
                    rows = await store.window_summaries(now)
                    mine = tuple(r for r in rows if (r.target, r.region) in self._mine)
                    self._snapshot = WindowSnapshot(now.timestamp(), mine)
                else:
                    await store.ping()
                self._db_state = "ok"
            except StoreUnavailable as e:
                self._db_state = f"down: {e.reason}"
            except Exception:
                log.exception("window refresh failed (a bug)")
            await asyncio.sleep(self.settings.exporter.refresh_s)

    async def _flush(self, ledger: JournaledLedger, writer: SpoolingWriter) -> None:
        if ledger.pending and not await ledger.reconcile():
            log.warning(
                "ledger: changes made during the outage kept in %s for the next start", ledger.path
            )
        await ledger.close()
        replayed = await writer.drain() if writer.depth else 0
        log.info(
            "stopped: %d probe(s) stored or spooled this run; %d spooled trace(s) stored now, "
            "%d left in %s; round ledger %s",
            self._written,
            replayed,
            writer.depth,
            writer.spool.path,
            "kept for the next start" if ledger.pending else "in the database",
        )
        await writer.close()
