"""The values the queue and its stores exchange: jobs, their states, priorities and counts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "FINISHED",
    "Job",
    "JobPriority",
    "JobStats",
    "JobStatus",
    "ParentFailurePolicy",
]

DataT = TypeVar("DataT")
ParentFailurePolicy = Literal["fail", "cancel", "ignore"]


class JobPriority(enum.IntEnum):
    """The original's priorities: lower runs first."""

    LOWEST = 20
    LOW = 10
    NORMAL = 0
    MEDIUM = -5
    HIGH = -10
    CRITICAL = -15
    URGENT = -20


class JobStatus(enum.StrEnum):
    """Where a job is in its life; `cancelled` is the one state the original lacked."""

    WAITING = "waiting"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    DELAYED = "delayed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class Job(Generic[DataT]):
    """One job as stored: what to run, how, and what happened so far.

    A processor receives it with `.data` holding the payload (validated into the
    pydantic model the processor declares, when it declares one).
    """

    id: str
    job_type: str
    data: DataT
    status: JobStatus
    priority: int = 0
    attempts: int = 0
    max_attempts: int = 3
    backoff: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    run_at: datetime | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: Any = None
    last_error: str | None = None
    blocked_reason: str | None = None
    depends_on: tuple[str, ...] = ()
    on_parent_failure: ParentFailurePolicy = "fail"
    lease_token: int = 0


@dataclass(frozen=True, slots=True)
class JobStats:
    """Exact counts of one job type, kept by the store as states change (no table scan).

    `waiting` counts jobs ready to run; while the type is paused they count as
    `paused` instead, and `is_paused` says so even when nothing waits.
    """

    waiting: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    delayed: int = 0
    blocked: int = 0
    paused: int = 0
    cancelled: int = 0
    is_paused: bool = False


def stats_from_counts(counts: dict[str, int], is_paused: bool) -> JobStats:
    """The public figures from a store's per-status counters."""
    waiting = counts.get("waiting", 0)
    return JobStats(
        waiting=0 if is_paused else waiting,
        active=counts.get("active", 0),
        completed=counts.get("completed", 0),
        failed=counts.get("failed", 0),
        delayed=counts.get("delayed", 0),
        blocked=counts.get("blocked", 0),
        paused=waiting if is_paused else 0,
        cancelled=counts.get("cancelled", 0),
        is_paused=is_paused,
    )
