"""`SqliteJobStorage`: the durable embedded default, one file shared by a host's workers.

The standard library's `sqlite3` runs on one thread of its own per store, so the
event loop never blocks on the disk. WAL journaling lets readers work while one
writer commits; every change is a `BEGIN IMMEDIATE` transaction (the write lock is
taken up front, so two processes never deadlock upgrading a read lock), and a busy
timeout makes a process wait its turn instead of failing. Wake-ups between processes
come from `PRAGMA data_version`, which changes when another connection commits.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from infrakit.jobs._errors import JobStorageError
from infrakit.jobs._models import FINISHED, Job, JobStats, JobStatus, stats_from_counts
from infrakit.jobs._protocol import Lease, NewJob, Outcome, Schedule
from infrakit.jobs._rules import parent_failure_reason, unknown_parents_error

__all__ = ["SqliteJobStorage"]

ResultT = TypeVar("ResultT")
SCHEMA_VERSION = 1
_WAKE_CHECK = 0.01
_FINISHED_SQL = "('completed', 'failed', 'cancelled')"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    run_at REAL NOT NULL,
    data TEXT NOT NULL,
    result TEXT,
    last_error TEXT,
    blocked_reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    backoff TEXT NOT NULL,
    timeout REAL,
    depends_on TEXT NOT NULL,
    on_parent_failure TEXT NOT NULL,
    pending_parents INTEGER NOT NULL DEFAULT 0,
    lease_token INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,
    worker_id TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (priority, run_at) WHERE status = 'waiting';
CREATE INDEX IF NOT EXISTS jobs_delayed ON jobs (run_at) WHERE status = 'delayed';
CREATE INDEX IF NOT EXISTS jobs_leased ON jobs (locked_until) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
CREATE INDEX IF NOT EXISTS jobs_by_type ON jobs (job_type, status, created_at);
CREATE TABLE IF NOT EXISTS job_dependencies (
    parent_id TEXT NOT NULL,
    child_id TEXT NOT NULL,
    PRIMARY KEY (parent_id, child_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_counts (
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (job_type, status)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_queues (job_type TEXT PRIMARY KEY, paused INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job_schedules (
    name TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    data TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    next_run_at REAL NOT NULL,
    options TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_COLUMNS = (
    "id, job_type, status, priority, run_at, data, result, last_error, blocked_reason, "
    "attempts, max_attempts, backoff, timeout, depends_on, on_parent_failure, lease_token, "
    "created_at, started_at, finished_at"
)


class SqliteJobStorage:
    """Jobs in a SQLite file; several worker processes on one host may share it.

    Args:
        path: the database file (created with its directory when missing).
        lease_seconds: how long a claim holds a job before another worker may take it.
        busy_timeout: seconds a write waits for another process's lock.
    """

    def __init__(
        self, path: str | Path, *, lease_seconds: float = 30.0, busy_timeout: float = 10.0
    ) -> None:
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._wake = asyncio.Event()
        self._data_version = -1

    def __repr__(self) -> str:
        return f"SqliteJobStorage({str(self.path)!r})"

    # -- plumbing --------------------------------------------------------------------

    async def _run(self, operation: Callable[[sqlite3.Connection], ResultT]) -> ResultT:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="infrakit-jobs-sqlite")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._call, operation)
        except sqlite3.Error as error:
            raise JobStorageError(
                "The SQLite job store failed.", details={"reason": type(error).__name__}
            ) from error

    def _call(self, operation: Callable[[sqlite3.Connection], ResultT]) -> ResultT:
        connection = self._connection or self._open()
        return operation(connection)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        self._connection = connection
        return connection

    async def _write(self, operation: Callable[[sqlite3.Connection], ResultT]) -> ResultT:
        def transaction(connection: sqlite3.Connection) -> ResultT:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = operation(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result

        return await self._run(transaction)

    async def setup(self) -> None:
        """Create the tables (idempotent) and record the schema version."""

        def create(connection: sqlite3.Connection) -> None:
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT INTO job_meta VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

        await self._run(create)

    async def close(self) -> None:
        """Close the connection and its thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        connection = self._connection
        if connection is not None:
            await asyncio.get_running_loop().run_in_executor(executor, connection.close)
        self._connection = None
        executor.shutdown(wait=False)
        self._wake.set()

    # -- the original's IJobStorage --------------------------------------------------

    async def save_job(self, job: Job[Any]) -> None:
        def save(connection: sqlite3.Connection) -> None:
            counts: Counter[tuple[str, str]] = Counter()
            old = connection.execute(
                "DELETE FROM jobs WHERE id = ? RETURNING job_type, status", (job.id,)
            ).fetchone()
            if old is not None:
                counts[(old[0], old[1])] -= 1
            connection.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES ({', '.join('?' * 19)})",
                _job_values(job),
            )
            counts[(job.job_type, job.status.value)] += 1
            _write_counts(connection, counts)

        await self._write(save)

    async def get_job(self, job_id: str) -> Job[Any] | None:
        def read(connection: sqlite3.Connection) -> Job[Any] | None:
            row = connection.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            return None if row is None else _to_job(row)

        return await self._run(read)

    async def get_jobs_by_status(
        self, job_type: str, status: JobStatus, limit: int = 100
    ) -> list[Job[Any]]:
        def read(connection: sqlite3.Connection) -> list[Job[Any]]:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE job_type = ? AND status = ? "
                "ORDER BY created_at LIMIT ?",
                (job_type, JobStatus(status).value, limit),
            ).fetchall()
            return [_to_job(row) for row in rows]

        return await self._run(read)

    # -- adding ----------------------------------------------------------------------

    async def add_jobs(self, jobs: Sequence[NewJob]) -> list[str]:
        ids = await self._write(lambda connection: _insert_jobs(connection, jobs))
        self._wake.set()
        return ids

    # -- working ---------------------------------------------------------------------

    async def claim_jobs(
        self, job_types: Sequence[str] | None, limit: int, worker_id: str
    ) -> list[Job[Any]]:
        lease = self.lease_seconds

        def claim(connection: sqlite3.Connection) -> list[Job[Any]]:
            now = time.time()
            _promote(connection, now)
            type_filter, parameters = _type_filter(job_types)
            chosen = connection.execute(
                f"SELECT id FROM jobs WHERE status = 'waiting' {type_filter} "
                "AND job_type NOT IN (SELECT job_type FROM job_queues WHERE paused = 1) "
                "ORDER BY priority, run_at LIMIT ?",
                (*parameters, limit),
            ).fetchall()
            if not chosen:
                return []
            marks = ", ".join("?" * len(chosen))
            rows = connection.execute(
                "UPDATE jobs SET status = 'active', attempts = attempts + 1, "
                "lease_token = lease_token + 1, locked_until = ?, started_at = ?, worker_id = ? "
                f"WHERE id IN ({marks}) RETURNING {_COLUMNS}",
                (now + lease, now, worker_id, *(row[0] for row in chosen)),
            ).fetchall()
            counts: Counter[tuple[str, str]] = Counter()
            for row in rows:
                counts[(row[1], "waiting")] -= 1
                counts[(row[1], "active")] += 1
            _write_counts(connection, counts)
            rows.sort(key=lambda row: (row[3], row[4]))
            return [_to_job(row) for row in rows]

        return await self._write(claim)

    async def renew_leases(self, leases: Sequence[Lease]) -> set[str]:
        until = time.time() + self.lease_seconds

        def renew(connection: sqlite3.Connection) -> set[str]:
            renewed = set()
            for lease in leases:
                cursor = connection.execute(
                    "UPDATE jobs SET locked_until = ? WHERE id = ? AND lease_token = ? "
                    "AND status = 'active'",
                    (until, lease.job_id, lease.token),
                )
                if cursor.rowcount:
                    renewed.add(lease.job_id)
            return renewed

        return await self._write(renew)

    async def complete_jobs(self, outcomes: Sequence[Outcome]) -> set[str]:
        def complete(connection: sqlite3.Connection) -> set[str]:
            now = time.time()
            accepted = set()
            counts: Counter[tuple[str, str]] = Counter()
            for outcome in outcomes:
                row = connection.execute(
                    "UPDATE jobs SET status = 'completed', result = ?, finished_at = ?, "
                    "locked_until = NULL WHERE id = ? AND lease_token = ? AND status = 'active' "
                    "RETURNING job_type",
                    (outcome.result_json, now, outcome.lease.job_id, outcome.lease.token),
                ).fetchone()
                if row is None:
                    continue
                accepted.add(outcome.lease.job_id)
                counts[(row[0], "active")] -= 1
                counts[(row[0], "completed")] += 1
                _parent_done(connection, outcome.lease.job_id, False, now, counts)
            _write_counts(connection, counts)
            return accepted

        accepted = await self._write(complete)
        if accepted:
            self._wake.set()
        return accepted

    async def fail_job(self, lease: Lease, error: str, retry_in: float | None) -> bool:
        def fail(connection: sqlite3.Connection) -> bool:
            now = time.time()
            row = connection.execute(
                "SELECT job_type FROM jobs WHERE id = ? AND lease_token = ? AND status = 'active'",
                (lease.job_id, lease.token),
            ).fetchone()
            if row is None:
                return False
            counts: Counter[tuple[str, str]] = Counter()
            connection.execute("UPDATE jobs SET last_error = ? WHERE id = ?", (error, lease.job_id))
            if retry_in is None:
                _finish(connection, lease.job_id, row[0], "active", "failed", now, counts, None)
            else:
                _requeue(connection, lease.job_id, row[0], "active", now + retry_in, now, counts)
            _write_counts(connection, counts)
            return True

        return await self._write(fail)

    async def release_jobs(self, leases: Sequence[Lease]) -> None:
        def release(connection: sqlite3.Connection) -> None:
            counts: Counter[tuple[str, str]] = Counter()
            for lease in leases:
                row = connection.execute(
                    "UPDATE jobs SET status = 'waiting', attempts = attempts - 1, "
                    "locked_until = NULL WHERE id = ? AND lease_token = ? AND status = 'active' "
                    "RETURNING job_type",
                    (lease.job_id, lease.token),
                ).fetchone()
                if row is not None:
                    counts[(row[0], "active")] -= 1
                    counts[(row[0], "waiting")] += 1
            _write_counts(connection, counts)

        await self._write(release)
        self._wake.set()

    async def cancel_job(self, job_id: str) -> bool:
        def cancel(connection: sqlite3.Connection) -> bool:
            row = connection.execute(
                "SELECT job_type, status FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None or row[1] in FINISHED:
                return False
            counts: Counter[tuple[str, str]] = Counter()
            connection.execute("DELETE FROM job_dependencies WHERE child_id = ?", (job_id,))
            _finish(connection, job_id, row[0], row[1], "cancelled", time.time(), counts, None)
            _write_counts(connection, counts)
            return True

        return await self._write(cancel)

    async def retry_job(self, job_id: str) -> bool:
        def retry(connection: sqlite3.Connection) -> bool:
            now = time.time()
            row = connection.execute(
                "UPDATE jobs SET status = 'waiting', attempts = 0, finished_at = NULL, "
                "blocked_reason = NULL, run_at = ? WHERE id = ? "
                "AND status IN ('failed', 'cancelled') RETURNING job_type, status",
                (now, job_id),
            ).fetchone()
            return row is not None

        def retry_counted(connection: sqlite3.Connection) -> bool:
            before = connection.execute(
                "SELECT job_type, status FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if before is None or not retry(connection):
                return False
            _write_counts(
                connection, Counter({(before[0], before[1]): -1, (before[0], "waiting"): 1})
            )
            return True

        done = await self._write(retry_counted)
        self._wake.set()
        return done

    async def set_paused(self, job_type: str, paused: bool) -> None:
        await self._write(
            lambda connection: connection.execute(
                "INSERT INTO job_queues VALUES (?, ?) "
                "ON CONFLICT (job_type) DO UPDATE SET paused = excluded.paused",
                (job_type, int(paused)),
            )
        )
        self._wake.set()

    async def get_stats(self, job_type: str) -> JobStats:
        def read(connection: sqlite3.Connection) -> JobStats:
            counts = dict(
                connection.execute(
                    "SELECT status, count FROM job_counts WHERE job_type = ?", (job_type,)
                ).fetchall()
            )
            paused = connection.execute(
                "SELECT paused FROM job_queues WHERE job_type = ?", (job_type,)
            ).fetchone()
            return stats_from_counts(counts, bool(paused and paused[0]))

        return await self._run(read)

    async def maintain(self) -> float | None:
        def maintain(connection: sqlite3.Connection) -> float | None:
            now = time.time()
            counts: Counter[tuple[str, str]] = Counter()
            expired = connection.execute(
                "SELECT id, job_type, attempts, max_attempts FROM jobs "
                "WHERE status = 'active' AND locked_until < ?",
                (now,),
            ).fetchall()
            for job_id, job_type, attempts, max_attempts in expired:
                connection.execute(
                    "UPDATE jobs SET last_error = ? WHERE id = ?", (_LEASE_EXPIRED, job_id)
                )
                if attempts >= max_attempts:
                    _finish(connection, job_id, job_type, "active", "failed", now, counts, None)
                else:
                    _requeue(connection, job_id, job_type, "active", now, now, counts)
            _write_counts(connection, counts)
            _promote(connection, now)
            due = connection.execute(
                "SELECT min(run_at) FROM jobs WHERE status = 'delayed'"
            ).fetchone()[0]
            return None if due is None else max(due - now, 0.0)

        return await self._write(maintain)

    async def purge_finished(self, older_than: float) -> int:
        def purge(connection: sqlite3.Connection) -> int:
            rows = connection.execute(
                f"DELETE FROM jobs WHERE status IN {_FINISHED_SQL} AND finished_at <= ? "
                "RETURNING id, job_type, status",
                (time.time() - older_than,),
            ).fetchall()
            counts: Counter[tuple[str, str]] = Counter()
            for job_id, job_type, status in rows:
                counts[(job_type, status)] -= 1
                connection.execute("DELETE FROM job_dependencies WHERE child_id = ?", (job_id,))
            _write_counts(connection, counts)
            return len(rows)

        return await self._write(purge)

    async def wait_for_work(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return on a local add, on another process's commit, or after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self._wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._executor is None:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), min(_WAKE_CHECK, remaining))
            except TimeoutError:
                if await self._changed_elsewhere():
                    break
        self._wake.clear()

    async def _changed_elsewhere(self) -> bool:
        version = await self._run(
            lambda connection: connection.execute("PRAGMA data_version").fetchone()[0]
        )
        changed = self._data_version != -1 and version != self._data_version
        self._data_version = version
        return bool(changed)

    # -- schedules -------------------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        def save(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO job_schedules VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO "
                "UPDATE SET job_type = excluded.job_type, data = excluded.data, "
                "timezone = excluded.timezone, options = excluded.options, "
                "next_run_at = CASE WHEN cron = excluded.cron AND timezone = excluded.timezone "
                "THEN next_run_at ELSE excluded.next_run_at END, cron = excluded.cron",
                _schedule_values(schedule),
            )

        await self._write(save)

    async def due_schedules(self) -> list[Schedule]:
        def read(connection: sqlite3.Connection) -> list[Schedule]:
            rows = connection.execute(
                "SELECT name, job_type, data, cron, timezone, next_run_at, options "
                "FROM job_schedules WHERE next_run_at <= ?",
                (time.time(),),
            ).fetchall()
            return [_to_schedule(row) for row in rows]

        return await self._run(read)

    async def fire_schedule(self, schedule: Schedule, next_run_at: datetime, job: NewJob) -> bool:
        def fire(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE job_schedules SET next_run_at = ? WHERE name = ? AND next_run_at = ?",
                (next_run_at.timestamp(), schedule.name, schedule.next_run_at.timestamp()),
            )
            if not cursor.rowcount:
                return False
            _insert_jobs(connection, [job])
            return True

        fired = await self._write(fire)
        self._wake.set()
        return fired


_LEASE_EXPIRED = "lease expired (the worker stopped or lost its connection)"


def _type_filter(job_types: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    if job_types is None:
        return "", ()
    return f"AND job_type IN ({', '.join('?' * len(job_types))})", tuple(job_types)


def _write_counts(connection: sqlite3.Connection, counts: Counter[tuple[str, str]]) -> None:
    changes = [
        (job_type, status, change) for (job_type, status), change in counts.items() if change
    ]
    if changes:
        connection.executemany(
            "INSERT INTO job_counts VALUES (?, ?, ?) "
            "ON CONFLICT (job_type, status) DO UPDATE SET count = count + excluded.count",
            changes,
        )


def _promote(connection: sqlite3.Connection, now: float) -> None:
    rows = connection.execute(
        "UPDATE jobs SET status = 'waiting' WHERE status = 'delayed' AND run_at <= ? "
        "RETURNING job_type",
        (now,),
    ).fetchall()
    counts: Counter[tuple[str, str]] = Counter()
    for (job_type,) in rows:
        counts[(job_type, "delayed")] -= 1
        counts[(job_type, "waiting")] += 1
    _write_counts(connection, counts)


def _insert_jobs(connection: sqlite3.Connection, jobs: Sequence[NewJob]) -> list[str]:
    now = time.time()
    _check_parents(connection, jobs)
    counts: Counter[tuple[str, str]] = Counter()
    ids = []
    for job in jobs:
        if job.idempotent and _kept(connection, job.id, counts):
            ids.append(job.id)
            continue
        status, pending, reason = _initial_state(connection, job, now)
        connection.execute(
            "INSERT INTO jobs (id, job_type, status, priority, run_at, data, blocked_reason, "
            "max_attempts, backoff, timeout, depends_on, on_parent_failure, pending_parents, "
            "created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.job_type,
                status,
                job.priority,
                job.run_at,
                job.data_json,
                reason,
                job.max_attempts,
                json.dumps(job.backoff),
                job.timeout,
                json.dumps(job.depends_on),
                job.on_parent_failure,
                len(pending),
                now,
                now if status in FINISHED else None,
            ),
        )
        if pending:
            connection.executemany(
                "INSERT OR IGNORE INTO job_dependencies VALUES (?, ?)",
                [(parent, job.id) for parent in pending],
            )
        counts[(job.job_type, status)] += 1
        ids.append(job.id)
    _write_counts(connection, counts)
    return ids


def _check_parents(connection: sqlite3.Connection, jobs: Sequence[NewJob]) -> None:
    parents = {parent for job in jobs for parent in job.depends_on}
    if not parents:
        return
    batch = {job.id for job in jobs}
    marks = ", ".join("?" * len(parents))
    found = {
        row[0]
        for row in connection.execute(f"SELECT id FROM jobs WHERE id IN ({marks})", tuple(parents))
    }
    missing = sorted(parents - found - batch)
    if missing:
        raise unknown_parents_error(missing)


def _kept(connection: sqlite3.Connection, job_id: str, counts: Counter[tuple[str, str]]) -> bool:
    """An unfinished job with this id is kept; a finished one is replaced."""
    row = connection.execute("SELECT job_type, status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return False
    if row[1] not in FINISHED:
        return True
    connection.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
    connection.execute("DELETE FROM job_dependencies WHERE child_id = ?", (job_id,))
    counts[(row[0], row[1])] -= 1
    return False


def _initial_state(
    connection: sqlite3.Connection, job: NewJob, now: float
) -> tuple[str, list[str], str | None]:
    status = "delayed" if job.run_at > now else "waiting"
    pending: list[str] = []
    for parent in job.depends_on:
        row = connection.execute("SELECT status FROM jobs WHERE id = ?", (parent,)).fetchone()
        parent_status = row[0]
        if parent_status == "completed":
            continue
        if parent_status in FINISHED:
            if job.on_parent_failure != "ignore":
                final = "cancelled" if job.on_parent_failure == "cancel" else "failed"
                return final, [], parent_failure_reason(parent)
            continue
        pending.append(parent)
    if pending:
        return "blocked", pending, f"waiting for {len(pending)} parent job(s)"
    return status, pending, None


def _requeue(
    connection: sqlite3.Connection,
    job_id: str,
    job_type: str,
    old: str,
    run_at: float,
    now: float,
    counts: Counter[tuple[str, str]],
) -> None:
    status = "delayed" if run_at > now else "waiting"
    connection.execute(
        "UPDATE jobs SET status = ?, run_at = ?, locked_until = NULL, blocked_reason = NULL "
        "WHERE id = ?",
        (status, run_at, job_id),
    )
    counts[(job_type, old)] -= 1
    counts[(job_type, status)] += 1


def _finish(
    connection: sqlite3.Connection,
    job_id: str,
    job_type: str,
    old: str,
    status: str,
    now: float,
    counts: Counter[tuple[str, str]],
    reason: str | None,
) -> None:
    connection.execute(
        "UPDATE jobs SET status = ?, finished_at = ?, locked_until = NULL, "
        "blocked_reason = coalesce(?, blocked_reason) WHERE id = ?",
        (status, now, reason, job_id),
    )
    counts[(job_type, old)] -= 1
    counts[(job_type, status)] += 1
    _parent_done(connection, job_id, True, now, counts)


def _parent_done(
    connection: sqlite3.Connection,
    parent_id: str,
    failed: bool,
    now: float,
    counts: Counter[tuple[str, str]],
) -> None:
    """Apply a parent's end to its blocked children (recursively when they fail too)."""
    children = connection.execute(
        "DELETE FROM job_dependencies WHERE parent_id = ? RETURNING child_id", (parent_id,)
    ).fetchall()
    for (child_id,) in sorted(children):
        row = connection.execute(
            "SELECT job_type, on_parent_failure, pending_parents, run_at FROM jobs "
            "WHERE id = ? AND status = 'blocked'",
            (child_id,),
        ).fetchone()
        if row is None:
            continue
        job_type, policy, pending, run_at = row
        if failed and policy != "ignore":
            final = "cancelled" if policy == "cancel" else "failed"
            reason = parent_failure_reason(parent_id)
            _finish(connection, child_id, job_type, "blocked", final, now, counts, reason)
        elif pending <= 1:
            connection.execute("UPDATE jobs SET pending_parents = 0 WHERE id = ?", (child_id,))
            _requeue(connection, child_id, job_type, "blocked", run_at, now, counts)
        else:
            connection.execute(
                "UPDATE jobs SET pending_parents = pending_parents - 1, blocked_reason = ? "
                "WHERE id = ?",
                (f"waiting for {pending - 1} parent job(s)", child_id),
            )


def _job_values(job: Job[Any]) -> tuple[Any, ...]:
    return (
        job.id,
        job.job_type,
        job.status.value,
        job.priority,
        _seconds(job.run_at) or time.time(),
        json.dumps(job.data),
        None if job.result is None else json.dumps(job.result),
        job.last_error,
        job.blocked_reason,
        job.attempts,
        job.max_attempts,
        json.dumps(dict(job.backoff)),
        job.timeout,
        json.dumps(list(job.depends_on)),
        job.on_parent_failure,
        job.lease_token,
        _seconds(job.created_at) or time.time(),
        _seconds(job.started_at),
        _seconds(job.finished_at),
    )


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _to_job(row: Sequence[Any]) -> Job[Any]:
    return Job(
        id=row[0],
        job_type=row[1],
        data=json.loads(row[5]),
        status=JobStatus(row[2]),
        priority=row[3],
        attempts=row[9],
        max_attempts=row[10],
        backoff=json.loads(row[11]),
        timeout=row[12],
        run_at=_moment(row[4]),
        created_at=_moment(row[16]),
        started_at=_moment(row[17]),
        finished_at=_moment(row[18]),
        result=None if row[6] is None else json.loads(row[6]),
        last_error=row[7],
        blocked_reason=row[8],
        depends_on=tuple(json.loads(row[13])),
        on_parent_failure=row[14],
        lease_token=row[15],
    )


def _schedule_values(schedule: Schedule) -> tuple[Any, ...]:
    return (
        schedule.name,
        schedule.job_type,
        schedule.data_json,
        schedule.cron,
        schedule.timezone,
        schedule.next_run_at.timestamp(),
        json.dumps(schedule.options),
    )


def _to_schedule(row: Iterable[Any]) -> Schedule:
    name, job_type, data, cron, timezone, next_run_at, options = row
    return Schedule(
        name,
        job_type,
        data,
        cron,
        timezone,
        datetime.fromtimestamp(next_run_at, UTC),
        json.loads(options),
    )
