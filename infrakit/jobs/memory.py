"""`MemoryJobStorage`: the whole store in one process's memory, for tests and scripts.

It keeps the same promises as the durable stores (one conformance suite runs on all
three), with plain dictionaries and heaps instead of tables and indexes. Nothing
survives the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from infrakit.jobs._errors import JobStorageError
from infrakit.jobs._models import FINISHED, Job, JobStats, JobStatus, stats_from_counts
from infrakit.jobs._protocol import Lease, NewJob, Outcome, Schedule
from infrakit.jobs._rules import parent_failure_reason, unknown_parents_error

__all__ = ["MemoryJobStorage"]


@dataclass(slots=True)
class _Record:
    job: NewJob
    status: JobStatus
    created_at: float
    run_at: float
    attempts: int = 0
    token: int = 0
    locked_until: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    result_json: str | None = None
    last_error: str | None = None
    blocked_reason: str | None = None
    pending_parents: int = 0
    sequence: int = 0
    worker_id: str | None = None
    data: Any = field(default=None)


class MemoryJobStorage:
    """Jobs in dictionaries; one event loop, one process.

    Args:
        lease_seconds: how long a claim holds a job before another worker may take it.
    """

    def __init__(self, *, lease_seconds: float = 30.0) -> None:
        self.lease_seconds = lease_seconds
        self._records: dict[str, _Record] = {}
        self._children: defaultdict[str, set[str]] = defaultdict(set)
        self._counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._paused: set[str] = set()
        self._ready: defaultdict[str, list[tuple[int, float, int, str]]] = defaultdict(list)
        self._delayed: list[tuple[float, str]] = []
        self._sequence = itertools.count()
        self._tokens = itertools.count(1)
        self._schedules: dict[str, Schedule] = {}
        self._wake = asyncio.Event()
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryJobStorage(jobs={len(self._records)})"

    async def setup(self) -> None:
        """Nothing to create; kept for the Protocol."""

    async def close(self) -> None:
        """Wake any waiter; the jobs stay readable."""
        self._closed = True
        self._wake.set()

    # -- the original's IJobStorage --------------------------------------------------

    async def save_job(self, job: Job[Any]) -> None:
        """Insert or replace a record as given."""
        old = self._records.get(job.id)
        if old is not None:
            self._count(old.job.job_type, old.status, -1)
        new = _new_job_from(job)
        record = _Record(
            new,
            job.status,
            created_at=_seconds(job.created_at) or time.time(),
            run_at=new.run_at,
            attempts=job.attempts,
            token=job.lease_token,
            result_json=None if job.result is None else json.dumps(job.result),
            last_error=job.last_error,
            blocked_reason=job.blocked_reason,
            sequence=next(self._sequence),
        )
        self._records[job.id] = record
        self._count(new.job_type, job.status, 1)
        self._index(record)

    async def get_job(self, job_id: str) -> Job[Any] | None:
        record = self._records.get(job_id)
        return None if record is None else _to_job(record)

    async def get_jobs_by_status(
        self, job_type: str, status: JobStatus, limit: int = 100
    ) -> list[Job[Any]]:
        found = [
            record
            for record in self._records.values()
            if record.job.job_type == job_type and record.status == status
        ]
        found.sort(key=lambda record: record.sequence)
        return [_to_job(record) for record in found[:limit]]

    # -- adding ----------------------------------------------------------------------

    async def add_jobs(self, jobs: Sequence[NewJob]) -> list[str]:
        batch_ids = {job.id for job in jobs}
        missing = sorted(
            {
                parent
                for job in jobs
                for parent in job.depends_on
                if parent not in self._records and parent not in batch_ids
            }
        )
        if missing:
            raise unknown_parents_error(missing)
        ids = []
        now = time.time()
        for job in jobs:
            existing = self._records.get(job.id)
            if existing is not None and existing.status not in FINISHED:
                ids.append(job.id)
                continue
            if existing is not None:
                self._forget(existing)
            self._insert(job, now)
            ids.append(job.id)
        self._wake.set()
        return ids

    def _insert(self, job: NewJob, now: float) -> None:
        status = JobStatus.DELAYED if job.run_at > now else JobStatus.WAITING
        record = _Record(job, status, created_at=now, run_at=job.run_at)
        record.sequence = next(self._sequence)
        self._records[job.id] = record
        pending = 0
        failed_parent: str | None = None
        for parent_id in job.depends_on:
            parent = self._records[parent_id]
            if parent.status == JobStatus.COMPLETED:
                continue
            if parent.status in FINISHED and job.on_parent_failure != "ignore":
                failed_parent = parent_id
                continue
            if parent.status not in FINISHED:
                pending += 1
                self._children[parent_id].add(job.id)
        record.pending_parents = pending
        if failed_parent is not None:
            record.status = _policy_status(job.on_parent_failure)
            record.blocked_reason = parent_failure_reason(failed_parent)
            record.finished_at = now
        elif pending:
            record.status = JobStatus.BLOCKED
            record.blocked_reason = f"waiting for {pending} parent job(s)"
        self._count(job.job_type, record.status, 1)
        self._index(record)

    def _forget(self, record: _Record) -> None:
        self._count(record.job.job_type, record.status, -1)
        del self._records[record.job.id]

    # -- working ---------------------------------------------------------------------

    async def claim_jobs(
        self, job_types: Sequence[str] | None, limit: int, worker_id: str
    ) -> list[Job[Any]]:
        self._promote(time.time())
        types = list(self._ready) if job_types is None else list(job_types)
        claimed: list[Job[Any]] = []
        while len(claimed) < limit:
            record = self._next_ready(types)
            if record is None:
                break
            claimed.append(self._activate(record, worker_id))
        return claimed

    def _next_ready(self, types: list[str]) -> _Record | None:
        best: tuple[int, float, int, str] | None = None
        best_type = ""
        for job_type in types:
            heap = self._ready.get(job_type)
            if job_type in self._paused or not heap:
                continue
            while heap and self._stale(heap[0]):
                heapq.heappop(heap)
            if heap and (best is None or heap[0] < best):
                best, best_type = heap[0], job_type
        if best is None:
            return None
        heapq.heappop(self._ready[best_type])
        return self._records[best[3]]

    def _stale(self, entry: tuple[int, float, int, str]) -> bool:
        record = self._records.get(entry[3])
        return record is None or record.status != JobStatus.WAITING or record.sequence != entry[2]

    def _activate(self, record: _Record, worker_id: str) -> Job[Any]:
        now = time.time()
        self._move(record, JobStatus.ACTIVE)
        record.attempts += 1
        record.token = next(self._tokens)
        record.locked_until = now + self.lease_seconds
        record.started_at = now
        record.worker_id = worker_id
        return _to_job(record)

    def _held(self, lease: Lease) -> _Record | None:
        record = self._records.get(lease.job_id)
        if record is None or record.status != JobStatus.ACTIVE or record.token != lease.token:
            return None
        return record

    async def renew_leases(self, leases: Sequence[Lease]) -> set[str]:
        renewed = set()
        until = time.time() + self.lease_seconds
        for lease in leases:
            record = self._held(lease)
            if record is not None:
                record.locked_until = until
                renewed.add(lease.job_id)
        return renewed

    async def complete_jobs(self, outcomes: Sequence[Outcome]) -> set[str]:
        accepted = set()
        now = time.time()
        for outcome in outcomes:
            record = self._held(outcome.lease)
            if record is None:
                continue
            self._move(record, JobStatus.COMPLETED)
            record.result_json = outcome.result_json
            record.finished_at = now
            accepted.add(outcome.lease.job_id)
            self._parent_done(record.job.id, failed=False, now=now)
        if accepted:
            self._wake.set()
        return accepted

    async def fail_job(self, lease: Lease, error: str, retry_in: float | None) -> bool:
        record = self._held(lease)
        if record is None:
            return False
        record.last_error = error
        now = time.time()
        if retry_in is None:
            self._finish_failed(record, JobStatus.FAILED, now)
        else:
            self._requeue(record, now + retry_in)
        return True

    def _requeue(self, record: _Record, run_at: float) -> None:
        record.run_at = run_at
        record.locked_until = 0.0
        self._move(record, JobStatus.DELAYED if run_at > time.time() else JobStatus.WAITING)
        self._wake.set()

    def _finish_failed(self, record: _Record, status: JobStatus, now: float) -> None:
        self._move(record, status)
        record.finished_at = now
        self._parent_done(record.job.id, failed=True, now=now)

    def _parent_done(self, parent_id: str, *, failed: bool, now: float) -> None:
        """Apply a parent's end to each blocked child (recursively for failures)."""
        for child_id in sorted(self._children.pop(parent_id, set())):
            child = self._records.get(child_id)
            if child is None or child.status != JobStatus.BLOCKED:
                continue
            if failed and child.job.on_parent_failure != "ignore":
                child.blocked_reason = parent_failure_reason(parent_id)
                self._finish_failed(child, _policy_status(child.job.on_parent_failure), now)
                continue
            child.pending_parents -= 1
            if child.pending_parents <= 0:
                child.blocked_reason = None
                self._requeue(child, child.run_at)

    async def release_jobs(self, leases: Sequence[Lease]) -> None:
        for lease in leases:
            record = self._held(lease)
            if record is not None:
                record.attempts -= 1
                self._requeue(record, record.run_at)

    async def cancel_job(self, job_id: str) -> bool:
        record = self._records.get(job_id)
        if record is None or record.status in FINISHED:
            return False
        self._children_detach(record)
        self._finish_failed(record, JobStatus.CANCELLED, time.time())
        return True

    def _children_detach(self, record: _Record) -> None:
        for parent_id in record.job.depends_on:
            self._children.get(parent_id, set()).discard(record.job.id)

    async def retry_job(self, job_id: str) -> bool:
        record = self._records.get(job_id)
        if record is None or record.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            return False
        record.attempts = 0
        record.finished_at = None
        record.blocked_reason = None
        self._requeue(record, time.time())
        return True

    async def set_paused(self, job_type: str, paused: bool) -> None:
        if paused:
            self._paused.add(job_type)
        else:
            self._paused.discard(job_type)
            self._wake.set()

    async def get_stats(self, job_type: str) -> JobStats:
        return stats_from_counts(dict(self._counts[job_type]), job_type in self._paused)

    async def maintain(self) -> float | None:
        now = time.time()
        for record in list(self._records.values()):
            if record.status == JobStatus.ACTIVE and record.locked_until < now:
                self._expired(record, now)
        self._promote(now)
        return max(self._delayed[0][0] - now, 0.0) if self._delayed else None

    def _expired(self, record: _Record, now: float) -> None:
        record.last_error = "lease expired (the worker stopped or lost its connection)"
        if record.attempts >= record.job.max_attempts:
            self._finish_failed(record, JobStatus.FAILED, now)
        else:
            self._requeue(record, now)

    async def purge_finished(self, older_than: float) -> int:
        cutoff = time.time() - older_than
        old = [
            record
            for record in self._records.values()
            if record.status in FINISHED and (record.finished_at or 0) <= cutoff
        ]
        for record in old:
            self._forget(record)
        return len(old)

    async def wait_for_work(self, timeout: float) -> None:  # noqa: ASYNC109
        if self._closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    # -- schedules -------------------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        current = self._schedules.get(schedule.name)
        if current is not None and current.cron == schedule.cron:
            schedule = replace(schedule, next_run_at=current.next_run_at)
        self._schedules[schedule.name] = schedule

    async def due_schedules(self) -> list[Schedule]:
        now = datetime.now(UTC)
        return [item for item in self._schedules.values() if item.next_run_at <= now]

    async def fire_schedule(self, schedule: Schedule, next_run_at: datetime, job: NewJob) -> bool:
        current = self._schedules.get(schedule.name)
        if current is None or current.next_run_at != schedule.next_run_at:
            return False
        self._schedules[schedule.name] = replace(current, next_run_at=next_run_at)
        if job.id not in self._records:
            await self.add_jobs([job])
        return True

    # -- bookkeeping -----------------------------------------------------------------

    def _move(self, record: _Record, status: JobStatus) -> None:
        self._count(record.job.job_type, record.status, -1)
        record.status = status
        self._count(record.job.job_type, status, 1)
        self._index(record)

    def _index(self, record: _Record) -> None:
        if record.status == JobStatus.WAITING:
            record.sequence = next(self._sequence)
            entry = (record.job.priority, record.run_at, record.sequence, record.job.id)
            heapq.heappush(self._ready[record.job.job_type], entry)
        elif record.status == JobStatus.DELAYED:
            heapq.heappush(self._delayed, (record.run_at, record.job.id))

    def _promote(self, now: float) -> None:
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            _, job_id = heapq.heappop(delayed)
            record = self._records.get(job_id)
            if record is not None and record.status == JobStatus.DELAYED and record.run_at <= now:
                self._move(record, JobStatus.WAITING)

    def _count(self, job_type: str, status: JobStatus, change: int) -> None:
        if self._closed:
            raise JobStorageError("The job store is closed.")
        self._counts[job_type][status.value] += change


def _policy_status(policy: str) -> JobStatus:
    return JobStatus.CANCELLED if policy == "cancel" else JobStatus.FAILED


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _new_job_from(job: Job[Any]) -> NewJob:
    return NewJob(
        id=job.id,
        job_type=job.job_type,
        data_json=json.dumps(job.data),
        priority=job.priority,
        run_at=_seconds(job.run_at) or time.time(),
        max_attempts=job.max_attempts,
        backoff=dict(job.backoff),
        timeout=job.timeout,
        depends_on=tuple(job.depends_on),
        on_parent_failure=job.on_parent_failure,
    )


def _to_job(record: _Record) -> Job[Any]:
    new = record.job
    return Job(
        id=new.id,
        job_type=new.job_type,
        data=json.loads(new.data_json),
        status=record.status,
        priority=new.priority,
        attempts=record.attempts,
        max_attempts=new.max_attempts,
        backoff=new.backoff,
        timeout=new.timeout,
        run_at=_moment(record.run_at),
        created_at=_moment(record.created_at),
        started_at=_moment(record.started_at),
        finished_at=_moment(record.finished_at),
        result=None if record.result_json is None else json.loads(record.result_json),
        last_error=record.last_error,
        blocked_reason=record.blocked_reason,
        depends_on=new.depends_on,
        on_parent_failure=new.on_parent_failure,  # type: ignore[arg-type]
        lease_token=record.token,
    )
