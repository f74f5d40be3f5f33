"""`JobQueue`: the original's API over any `JobStorage`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from infrakit.jobs._backoff import Backoff, BackoffFunction
from infrakit.jobs._errors import JobCancelledError, JobFailedError, JobNotFoundError
from infrakit.jobs._models import Job, JobPriority, JobStats, JobStatus
from infrakit.jobs._processor import Processor, ProcessorFunction
from infrakit.jobs._protocol import JobStorage
from infrakit.jobs._rules import JobOptions, build_jobs, check_job_id, check_job_type, invalid
from infrakit.jobs._schedule import new_schedule

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["JobQueue"]

_DEFAULT_RETENTION = timedelta(days=7)


class JobQueue:
    """Add, inspect and run background jobs stored in a `JobStorage`.

    Args:
        storage: `MemoryJobStorage`, `SqliteJobStorage` or `PostgresJobStorage`.
        logger: where the queue and its workers log; defaults to `infrakit.jobs`.
        retention: how long completed, failed and cancelled jobs are kept before a
            worker deletes them (None keeps them forever).
        poll_interval: seconds between checks for work when no wake-up arrives (also
            the precision of delayed jobs and schedules when nothing else happens).
    """

    def __init__(
        self,
        storage: JobStorage,
        *,
        logger: Logger | None = None,
        retention: timedelta | float | None = _DEFAULT_RETENTION,
        poll_interval: float = 1.0,
    ) -> None:
        self.storage = storage
        self.logger = logger if logger is not None else _default_logger()
        self.retention = (
            retention.total_seconds() if isinstance(retention, timedelta) else retention
        )
        self.poll_interval = poll_interval
        self.processors: dict[str, Processor] = {}
        self._worker: Any = None
        self._worker_task: asyncio.Task[None] | None = None
        self._stop_requested = False

    def __repr__(self) -> str:
        return f"JobQueue({self.storage!r})"

    async def setup(self) -> None:
        """Create or upgrade the store's tables (idempotent)."""
        await self.storage.setup()

    async def close(self) -> None:
        """Stop a running worker (bounded by its shutdown timeout) and close the store."""
        self.stop_worker()
        task, self._worker_task = self._worker_task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await self.storage.close()

    def start_worker(
        self,
        job_types: Sequence[str] | None = None,
        *,
        concurrency: int | None = None,
        shutdown_timeout: float = 30.0,
    ) -> asyncio.Task[None]:
        """Run a worker in a background task (no signal handlers); `close()` stops it.

        Returns:
            The task, for callers that want to await it.
        """
        task = asyncio.create_task(
            self.run_worker(
                job_types,
                concurrency=concurrency,
                shutdown_timeout=shutdown_timeout,
                handle_signals=False,
            ),
            name="infrakit-jobs-worker",
        )
        self._worker_task = task
        return task

    # -- adding ----------------------------------------------------------------------

    async def add_job(
        self,
        job_type: str,
        data: Any = None,
        *,
        priority: int = JobPriority.NORMAL,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        attempts: int = 3,
        backoff: Backoff | float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        job_id: str | None = None,
        depends_on: str | Sequence[str] | None = None,
        on_parent_failure: str = "fail",
    ) -> str:
        """Add one job and return its id.

        Args:
            job_type: the processor's name (letters, digits, `_ . : -`).
            data: JSON-able payload, or a pydantic model.
            priority: lower runs first (`JobPriority`).
            delay: seconds (or a timedelta) before it may run; or give `run_at`.
            attempts: runs allowed before it fails for good.
            backoff: a `Backoff`, or seconds for a fixed wait between attempts.
            timeout: seconds an attempt may run before it is cancelled (a failed attempt).
            job_id: an idempotency key: while that job is unfinished, adding it again
                returns the same id and adds nothing.
            depends_on: parent id(s); the job is `blocked` until they all complete.
            on_parent_failure: `"fail"`, `"cancel"` or `"ignore"` when a parent fails.

        Raises:
            ValidationError: a bad option or unknown parent, naming the field; nothing stored.
        """
        options = JobOptions(
            priority, delay, run_at, attempts, backoff, timeout, depends_on, on_parent_failure
        )
        jobs = build_jobs(job_type, [(data, job_id)], options)
        return (await self.storage.add_jobs(jobs))[0]

    async def add_jobs(self, job_type: str, items: Iterable[Any], **options: Any) -> list[str]:
        """Add many jobs of one type in one round trip; options as for `add_job`.

        Raises:
            ValidationError: a bad option or item (naming it); nothing stored.
        """
        job_ids = options.pop("job_ids", None)
        data = list(items)
        ids: list[str | None] = list(job_ids) if job_ids is not None else [None] * len(data)
        if len(ids) != len(data):
            raise invalid("job_ids", "must have one id per item")
        jobs = build_jobs(job_type, zip(data, ids, strict=True), _options(options))
        return await self.storage.add_jobs(jobs) if jobs else []

    async def chain_job(
        self, job_type: str, data: Any, depends_on_job_id: str, **options: Any
    ) -> str:
        """Add a job that runs after `depends_on_job_id` completes (the original's name)."""
        check_job_id(depends_on_job_id, "depends_on_job_id")
        return await self.add_job(job_type, data, depends_on=depends_on_job_id, **options)

    async def schedule(
        self,
        name: str,
        job_type: str,
        data: Any = None,
        *,
        cron: str,
        timezone: str = "UTC",
        priority: int = JobPriority.NORMAL,
        attempts: int = 3,
        backoff: Backoff | float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """Add one `job_type` job per tick of `cron`, across any number of workers.

        Each tick's job id is `schedule:<name>:<tick>`, so the store adds exactly one
        per tick; missed ticks after downtime are coalesced into one run (docs/jobs.md).

        Raises:
            ValidationError: a bad name, cron expression or time zone.
        """
        stored_backoff = backoff.to_dict() if isinstance(backoff, Backoff) else backoff
        options: dict[str, Any] = {"priority": priority, "attempts": attempts, "timeout": timeout}
        options["backoff"] = stored_backoff
        await self.storage.save_schedule(
            new_schedule(name, job_type, data, cron, timezone, options)
        )

    # -- processing ------------------------------------------------------------------

    def register_processor(
        self,
        job_type: str,
        fn: ProcessorFunction,
        *,
        concurrency: int = 1,
        backoff: BackoffFunction | Any | None = None,
        data_type: type[Any] | None = None,
    ) -> None:
        """Run `fn(job)` for jobs of `job_type`; its JSON-able return value is the result.

        Args:
            fn: async, or sync (run in a thread). When its parameter is annotated
                `Job[Model]` with a pydantic model (or `data_type` is given), `job.data`
                is validated into that model first.
            concurrency: jobs of this type running at once in one worker.
            backoff: a function of the attempt number, or a tenacity wait strategy,
                overriding the jobs' stored `Backoff`.
        """
        check_job_type(job_type)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise invalid("concurrency", "must be a positive integer")
        self.processors[job_type] = Processor.create(fn, concurrency, backoff, data_type)

    async def run_worker(
        self,
        job_types: Sequence[str] | None = None,
        *,
        concurrency: int | None = None,
        shutdown_timeout: float = 30.0,
        handle_signals: bool = True,
    ) -> None:
        """Process jobs until `stop_worker()` or SIGTERM/SIGINT.

        On stop it claims nothing more, lets running jobs finish for up to
        `shutdown_timeout` seconds, then gives the rest back to `waiting` without
        spending their attempt.

        Args:
            job_types: the registered types to run (all by default).
            concurrency: most jobs running at once (default: the sum of the types').
            shutdown_timeout: seconds running jobs get to finish on stop.
            handle_signals: install SIGTERM/SIGINT handlers (main thread only).
        """
        from infrakit.jobs._worker import Worker

        worker = Worker(self, job_types, concurrency, shutdown_timeout)
        self._worker = worker
        if self._stop_requested:
            worker.stop()
        try:
            await worker.run(handle_signals=handle_signals)
        finally:
            self._worker = None
            self._stop_requested = False

    def stop_worker(self) -> None:
        """Ask the running (or starting) worker to stop, as SIGTERM does."""
        if self._worker is not None:
            self._worker.stop()
        elif self._worker_task is not None:
            self._stop_requested = True

    # -- inspecting and steering -----------------------------------------------------

    async def pause_queue(self, job_type: str) -> None:
        """Stop every worker on every host from starting jobs of `job_type`."""
        await self.storage.set_paused(check_job_type(job_type), True)

    async def resume_queue(self, job_type: str) -> None:
        """Undo `pause_queue`."""
        await self.storage.set_paused(check_job_type(job_type), False)

    async def get_stats(self, job_type: str) -> JobStats:
        """Exact counts of a type, read from the store's counters (one cheap query)."""
        return await self.storage.get_stats(check_job_type(job_type))

    async def get_job(self, job_id: str) -> Job[Any]:
        """The job with that id.

        Raises:
            JobNotFoundError: no such job (or retention removed it).
        """
        job = await self.storage.get_job(check_job_id(job_id))
        if job is None:
            raise JobNotFoundError(details={"job_id": job_id})
        return job

    async def cancel_job(self, job_id: str) -> bool:
        """Cancel an unfinished job (children follow their `on_parent_failure`)."""
        return await self.storage.cancel_job(check_job_id(job_id))

    async def retry_job(self, job_id: str) -> bool:
        """Run a failed or cancelled job again, with fresh attempts."""
        return await self.storage.retry_job(check_job_id(job_id))

    async def purge(self, older_than: timedelta | float | None = None) -> int:
        """Delete finished jobs older than `older_than` (default: the retention)."""
        age = older_than if older_than is not None else self.retention
        if age is None:
            return 0
        seconds = age.total_seconds() if isinstance(age, timedelta) else float(age)
        return await self.storage.purge_finished(seconds)

    async def wait_for(self, job_id: str, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Wait until the job finishes and return its result.

        Raises:
            JobFailedError: it failed for good (`details["error"]` is its last error).
            JobCancelledError: it was cancelled.
            TimeoutError: not finished within `timeout` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.005
        while True:
            job = await self.get_job(job_id)
            if job.status == JobStatus.COMPLETED:
                return job.result
            if job.status == JobStatus.FAILED:
                raise JobFailedError(
                    f"Job {job_id} failed: {job.last_error or job.blocked_reason}",
                    details={
                        "job_id": job_id,
                        "error": job.last_error,
                        "reason": job.blocked_reason,
                    },
                )
            if job.status == JobStatus.CANCELLED:
                raise JobCancelledError(details={"job_id": job_id, "reason": job.blocked_reason})
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} did not finish within {timeout} s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)


def _options(options: dict[str, Any]) -> JobOptions:
    known = set(JobOptions.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise invalid(unknown[0], "unknown option")
    return JobOptions(**options)


def _default_logger() -> Logger:
    from infrakit.log import get_logger

    return get_logger("infrakit.jobs")
