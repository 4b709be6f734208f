"""A probe worker process: `python -m monitor.plane.worker`, started by the core's `Supervisor`.

Its event loop (uvloop when installed) does what the prober does and nothing else: connect, send,
stamp reads, frame and parse the streams in slices, and send each finished trace back, encoded in
slices too (`message.encode_trace`). Prompts arrive built; nothing else (no store, no scoring, no
HTTP server, no scheduler) shares its loop or its GIL.

Protocol on stdin/stdout (`monitor.plane.message`); fd 1 is moved away at start and pointed at
stderr, so a stray print cannot corrupt a frame, and logs go to the daemon's stderr. The worker
ignores SIGINT and SIGTERM: the core decides shutdown (it sends `stop` and the worker drains), so
a terminal's Ctrl-C or a service manager signalling the whole group cannot cut probes the core
means to finish. End of stdin means the core is gone: the worker exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

from monitor.plane.message import (
    Job,
    MessageError,
    encode_trace,
    frame,
    job_from_header,
    read_frame,
    trace_frame,
)
from monitor.probe.client import Prober
from monitor.probe.eventloop import run as run_loop
from monitor.probe.gcpolicy import settle_heap
from monitor.probe.looplag import LoopLagMonitor
from monitor.probe.session import make_session
from monitor.probe.tokens import get_tokenizer
from monitor.trace import Outcome, Trace

log = logging.getLogger("monitor.plane.worker")
EXIT_BAD_FRAME = 3
HOLD_S = 0.25
"""A finished ok trace waits at most this long for the worker's other streams to end before it is
encoded and sent, so the core's work on it (decode, score, store) competes less with open streams:
streams a round started together end within a few hundred ms of each other. Short, because a
target's next probe (its concurrency slot) waits for the trace; failed traces go at once (a 429
must back the target off before its next probe)."""


class Worker:
    """Runs jobs from the core until `stop` (drain) or end of input (exit now)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connections: int,
        heartbeat_s: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._connections = connections
        self._heartbeat_s = heartbeat_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._lag = LoopLagMonitor()
        self._held: list[Trace] = []
        self._held_since = 0.0
        self._flushing: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        self._lag.start()
        async with make_session(self._connections) as session:
            tokenizer = get_tokenizer()
            probers = {
                keep: Prober(session, tokenizer, lag_monitor=self._lag, keep_text=keep)
                for keep in (True, False)
            }
            settle_heap()
            self._send(frame({"kind": "hello", "pid": os.getpid()}))
            beats = asyncio.create_task(self._beat(), name="heartbeat")
            while True:
                message = await self._next()
                header, _payload = message
                kind = header["kind"]
                if kind == "stop":
                    break
                if kind == "cancel":
                    self._cancel(header)
                elif kind == "job":
                    try:
                        job = job_from_header(header)
                    except MessageError as e:
                        pid = str(header.get("probe_id", ""))
                        self._send(frame({"kind": "reject", "probe_id": pid, "reason": str(e)}))
                        continue
                    prober = probers[job.keep_text]
                    self._tasks[job.probe_id] = asyncio.create_task(
                        self._probe(prober, job), name=f"probe:{job.target_name}"
                    )
            # drain: the core said stop; keep obeying cancels and watching for its exit meanwhile
            watch = asyncio.create_task(self._cancels(), name="watch-core")
            if self._tasks:
                await asyncio.wait(set(self._tasks.values()))
            while self._held or self._flushing is not None:
                self._maybe_flush()
                if self._flushing is not None:
                    await asyncio.shield(self._flushing)
            watch.cancel()
            beats.cancel()
            await self._writer.drain()
            await self._lag.stop()

    def _cancel(self, header: dict[str, object]) -> None:
        task = self._tasks.get(str(header.get("probe_id")))
        if task is not None:
            task.cancel()

    async def _cancels(self) -> None:
        while True:
            header, _payload = await self._next()
            if header["kind"] == "cancel":
                self._cancel(header)

    async def _next(self) -> tuple[dict[str, object], str | None]:
        try:
            message = await read_frame(self._reader)
        except MessageError as e:
            log.error("probe worker: unreadable frame from the core (%s); exiting", e)
            os._exit(EXIT_BAD_FRAME)
        if message is None:
            os._exit(0)  # the core is gone: nobody to deliver traces to
        return message

    async def _probe(self, prober: Prober, job: Job) -> None:
        try:
            trace = await prober.probe(
                job.target,
                job.prompt,
                target_name=job.target_name,
                max_tokens=job.max_tokens,
                probe_id=job.probe_id,
                region=job.region,
            )
            if not self._held:
                self._held_since = time.monotonic()
            self._held.append(trace)
            if trace.outcome is not Outcome.OK:
                self._held_since = -HOLD_S  # send now, with whatever else is held
        except asyncio.CancelledError:
            pass  # the core gave up on this probe; it expects nothing back
        except Exception as e:  # a bug: the core must still hear about the probe
            log.exception("probe worker: probe %s failed unexpectedly", job.probe_id)
            reason = f"worker error: {type(e).__name__}"
            self._send(frame({"kind": "reject", "probe_id": job.probe_id, "reason": reason}))
        finally:
            self._tasks.pop(job.probe_id, None)
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        """Send held traces once no stream is open, or once the oldest waited `HOLD_S`."""
        if not self._held or self._flushing is not None:
            return
        if self._tasks and time.monotonic() - self._held_since < HOLD_S:
            return
        batch, self._held = self._held, []
        self._flushing = asyncio.create_task(self._flush(batch), name="send-traces")

    async def _flush(self, batch: list[Trace]) -> None:
        try:
            for trace in batch:
                line = await encode_trace(trace)  # in slices: other streams may be open
                self._send(trace_frame(trace.probe_id, line))
        finally:
            self._flushing = None
        self._maybe_flush()

    async def _beat(self) -> None:
        clock = time.perf_counter_ns
        last = clock()
        while True:
            await asyncio.sleep(self._heartbeat_s)
            now = clock()
            lag = self._lag.max_lag_ns(last, now)
            self._maybe_flush()
            self._send(frame({"kind": "beat", "lag_max_ns": lag, "in_flight": len(self._tasks)}))
            last = now

    def _send(self, data: bytes) -> None:
        self._writer.write(data)


async def _pipes(in_fd: int, out_fd: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", buffering=0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


async def _main(connections: int, heartbeat_s: float, out_fd: int) -> None:
    reader, writer = await _pipes(0, out_fd)
    await Worker(reader, writer, connections, heartbeat_s).serve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="monitor.plane.worker", description=__doc__)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--heartbeat", type=float, default=0.5)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # protocol has its own fd now; anything printed goes to stderr
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    run_loop(_main(args.connections, args.heartbeat, out_fd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
