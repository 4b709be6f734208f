"""The core's side of the measurement plane: start, feed, watch and replace probe workers.

`run(job)` sends a job to the live worker with the fewest probes in flight and returns its trace.
Every job comes back as a trace, whatever happens to the worker:

- **died** (exit, kill -9, OOM killer): its end of the pipe closes; every probe it had in flight
  becomes a failed trace, outcome `worker_lost`, with the reason ("probe worker 0 (pid 123) killed
  by SIGKILL"); a new worker takes its slot (after a back-off if it keeps dying young).
- **stuck** (no frame for `probe.stuck_after_s`, heartbeats come every `probe.heartbeat_s`): killed
  with SIGKILL, then as above.
- **RSS over `probe.rss_limit_mb`** (read from /proc by the core, every heartbeat): retired: a new
  worker takes the slot and new jobs, the old one gets `stop`, finishes its probes and exits.
  Above twice the limit it is killed as above: memory is bounded without cutting probes in the
  normal case, and without `RLIMIT_AS`, which fails allocations at random points instead.

Priority: workers are spawned from one thread the supervisor starts before anything else, and
`lower_core_priority` raises the nice value of the core's main thread only. On Linux the nice
value is per thread and a child inherits its forking thread's, so workers (and their restarts)
keep the priority the daemon started with, while the core's loop and every thread it creates
later run `probe.core_nice` steps lower. No privilege is needed: only lowering one's own priority.

Shutdown: `stop` sends `stop` to every worker, waits for them to drain and exit, kills the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from monitor.config import ProbePlane
from monitor.plane.message import (
    Beat,
    Job,
    MessageError,
    frame,
    job_header,
    read_frame,
    trace_from_payload,
)
from monitor.probe.client import deadlines_for
from monitor.trace import Outcome, Trace, TraceFormatError

if TYPE_CHECKING:  # the worker imports this package: keep the exporter out of its process
    from monitor.export.plane_metrics import PlaneMetrics

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S: Final = 60.0
"""A fresh worker must say hello within this (imports on a loaded machine take seconds)."""
YOUNG_S: Final = 5.0
"""A worker that dies younger than this is restarted after a growing back-off (at most 30 s)."""
MAX_BACKOFF_S: Final = 30.0
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def lost_trace(job: Job, started_at: datetime, reason: str) -> Trace:
    """The failed trace of a probe whose worker was lost: what was asked, no chunks, the reason."""
    t = job.target
    return Trace(
        probe_id=job.probe_id,
        chunks=(),
        prompt_tokens=None,
        target=job.target_name,
        provider=t.provider,
        model=t.model,
        api=t.resolved_api,
        region=job.region or t.region or "",
        started_at=started_at,
        requested_prompt_tokens=job.prompt.tokens,
        max_tokens=job.max_tokens or t.workloads.max_tokens,
        outcome=Outcome.WORKER_LOST,
        error=reason,
        deadlines=deadlines_for(t, job.prompt.tokens),
    )


def rss_bytes(pid: int) -> int | None:
    """Resident memory of `pid` from /proc (None where there is no /proc or it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass(slots=True)
class _Pending:
    job: Job
    future: asyncio.Future[Trace]
    sent_at: datetime


@dataclass(slots=True, eq=False)
class _Worker:
    slot: int
    proc: subprocess.Popen[bytes]
    writer: asyncio.StreamWriter
    reader: asyncio.StreamReader
    born: float
    last_seen: float
    pending: dict[str, _Pending] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    retiring: bool = False
    fate: tuple[str, str] | None = None
    """(restart reason, description) when the supervisor itself killed it."""
    task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"probe worker {self.slot} (pid {self.proc.pid})"

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class Supervisor:
    def __init__(
        self,
        config: ProbePlane,
        *,
        connections: int = 64,
        metrics: PlaneMetrics | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        python: str = sys.executable,
    ) -> None:
        self.config = config
        self._connections = connections
        self._metrics = metrics
        self._wall = wall
        self._monotonic = monotonic
        self._python = python
        self._slots: list[_Worker | None] = [None] * config.workers
        self._retiring: set[_Worker] = set()
        self._deaths: list[int] = [0] * config.workers
        self._spawner: ThreadPoolExecutor | None = None
        self._watch: asyncio.Task[None] | None = None
        self._respawns: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._stopping = False
        self.restarts = 0

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start every worker and wait until each said hello."""
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="plane-spawn")
        # the thread exists (at the starting priority) before the core may lower its own
        await asyncio.get_running_loop().run_in_executor(self._spawner, lambda: None)
        if self._metrics is not None:
            self._metrics.declare(self.config.workers)
        workers = await asyncio.gather(*(self._spawn(i) for i in range(self.config.workers)))
        await asyncio.gather(*(self._await_hello(w) for w in workers))
        self._watch = asyncio.create_task(self._watchdog(), name="plane-watchdog")

    def lower_core_priority(self) -> int:
        """Raise the calling (main) thread's nice value by `probe.core_nice`; the new value."""
        step = self.config.core_nice
        if step <= 0:
            return os.getpriority(os.PRIO_PROCESS, 0)
        try:
            return os.nice(step)
        except OSError as e:
            log.warning("could not lower the core's priority: %s", e.strerror)
            return os.getpriority(os.PRIO_PROCESS, 0)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Drain: no new jobs; every worker finishes what it has, then exits (killed after
        `timeout_s`). Probes still unanswered then come back as `worker_lost`."""
        self._stopping = True
        self._changed.set()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for task in list(self._respawns):
            task.cancel()
        workers = [w for w in (*self._slots, *self._retiring) if w is not None]
        for w in workers:
            w.send(frame({"kind": "stop"}))
        tasks = [w.task for w in workers if w.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
            for w in workers:
                if w.task in late:
                    w.fate = ("died", f"{w.name} did not stop in {timeout_s:g}s; killed")
                    _kill(w.proc)
            if late:
                await asyncio.wait(late, timeout=10)
        if self._spawner is not None:
            self._spawner.shutdown(wait=False)

    # ----------------------------------------------------------------- probes

    async def run(self, job: Job) -> Trace:
        sent_at = self._wall()
        worker = await self._pick()
        if worker is None:
            reason = "no probe worker available" + (" (stopping)" if self._stopping else "")
            return lost_trace(job, sent_at, reason)
        future: asyncio.Future[Trace] = asyncio.get_running_loop().create_future()
        worker.pending[job.probe_id] = _Pending(job, future, sent_at)
        self._gauge_in_flight(worker)
        worker.send(frame(job_header(job)))
        try:
            return await future
        except asyncio.CancelledError:
            if worker.pending.pop(job.probe_id, None) is not None:
                worker.send(frame({"kind": "cancel", "probe_id": job.probe_id}))
                self._gauge_in_flight(worker)
            raise

    async def _pick(self) -> _Worker | None:
        deadline = self._monotonic() + max(self.config.stuck_after_s, HELLO_TIMEOUT_S)
        while not self._stopping:
            live = [w for w in self._slots if w is not None and w.ready.is_set()]
            if live:
                return min(live, key=lambda w: len(w.pending))
            left = deadline - self._monotonic()
            if left <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 1.0))
        return None

    def pids(self) -> list[int | None]:
        """The current worker of each slot (None while one is being replaced)."""
        return [w.proc.pid if w is not None and w.ready.is_set() else None for w in self._slots]

    # ----------------------------------------------------------------- workers

    async def _spawn(self, slot: int) -> _Worker:
        assert self._spawner is not None
        loop = asyncio.get_running_loop()
        argv = [
            self._python,
            "-m",
            "monitor.plane.worker",
            "--connections",
            str(self._connections),
            "--heartbeat",
            f"{self.config.heartbeat_s:g}",
            "--log-level",
            logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        ]

        def popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
                start_new_session=True,  # a terminal's Ctrl-C goes to the core, which drains
            )

        proc = await loop.run_in_executor(self._spawner, popen)
        assert proc.stdin is not None and proc.stdout is not None
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), proc.stdout)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, proc.stdin
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        now = self._monotonic()
        worker = _Worker(slot, proc, writer, reader, born=now, last_seen=now)
        self._slots[slot] = worker
        worker.task = asyncio.create_task(self._read(worker), name=f"plane-worker-{slot}")
        if self._metrics is not None:
            self._metrics.pid.labels(str(slot)).set(proc.pid)
        log.info("%s started", worker.name)
        return worker

    async def _await_hello(self, worker: _Worker) -> None:
        ready = asyncio.create_task(worker.ready.wait())
        assert worker.task is not None
        await asyncio.wait(
            {ready, worker.task}, timeout=HELLO_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if not worker.ready.is_set() and worker.proc.poll() is None:
            worker.fate = ("died", f"{worker.name} did not start in {HELLO_TIMEOUT_S:g}s")
            _kill(worker.proc)

    async def _read(self, worker: _Worker) -> None:
        """Every frame from one worker, until its pipe closes; then account for its probes."""
        problem: str | None = None
        try:
            while True:
                message = await read_frame(worker.reader)
                if message is None:
                    break
                worker.last_seen = self._monotonic()
                self._handle(worker, *message)
        except MessageError as e:
            problem = f"sent an unreadable frame ({e})"
            _kill(worker.proc)
        except Exception:
            log.exception("%s: handling its frames failed (a bug)", worker.name)
            problem = "could not be read (a bug)"
            _kill(worker.proc)
        worker.ready.clear()  # no new jobs while it is reaped
        code = await _reap(worker.proc)
        worker.writer.close()
        self._gone(worker, code, problem)

    def _handle(self, worker: _Worker, header: dict[str, object], payload: str | None) -> None:
        kind = header["kind"]
        if kind == "trace":
            pending = worker.pending.pop(str(header.get("probe_id")), None)
            if pending is None:
                return  # cancelled meanwhile
            try:
                trace = trace_from_payload(payload)
            except (MessageError, TraceFormatError) as e:
                trace = lost_trace(
                    pending.job, pending.sent_at, f"{worker.name} sent an unreadable trace: {e}"
                )
            if not pending.future.done():
                pending.future.set_result(trace)
            self._gauge_in_flight(worker)
        elif kind == "beat":
            beat = Beat(_int(header.get("lag_max_ns")), _int(header.get("in_flight")))
            if self._metrics is not None and not worker.retiring:
                self._metrics.loop_lag.labels(str(worker.slot)).observe(beat.lag_max_ns / 1e9)
        elif kind == "hello":
            worker.ready.set()
            self._changed.set()
        elif kind == "reject":
            pending = worker.pending.pop(str(header.get("probe_id")), None)
            if pending is not None and not pending.future.done():
                reason = f"{worker.name} rejected the job: {header.get('reason')}"
                pending.future.set_result(lost_trace(pending.job, pending.sent_at, reason))
            self._gauge_in_flight(worker)

    def _gone(self, worker: _Worker, code: int | None, problem: str | None) -> None:
        """A worker's process ended: fail its probes, free its slot, start its replacement."""
        clean = code == 0 and (worker.retiring or self._stopping) and not worker.pending
        if worker.fate is not None:
            kind, reason = worker.fate
        else:
            kind, reason = "died", f"{worker.name} {problem or describe_exit(code)}"
        for pending in worker.pending.values():
            if not pending.future.done():
                pending.future.set_result(lost_trace(pending.job, pending.sent_at, reason))
        lost = len(worker.pending)
        worker.pending.clear()
        self._retiring.discard(worker)
        if self._slots[worker.slot] is worker:
            self._slots[worker.slot] = None
            self._gauge_in_flight(worker)
            self._changed.set()
        if clean:
            log.info("%s exited", worker.name)
            return
        log.error("%s; %d probe(s) in flight failed as worker_lost", reason, lost)
        if self._stopping or worker.retiring:
            return
        self.restarts += 1
        if self._metrics is not None:
            self._metrics.restarts.labels(str(worker.slot), kind).inc()
        young = self._monotonic() - worker.born < YOUNG_S
        self._deaths[worker.slot] = self._deaths[worker.slot] + 1 if young else 0
        delay = min(MAX_BACKOFF_S, 0.5 * 2 ** (self._deaths[worker.slot] - 1)) if young else 0.0
        self._replace(worker.slot, delay)

    def _replace(self, slot: int, delay_s: float = 0.0) -> None:
        async def respawn() -> None:
            if delay_s:
                await asyncio.sleep(delay_s)
            if self._stopping:
                return
            worker = await self._spawn(slot)
            await self._await_hello(worker)

        task = asyncio.create_task(respawn(), name=f"plane-respawn-{slot}")
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            limit = self.config.rss_limit_mb * 2**20
            now = self._monotonic()
            for worker in [w for w in self._slots if w is not None]:
                silent = now - worker.last_seen
                if worker.ready.is_set() and silent > self.config.stuck_after_s and not worker.fate:
                    worker.fate = ("stuck", f"{worker.name} stuck: no heartbeat for {silent:.1f}s")
                    _kill(worker.proc)
                    continue
                rss = rss_bytes(worker.proc.pid)
                if rss is None:
                    continue
                if self._metrics is not None:
                    self._metrics.rss.labels(str(worker.slot)).set(rss)
                if rss > 2 * limit and not worker.fate:
                    mb = rss // 2**20
                    worker.fate = ("rss", f"{worker.name} killed at {mb} MiB RSS (limit x2)")
                    _kill(worker.proc)
                elif rss > limit and not worker.retiring and not worker.fate:
                    self._retire(worker, rss)

    def _retire(self, worker: _Worker, rss: int) -> None:
        log.warning(
            "%s at %d MiB RSS (limit %d MiB): replacing it once its probes finish",
            worker.name,
            rss // 2**20,
            self.config.rss_limit_mb,
        )
        worker.retiring = True
        self._retiring.add(worker)
        self._slots[worker.slot] = None
        worker.send(frame({"kind": "stop"}))
        self.restarts += 1
        if self._metrics is not None:
            self._metrics.restarts.labels(str(worker.slot), "rss").inc()
        self._replace(worker.slot)

    def _gauge_in_flight(self, worker: _Worker) -> None:
        if self._metrics is None:
            return
        current = self._slots[worker.slot]
        total = len(current.pending) if current is not None else 0
        total += sum(len(w.pending) for w in self._retiring if w.slot == worker.slot)
        self._metrics.in_flight.labels(str(worker.slot)).set(total)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


async def _reap(proc: subprocess.Popen[bytes]) -> int | None:
    """The exit code once the process is gone (killed if its pipe closed but it lingers)."""
    try:
        return await asyncio.to_thread(proc.wait, 5.0)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return await asyncio.to_thread(proc.wait)
