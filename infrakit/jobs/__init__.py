"""Background jobs: priorities, delays, retries, dependencies, schedules and pause/resume,
on memory, SQLite (the durable embedded default) or PostgreSQL.

Importing this package needs nothing beyond the core; `PostgresJobStorage` needs the
`postgres` extra and schedules need the `jobs` extra (cronsim), imported when used.
Only the names in `__all__` are public; see `docs/jobs.md`.
"""

from infrakit.jobs._backoff import Backoff, BackoffFunction
from infrakit.jobs._errors import (
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobStorageError,
)
from infrakit.jobs._models import Job, JobPriority, JobStats, JobStatus, ParentFailurePolicy
from infrakit.jobs._protocol import JobStorage, Lease, NewJob, Outcome, Schedule
from infrakit.jobs._queue import JobQueue
from infrakit.jobs._settings import JobsSettings
from infrakit.jobs.memory import MemoryJobStorage
from infrakit.jobs.postgres import PostgresJobStorage
from infrakit.jobs.sqlite import SqliteJobStorage

__all__ = [
    "Backoff",
    "BackoffFunction",
    "Job",
    "JobCancelledError",
    "JobFailedError",
    "JobNotFoundError",
    "JobPriority",
    "JobQueue",
    "JobStats",
    "JobStatus",
    "JobStorage",
    "JobStorageError",
    "JobsSettings",
    "Lease",
    "MemoryJobStorage",
    "NewJob",
    "Outcome",
    "ParentFailurePolicy",
    "PostgresJobStorage",
    "Schedule",
    "SqliteJobStorage",
]
