"""The worker loop: claim in batches, run, complete in batches, renew leases, stop cleanly.

Completions are buffered and written by one flusher task: while a write is in
flight the next results gather, so under load one statement completes many jobs and
at rest a result is written at once. A heartbeat renews the leases of running jobs;
a job whose lease was lost is cancelled here, since another worker may own it now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infrakit._internal.secrets import mask_dsn, mask_known_secrets
from infrakit.errors import AppError
from infrakit.jobs._models import Job
from infrakit.jobs._processor import PayloadError, Processor
from infrakit.jobs._protocol import Lease, Outcome
from infrakit.jobs._rules import invalid
from infrakit.jobs._schedule import tick_job

if TYPE_CHECKING:
    from infrakit.jobs._queue import JobQueue

__all__ = ["Worker"]

_BATCH_LIMIT = 100
_PURGE_EVERY = 60.0
_MAX_ERROR_LENGTH = 2000


class Worker:
    """One `run_worker` call: owns its tasks, leases and buffers."""

    def __init__(
        self,
        queue: JobQueue,
        job_types: Sequence[str] | None,
        concurrency: int | None,
        shutdown_timeout: float,
    ) -> None:
        types = list(queue.processors) if job_types is None else list(job_types)
        unknown = [name for name in types if name not in queue.processors]
        if unknown or not types:
            raise invalid("job_types", "register a processor for every job type the worker runs")
        self.queue = queue
        self.storage = queue.storage
        self.logger = queue.logger
        self.job_types = types
        self.processors: dict[str, Processor] = {name: queue.processors[name] for name in types}
        total = sum(processor.concurrency for processor in self.processors.values())
        self.capacity = concurrency if concurrency is not None else total
        self.shutdown_timeout = shutdown_timeout
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[str, tuple[asyncio.Task[None], Lease]] = {}
        self.lost: set[str] = set()
        self.stopping = asyncio.Event()
        self.slot_free = asyncio.Event()
        self.results: list[Outcome] = []
        self.results_ready = asyncio.Event()
        self.closing = False
        self.next_maintenance = 0.0
        self.next_purge = 0.0

    def stop(self) -> None:
        self.stopping.set()
        self.slot_free.set()

    async def run(self, *, handle_signals: bool) -> None:
        removers = self._install_signals() if handle_signals else []
        heartbeat = asyncio.create_task(self._heartbeat(), name="jobs-heartbeat")
        flusher = asyncio.create_task(self._flusher(), name="jobs-flusher")
        self.logger.info("job worker started", worker=self.worker_id, job_types=self.job_types)
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await self._finish_flushing(flusher)
            for remove in removers:
                remove()
            self.logger.info("job worker stopped", worker=self.worker_id)

    # -- claiming --------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                wait = await self._maintain_if_due()
                free = self.capacity - len(self.running)
                if free < self._claim_threshold():
                    self.slot_free.clear()
                    await self.slot_free.wait()
                    continue
                limit = min(free, _BATCH_LIMIT)
                jobs = await self.storage.claim_jobs(self.job_types, limit, self.worker_id)
                for job in jobs:
                    self._start(job)
                if len(jobs) < limit:
                    await self._wait_for_work(wait)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.logger.warning("job claim failed; retrying", error=_describe(error))
                await self._pause(self.queue.poll_interval)

    def _claim_threshold(self) -> int:
        """Free slots worth a claim: any when idle, else half a batch, so a busy worker
        claims in batches instead of one round trip per finished job."""
        if not self.running:
            return 1
        return max(1, min(self.capacity, _BATCH_LIMIT) // 2)

    async def _wait_for_work(self, until_due: float | None) -> None:
        timeout = self.queue.poll_interval
        if until_due is not None:
            timeout = max(min(timeout, until_due), 0.001)
        waiter = asyncio.ensure_future(self.storage.wait_for_work(timeout))
        stopper = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                task.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _maintain_if_due(self) -> float | None:
        now = time.monotonic()
        if now < self.next_maintenance:
            return self.next_maintenance - now
        self.next_maintenance = now + self.queue.poll_interval
        until_due = await self.storage.maintain()
        await self._fire_schedules()
        if self.queue.retention is not None and now >= self.next_purge:
            self.next_purge = now + _PURGE_EVERY
            removed = await self.storage.purge_finished(self.queue.retention)
            if removed:
                self.logger.info("finished jobs removed", count=removed)
        if until_due is not None and until_due < self.queue.poll_interval:
            self.next_maintenance = now + until_due
        return min(until_due, self.queue.poll_interval) if until_due is not None else None

    async def _fire_schedules(self) -> None:
        for schedule in await self.storage.due_schedules():
            tick = tick_job(schedule, datetime.now(UTC))
            if await self.storage.fire_schedule(schedule, tick.next_run_at, tick.job):
                self.logger.info("schedule fired", schedule=schedule.name, job_id=tick.job.id)

    # -- running ---------------------------------------------------------------------

    def _start(self, job: Job[Any]) -> None:
        lease = Lease(job.id, job.lease_token)
        task = asyncio.create_task(self._execute(job, lease), name=f"job-{job.id}")
        self.running[job.id] = (task, lease)
        task.add_done_callback(lambda _: self._finished(job.id))

    def _finished(self, job_id: str) -> None:
        self.running.pop(job_id, None)
        self.lost.discard(job_id)
        self.slot_free.set()

    async def _execute(self, job: Job[Any], lease: Lease) -> None:
        processor = self.processors[job.job_type]
        async with processor.semaphore():
            try:
                result = await self._call(processor, job)
            except asyncio.CancelledError:
                if job.id in self.lost:
                    self.logger.warning("job lease lost; stopped running it", job_id=job.id)
                raise
            except PayloadError as error:
                await self._fail(job, lease, str(error), retry=False, processor=processor)
                return
            except _AttemptTimeoutError:
                message = f"timed out after {job.timeout} s"
                await self._fail(job, lease, message, retry=True, processor=processor)
                return
            except Exception as error:
                await self._fail(job, lease, _describe(error), retry=True, processor=processor)
                return
            try:
                encoded = json.dumps(result, allow_nan=False, separators=(",", ":"))
            except (TypeError, ValueError):
                message = f"the result ({type(result).__name__}) is not JSON-serialisable"
                await self._fail(job, lease, message, retry=False, processor=processor)
                return
            self.results.append(Outcome(lease, encoded))
            self.results_ready.set()

    async def _call(self, processor: Processor, job: Job[Any]) -> Any:
        """The processor's result; its own TimeoutError stays an ordinary failure."""
        if job.timeout is None:
            return await processor.call(job)
        scope = asyncio.timeout(job.timeout)
        try:
            async with scope:
                return await processor.call(job)
        except TimeoutError:
            if scope.expired():
                raise _AttemptTimeoutError from None
            raise

    async def _fail(
        self, job: Job[Any], lease: Lease, error: str, *, retry: bool, processor: Processor
    ) -> None:
        retry_in = processor.retry_in(job) if retry else None
        error = _masked(error)  # stored and shown to anyone who reads the job
        try:
            accepted = await self.storage.fail_job(lease, error[:_MAX_ERROR_LENGTH], retry_in)
        except Exception as failure:
            self.logger.error(
                "could not record a job failure", job_id=job.id, error=_describe(failure)
            )
            return
        if not accepted:
            self.logger.warning("job failure refused: its lease was lost", job_id=job.id)
            return
        log = self.logger.info if retry_in is not None else self.logger.warning
        log(
            "job attempt failed" if retry_in is not None else "job failed",
            job_id=job.id,
            job_type=job.job_type,
            attempt=job.attempts,
            retry_in=retry_in,
            error=error[:200],
        )

    # -- completing ------------------------------------------------------------------

    async def _flusher(self) -> None:
        while not (self.closing and not self.results):
            await self.results_ready.wait()
            self.results_ready.clear()
            await self._flush()

    async def _flush(self) -> None:
        batch, self.results = self.results, []
        if not batch:
            return
        while True:
            try:
                accepted = await self.storage.complete_jobs(batch)
                break
            except asyncio.CancelledError:
                self.results[:0] = batch
                raise
            except Exception as error:
                self.logger.warning("job completion failed; retrying", error=_describe(error))
                await asyncio.sleep(min(self.queue.poll_interval, 1.0))
        refused = [item.lease.job_id for item in batch if item.lease.job_id not in accepted]
        if refused:
            self.logger.warning("job completion refused: lease lost", job_ids=refused[:20])

    async def _finish_flushing(self, flusher: asyncio.Task[None]) -> None:
        """Let the flusher write what is buffered (a write in flight is never cut off)."""
        self.closing = True
        self.results_ready.set()
        try:
            await asyncio.wait_for(flusher, timeout=max(self.shutdown_timeout, 5.0))
        except Exception as error:
            self.logger.error("job completions not written", error=_describe(error))

    # -- leases ----------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        interval = max(float(getattr(self.storage, "lease_seconds", 30.0)) / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            leases = [lease for _, lease in self.running.values()]
            if not leases:
                continue
            try:
                renewed = await self.storage.renew_leases(leases)
            except Exception as error:
                self.logger.warning("lease renewal failed", error=_describe(error))
                continue
            for lease in leases:
                if lease.job_id not in renewed and lease.job_id in self.running:
                    self._lose(lease.job_id)

    def _lose(self, job_id: str) -> None:
        pending = [item for item in self.results if item.lease.job_id == job_id]
        if pending:
            return  # finished; its completion is on its way
        self.lost.add(job_id)
        self.running[job_id][0].cancel()

    # -- stopping --------------------------------------------------------------------

    async def _drain(self) -> None:
        tasks = [task for task, _ in self.running.values()]
        if tasks:
            self.logger.info("worker stopping; waiting for running jobs", running=len(tasks))
            await asyncio.wait(tasks, timeout=self.shutdown_timeout)
        left = list(self.running.values())
        if not left:
            return
        for task, _ in left:
            task.cancel()
        await asyncio.gather(*(task for task, _ in left), return_exceptions=True)
        leases = [lease for _, lease in left]
        try:
            await self.storage.release_jobs(leases)
            self.logger.warning("unfinished jobs released to waiting", count=len(leases))
        except Exception as error:
            self.logger.error(
                "could not release jobs; their leases will expire", error=_describe(error)
            )

    def _install_signals(self) -> list[Any]:
        if threading.current_thread() is not threading.main_thread():
            return []
        loop = asyncio.get_running_loop()
        removers = []
        for number in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(number, self.stop)
            except (NotImplementedError, RuntimeError):
                continue
            removers.append(lambda number=number: loop.remove_signal_handler(number))
        return removers


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")


def _masked(text: str) -> str:
    """Registered secrets and URL passwords masked, wherever they sit in the text."""
    return _URL.sub(lambda match: mask_dsn(match.group()), mask_known_secrets(text))


class _AttemptTimeoutError(Exception):
    """The job's own `timeout` ran out (not a TimeoutError its code raised)."""


def _describe(error: BaseException) -> str:
    if isinstance(error, AppError):
        return f"{type(error).__name__}[{error.code}]: {error.message}"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
