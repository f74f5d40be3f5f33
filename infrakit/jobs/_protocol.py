"""`JobStorage`: what a store promises, so the queue and workers never see SQL.

It is the original's `IJobStorage` (`save_job`, `get_job`, `get_jobs_by_status`)
plus the operations a worker needs. Each method that changes a job's state keeps the
per-type counters in the same transaction, which is what makes `get_stats` exact and
cheap. Completing and failing are fenced by the lease token handed out at claim time:
a worker whose lease expired (and whose job was claimed again) is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from infrakit.jobs._models import Job, JobStats, JobStatus

__all__ = ["JobStorage", "Lease", "NewJob", "Outcome", "Schedule"]


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to insert, already validated and serialised by the queue.

    `run_at` is seconds since the epoch; `idempotent` is set when the caller chose the
    id, so an unfinished job with that id is kept instead of added again.
    """

    id: str
    job_type: str
    data_json: str
    priority: int = 0
    run_at: float = 0.0
    max_attempts: int = 3
    backoff: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    depends_on: tuple[str, ...] = ()
    on_parent_failure: str = "fail"
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class Lease:
    """A claimed job's id and the fencing token its claim received."""

    job_id: str
    token: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished attempt: the result (JSON text) or the error, under the claim's lease."""

    lease: Lease
    result_json: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron schedule as stored: the next tick it has not fired yet."""

    name: str
    job_type: str
    data_json: str
    cron: str
    timezone: str
    next_run_at: datetime
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class JobStorage(Protocol):
    """A durable (or, for tests, in-memory) home for jobs, shared by every worker."""

    async def setup(self) -> None:
        """Create or upgrade what the store needs; safe to call again."""
        ...

    async def close(self) -> None:
        """Release connections and threads; bounded."""
        ...

    async def save_job(self, job: Job[Any]) -> None:
        """Write a job record as given (insert or replace); counters follow."""
        ...

    async def get_job(self, job_id: str) -> Job[Any] | None:
        """The job with that id, or None."""
        ...

    async def get_jobs_by_status(
        self, job_type: str, status: JobStatus, limit: int = 100
    ) -> list[Job[Any]]:
        """Up to `limit` jobs of a type in a state, oldest first."""
        ...

    async def add_jobs(self, jobs: Sequence[NewJob]) -> list[str]:
        """Insert jobs in one transaction, returning their ids (existing ones for
        idempotent ids of unfinished jobs). Parents must exist.

        Raises:
            ValidationError: a parent id does not exist (nothing is stored).
        """
        ...

    async def claim_jobs(
        self, job_types: Sequence[str] | None, limit: int, worker_id: str
    ) -> list[Job[Any]]:
        """Move up to `limit` ready jobs of unpaused types to `active` under a new lease,
        highest priority first, then oldest; each counts an attempt."""
        ...

    async def renew_leases(self, leases: Sequence[Lease]) -> set[str]:
        """Extend the leases still held; returns the ids whose lease was renewed."""
        ...

    async def complete_jobs(self, outcomes: Sequence[Outcome]) -> set[str]:
        """Mark jobs completed, unblocking their children; returns the ids accepted
        (a job whose lease was lost is refused)."""
        ...

    async def fail_job(self, lease: Lease, error: str, retry_in: float | None) -> bool:
        """Record a failed attempt: retry after `retry_in` seconds, or (None) fail for
        good and apply each child's `on_parent_failure`. False when the lease was lost."""
        ...

    async def release_jobs(self, leases: Sequence[Lease]) -> None:
        """Give active jobs back to `waiting` without spending their attempt."""
        ...

    async def cancel_job(self, job_id: str) -> bool:
        """Cancel a job that has not finished; False when it had."""
        ...

    async def retry_job(self, job_id: str) -> bool:
        """Put a failed or cancelled job back to waiting with fresh attempts."""
        ...

    async def set_paused(self, job_type: str, paused: bool) -> None:
        """Persist the pause flag every worker honours."""
        ...

    async def get_stats(self, job_type: str) -> JobStats:
        """The exact counters of a type."""
        ...

    async def maintain(self) -> float | None:
        """Recover expired leases and promote due delayed jobs.

        Returns:
            Seconds until the next delayed job is due (None when there is none).
        """
        ...

    async def purge_finished(self, older_than: float) -> int:
        """Delete completed, failed and cancelled jobs finished `older_than` seconds ago."""
        ...

    async def wait_for_work(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return when new work may be ready, or after `timeout` seconds."""
        ...

    async def save_schedule(self, schedule: Schedule) -> None:
        """Create or replace a schedule (keeping its next tick when the cron is unchanged)."""
        ...

    async def due_schedules(self) -> list[Schedule]:
        """Schedules whose next tick has passed."""
        ...

    async def fire_schedule(self, schedule: Schedule, next_run_at: datetime, job: NewJob) -> bool:
        """Enqueue `job` and move the schedule to `next_run_at`, only if its tick is still
        `schedule.next_run_at` (so one worker wins each tick); True when this call won."""
        ...
