"""`PostgresJobStorage`: the multi-node store on a `Database` (the db module's Protocol).

Claims take a batch with `FOR UPDATE SKIP LOCKED` (priority, then time); each hot
operation is one statement whose CTEs also write the counter deltas and the NOTIFY.
Wake-ups arrive by `LISTEN` on a connection of the store's own, opened from the
database's URL, so the listener never holds a pooled connection; when it cannot
listen (PgBouncer in transaction mode, `listen=False`) workers poll. Leases are
renewed by the worker's heartbeat, and any worker's `maintain()` recovers expired ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from infrakit.errors import AppError, ConfigurationError, import_optional
from infrakit.jobs import _postgres_sql as sql
from infrakit.jobs._errors import JobStorageError
from infrakit.jobs._models import Job, JobStats, JobStatus, stats_from_counts
from infrakit.jobs._protocol import Lease, NewJob, Outcome, Schedule
from infrakit.jobs._rules import parent_failure_reason, unknown_parents_error

if TYPE_CHECKING:
    from infrakit.db import DatabaseProtocol
    from infrakit.log import Logger

__all__ = ["PostgresJobStorage"]

SCHEMA_VERSION = 1
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
_LEASE_EXPIRED = "lease expired (the worker stopped or lost its connection)"
_LISTEN_RETRY_MAX = 30.0


class PostgresJobStorage:
    """Jobs in PostgreSQL tables inside `schema`, shared by workers on any number of hosts.

    Args:
        database: an open `infrakit.db.Database` (or anything with its Protocol).
        schema: where the tables live, so several apps or test runs share a server.
        lease_seconds: how long a claim holds a job without a heartbeat.
        listen: wake workers by LISTEN/NOTIFY (turn off behind PgBouncer in
            transaction mode; workers then poll).
        listen_url: the URL for the listening connection; defaults to the database's
            own (`database.settings.url`).
        logger: defaults to `infrakit.jobs`.
    """

    def __init__(
        self,
        database: DatabaseProtocol,
        *,
        schema: str = "infrakit",
        lease_seconds: float = 30.0,
        listen: bool = True,
        listen_url: str | None = None,
        logger: Logger | None = None,
    ) -> None:
        if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
            raise ConfigurationError(
                "The jobs schema must be a lower-case SQL identifier.", details={"field": "schema"}
            )
        if lease_seconds <= 0:
            raise ConfigurationError(
                "lease_seconds must be positive.", details={"field": "lease_seconds"}
            )
        self.database = database
        self.schema = schema
        self.lease_seconds = float(lease_seconds)
        self.channel = f"{schema}_jobs"
        self._listen = listen
        self._listen_url = listen_url
        self._logger = logger if logger is not None else _default_logger()
        self._statements: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresJobStorage(schema={self.schema!r})"

    def _sql(self, name: str) -> str:
        statement = self._statements.get(name)
        if statement is None:
            statement = getattr(sql, name).format(s=self.schema)
            self._statements[name] = statement
        return statement

    async def _fetch(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return await self.database.fetch_all(self._sql(name), params)
        except AppError:
            raise
        except Exception as error:
            raise JobStorageError(details={"reason": type(error).__name__}) from error

    # -- lifecycle -------------------------------------------------------------------

    async def setup(self) -> None:
        """Create the schema and tables (idempotent, versioned in `job_meta`)."""
        schema = self.schema
        async with self.database.transaction() as transaction:
            await transaction.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
            await transaction.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await transaction.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.job_meta (key text PRIMARY KEY, value text)"
            )
            current = await transaction.fetch_value(
                f"SELECT value FROM {schema}.job_meta WHERE key = 'schema_version'"
            )
            version = int(current) if current is not None else 0
            if version > SCHEMA_VERSION:
                raise ConfigurationError(
                    "The jobs schema is newer than this infrakit; upgrade infrakit.",
                    details={"schema_version": version},
                )
            if version < 1:
                for statement in sql.SCHEMA_V1.format(s=schema).split(";"):
                    if statement.strip():
                        await transaction.execute(statement)
            await transaction.execute(
                f"INSERT INTO {schema}.job_meta VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
        self._start_listener()

    async def close(self) -> None:
        """Stop the listener (the `Database` belongs to the caller and stays open)."""
        self._closed = True
        self._wake.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    # -- the original's IJobStorage --------------------------------------------------

    async def save_job(self, job: Job[Any]) -> None:
        schema = self.schema
        counts: Counter[tuple[str, str]] = Counter()
        async with self.database.transaction() as transaction:
            old = await transaction.fetch_one(
                f"DELETE FROM {schema}.jobs WHERE id = %s RETURNING job_type, status", (job.id,)
            )
            if old is not None:
                counts[(old["job_type"], old["status"])] -= 1
            await transaction.execute(
                f"INSERT INTO {schema}.jobs ({sql.JOB_COLUMNS}) VALUES "
                "(%s, %s, %s, %s, coalesce(%s, now()), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, coalesce(%s, now()), %s, %s)",
                _job_values(job),
            )
            counts[(job.job_type, job.status.value)] += 1
            await self._write_counts(transaction, counts)

    async def get_job(self, job_id: str) -> Job[Any] | None:
        row = await self.database.fetch_one(
            f"SELECT {sql.JOB_COLUMNS} FROM {self.schema}.jobs WHERE id = %s", (job_id,)
        )
        return None if row is None else _to_job(row)

    async def get_jobs_by_status(
        self, job_type: str, status: JobStatus, limit: int = 100
    ) -> list[Job[Any]]:
        rows = await self.database.fetch_all(
            f"SELECT {sql.JOB_COLUMNS} FROM {self.schema}.jobs "
            "WHERE job_type = %s AND status = %s ORDER BY created_at LIMIT %s",
            (job_type, JobStatus(status).value, limit),
        )
        return [_to_job(row) for row in rows]

    # -- adding ----------------------------------------------------------------------

    async def add_jobs(self, jobs: Sequence[NewJob]) -> list[str]:
        if any(job.depends_on for job in jobs):
            return await self._add_with_parents(jobs)
        if _uniform(jobs):
            await self._fetch("BULK_INSERT", _bulk_params(jobs, self.channel))
            return [job.id for job in jobs]
        rows = await self._fetch("INSERT", _insert_params(jobs, None, self.channel))
        inserted = {row["id"] for row in rows}
        leftover = [job for job in jobs if job.id not in inserted]
        if leftover:
            await self._replace_finished(leftover)
        return [job.id for job in jobs]

    async def _replace_finished(self, jobs: Sequence[NewJob]) -> None:
        """Idempotent ids whose job finished: replace them (an unfinished one is kept)."""
        schema = self.schema
        ids = [job.id for job in jobs]
        async with self.database.transaction() as transaction:
            gone = await transaction.fetch_all(
                f"DELETE FROM {schema}.jobs WHERE id = ANY(%s) AND status IN "
                "('completed', 'failed', 'cancelled') RETURNING id, job_type, status",
                (ids,),
            )
            if not gone:
                return
            counts: Counter[tuple[str, str]] = Counter()
            for row in gone:
                counts[(row["job_type"], row["status"])] -= 1
            await self._write_counts(transaction, counts)
            again = {row["id"] for row in gone}
            params = _insert_params([job for job in jobs if job.id in again], None, self.channel)
            await transaction.fetch_all(self._sql("INSERT"), params)

    async def _add_with_parents(self, jobs: Sequence[NewJob]) -> list[str]:
        schema = self.schema
        parents = sorted({parent for job in jobs for parent in job.depends_on})
        async with self.database.transaction() as transaction:
            rows = await transaction.fetch_all(
                f"SELECT id, status FROM {schema}.jobs WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                (parents,),
            )
            statuses = {row["id"]: row["status"] for row in rows}
            batch = {job.id for job in jobs}
            missing = [
                parent for parent in parents if parent not in statuses and parent not in batch
            ]
            if missing:
                raise unknown_parents_error(missing)
            states = [_initial_state(job, statuses) for job in jobs]
            inserted = await transaction.fetch_all(
                self._sql("INSERT"), _insert_params(jobs, states, self.channel)
            )
            new_ids = {row["id"] for row in inserted}
            links = [
                (parent, job.id)
                for job, state in zip(jobs, states, strict=True)
                if job.id in new_ids
                for parent in state[1]
            ]
            if links:
                await transaction.execute(
                    f"INSERT INTO {schema}.job_dependencies SELECT * FROM "
                    "unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING",
                    ([link[0] for link in links], [link[1] for link in links]),
                )
        return [job.id for job in jobs]

    # -- working ---------------------------------------------------------------------

    async def claim_jobs(
        self, job_types: Sequence[str] | None, limit: int, worker_id: str
    ) -> list[Job[Any]]:
        types = list(job_types) if job_types is not None else await self._all_types()
        params = {"types": types, "limit": limit, "worker": worker_id, "lease": self.lease_seconds}
        return [_to_job(row) for row in await self._fetch("CLAIM", params)]

    async def _all_types(self) -> list[str]:
        rows = await self.database.fetch_all(
            f"SELECT DISTINCT job_type FROM {self.schema}.jobs WHERE status = 'waiting'"
        )
        return [row["job_type"] for row in rows]

    async def renew_leases(self, leases: Sequence[Lease]) -> set[str]:
        params = {
            "ids": [lease.job_id for lease in leases],
            "tokens": [lease.token for lease in leases],
            "lease": self.lease_seconds,
        }
        return {row["id"] for row in await self._fetch("RENEW", params)}

    async def complete_jobs(self, outcomes: Sequence[Outcome]) -> set[str]:
        params = {
            "ids": [outcome.lease.job_id for outcome in outcomes],
            "tokens": [outcome.lease.token for outcome in outcomes],
            "results": [outcome.result_json for outcome in outcomes],
            "channel": self.channel,
        }
        return {row["id"] for row in await self._fetch("COMPLETE", params)}

    async def fail_job(self, lease: Lease, error: str, retry_in: float | None) -> bool:
        if retry_in is not None:
            params = {
                "id": lease.job_id,
                "token": lease.token,
                "error": error,
                "delay": float(retry_in),
                "channel": self.channel,
            }
            return bool(await self._fetch("RETRY_LATER", params))
        async with self.database.transaction() as transaction:
            row = await transaction.fetch_one(
                f"UPDATE {self.schema}.jobs SET status = 'failed', last_error = %s, "
                "finished_at = now(), locked_until = NULL "
                "WHERE id = %s AND lease_token = %s AND status = 'active' RETURNING job_type",
                (error, lease.job_id, lease.token),
            )
            if row is None:
                return False
            counts: Counter[tuple[str, str]] = Counter(
                {(row["job_type"], "active"): -1, (row["job_type"], "failed"): 1}
            )
            await self._cascade(transaction, [lease.job_id], [], counts)
            await self._write_counts(transaction, counts)
        return True

    async def release_jobs(self, leases: Sequence[Lease]) -> None:
        params = {
            "ids": [lease.job_id for lease in leases],
            "tokens": [lease.token for lease in leases],
            "channel": self.channel,
        }
        await self._fetch("RELEASE", params)

    async def cancel_job(self, job_id: str) -> bool:
        schema = self.schema
        async with self.database.transaction() as transaction:
            row = await transaction.fetch_one(
                f"SELECT job_type, status FROM {schema}.jobs WHERE id = %s FOR UPDATE", (job_id,)
            )
            if row is None or row["status"] in ("completed", "failed", "cancelled"):
                return False
            await transaction.execute(
                f"UPDATE {schema}.jobs SET status = 'cancelled', finished_at = now(), "
                "locked_until = NULL WHERE id = %s",
                (job_id,),
            )
            await transaction.execute(
                f"DELETE FROM {schema}.job_dependencies WHERE child_id = %s", (job_id,)
            )
            counts: Counter[tuple[str, str]] = Counter(
                {(row["job_type"], row["status"]): -1, (row["job_type"], "cancelled"): 1}
            )
            await self._cascade(transaction, [job_id], [], counts)
            await self._write_counts(transaction, counts)
        return True

    async def retry_job(self, job_id: str) -> bool:
        schema = self.schema
        async with self.database.transaction() as transaction:
            row = await transaction.fetch_one(
                f"SELECT job_type, status FROM {schema}.jobs WHERE id = %s "
                "AND status IN ('failed', 'cancelled') FOR UPDATE",
                (job_id,),
            )
            if row is None:
                return False
            await transaction.execute(
                f"UPDATE {schema}.jobs SET status = 'waiting', attempts = 0, finished_at = NULL, "
                "blocked_reason = NULL, run_at = now() WHERE id = %s",
                (job_id,),
            )
            counts: Counter[tuple[str, str]] = Counter(
                {(row["job_type"], row["status"]): -1, (row["job_type"], "waiting"): 1}
            )
            await self._write_counts(transaction, counts)
            await transaction.execute("SELECT pg_notify(%s, '')", (self.channel,))
        return True

    async def set_paused(self, job_type: str, paused: bool) -> None:
        await self.database.execute(
            f"INSERT INTO {self.schema}.job_queues VALUES (%s, %s) "
            "ON CONFLICT (job_type) DO UPDATE SET paused = excluded.paused",
            (job_type, paused),
        )
        if not paused:
            await self.database.execute("SELECT pg_notify(%s, '')", (self.channel,))

    async def get_stats(self, job_type: str) -> JobStats:
        rows = await self._fetch("STATS", {"type": job_type})
        paused = (
            await self.database.fetch_value(
                f"SELECT paused FROM {self.schema}.job_queues WHERE job_type = %s", (job_type,)
            )
            if not rows
            else rows[0]["paused"]
        )
        counts = {row["status"]: int(row["count"]) for row in rows}
        return stats_from_counts(counts, bool(paused))

    async def maintain(self) -> float | None:
        expired = await self._fetch("EXPIRE", {"error": _LEASE_EXPIRED, "channel": self.channel})
        failed = [row["id"] for row in expired if row["status"] == "failed"]
        if failed:
            await self._settle_parents(failed, [])
        await self._repair_orphans()
        await self._fetch("COMPACT", {})
        promoted = await self._fetch("PROMOTE", {"channel": self.channel})
        next_due = promoted[0]["next_due"] if promoted else None
        return None if next_due is None else max(float(next_due), 0.0)

    async def _repair_orphans(self) -> None:
        """Dependency rows whose parent already finished (a child added while its parent
        was completing): apply the parent's end now."""
        rows = await self.database.fetch_all(self._sql("ORPHANS"))
        if rows:
            completed = sorted({r["parent_id"] for r in rows if r["status"] == "completed"})
            failed = sorted({r["parent_id"] for r in rows if r["status"] != "completed"})
            await self._settle_parents(failed, completed)

    async def _settle_parents(self, failed: list[str], completed: list[str]) -> None:
        async with self.database.transaction() as transaction:
            counts: Counter[tuple[str, str]] = Counter()
            await self._cascade(transaction, failed, completed, counts)
            await self._write_counts(transaction, counts)

    async def _cascade(
        self,
        transaction: Any,
        failed: list[str],
        completed: list[str],
        counts: Counter[tuple[str, str]],
    ) -> None:
        """Apply finished parents to their blocked children, level by level."""
        schema = self.schema
        while failed or completed:
            links = await transaction.fetch_all(
                f"DELETE FROM {schema}.job_dependencies WHERE parent_id = ANY(%s) "
                "RETURNING parent_id, child_id",
                (failed + completed,),
            )
            failed_set = set(failed)
            failed, completed = [], []
            for link in sorted(links, key=lambda item: item["child_id"]):
                child = await transaction.fetch_one(
                    f"SELECT job_type, on_parent_failure, pending_parents, run_at > now() AS later "
                    f"FROM {schema}.jobs WHERE id = %s AND status = 'blocked' FOR UPDATE",
                    (link["child_id"],),
                )
                if child is None:
                    continue
                outcome = await self._settle_child(
                    transaction,
                    link["child_id"],
                    link["parent_id"] in failed_set,
                    link["parent_id"],
                    child,
                )
                if outcome != "blocked":
                    counts[(child["job_type"], "blocked")] -= 1
                    counts[(child["job_type"], outcome)] += 1
                if outcome in ("failed", "cancelled"):
                    failed.append(link["child_id"])

    async def _settle_child(
        self, transaction: Any, child_id: str, parent_failed: bool, parent_id: str, child: Any
    ) -> str:
        schema = self.schema
        policy = child["on_parent_failure"]
        if parent_failed and policy != "ignore":
            final = "cancelled" if policy == "cancel" else "failed"
            await transaction.execute(
                f"UPDATE {schema}.jobs SET status = %s, finished_at = now(), blocked_reason = %s "
                "WHERE id = %s",
                (final, parent_failure_reason(parent_id), child_id),
            )
            return final
        if child["pending_parents"] > 1:
            remaining = child["pending_parents"] - 1
            await transaction.execute(
                f"UPDATE {schema}.jobs SET pending_parents = %s, blocked_reason = %s WHERE id = %s",
                (remaining, f"waiting for {remaining} parent job(s)", child_id),
            )
            return "blocked"
        status = "delayed" if child["later"] else "waiting"
        await transaction.execute(
            f"UPDATE {schema}.jobs SET pending_parents = 0, status = %s, blocked_reason = NULL "
            "WHERE id = %s",
            (status, child_id),
        )
        await transaction.execute("SELECT pg_notify(%s, '')", (self.channel,))
        return status

    async def _write_counts(self, transaction: Any, counts: Counter[tuple[str, str]]) -> None:
        changes = [(key, change) for key, change in counts.items() if change]
        if not changes:
            return
        await transaction.execute(
            f"INSERT INTO {self.schema}.job_counts (job_type, status, delta) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[])",
            (
                [key[0] for key, _ in changes],
                [key[1] for key, _ in changes],
                [change for _, change in changes],
            ),
        )

    async def purge_finished(self, older_than: float) -> int:
        rows = await self._fetch("PURGE", {"age": float(older_than)})
        return int(rows[0]["removed"]) if rows else 0

    # -- wake-ups --------------------------------------------------------------------

    async def wait_for_work(self, timeout: float) -> None:  # noqa: ASYNC109
        if not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    def _start_listener(self) -> None:
        if not self._listen or self._listener is not None or self._closed:
            return
        url = self._listen_url or _database_url(self.database)
        if url is None:
            self._logger.info("jobs listener off: no URL for it; workers poll")
            return
        self._listener = asyncio.create_task(self._listen_forever(url), name="jobs-listener")

    async def _listen_forever(self, url: str) -> None:
        """LISTEN on a dedicated connection; reconnect with backoff, forever."""
        psycopg = import_optional("psycopg", extra="postgres")
        pause = 0.1
        while not self._closed:
            try:
                connect = psycopg.AsyncConnection.connect
                async with await connect(
                    url, autocommit=True, application_name=self._listener_name()
                ) as connection:
                    await connection.execute(f"LISTEN {self.channel}")
                    self._logger.debug("jobs listener connected", channel=self.channel)
                    pause = 0.1
                    self._wake.set()  # anything missed while away is worth a look
                    async for _ in connection.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._logger.warning(
                    "jobs listener lost; polling until it reconnects", error=type(error).__name__
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LISTEN_RETRY_MAX)

    def _listener_name(self) -> str:
        settings = getattr(self.database, "settings", None)
        base = getattr(settings, "application_name", None) or "infrakit"
        return f"{base}-jobs-listener"[:63]

    # -- schedules -------------------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        await self.database.execute(
            f"INSERT INTO {self.schema}.job_schedules AS s VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET job_type = excluded.job_type, data = excluded.data, "
            "options = excluded.options, next_run_at = CASE WHEN s.cron = excluded.cron "
            "AND s.timezone = excluded.timezone THEN s.next_run_at ELSE excluded.next_run_at END, "
            "cron = excluded.cron, timezone = excluded.timezone",
            (
                schedule.name,
                schedule.job_type,
                schedule.data_json,
                schedule.cron,
                schedule.timezone,
                schedule.next_run_at,
                json.dumps(schedule.options),
            ),
        )

    async def due_schedules(self) -> list[Schedule]:
        rows = await self.database.fetch_all(
            f"SELECT name, job_type, data, cron, timezone, next_run_at, options "
            f"FROM {self.schema}.job_schedules WHERE next_run_at <= now()"
        )
        return [
            Schedule(
                row["name"],
                row["job_type"],
                json.dumps(row["data"]),
                row["cron"],
                row["timezone"],
                row["next_run_at"],
                row["options"],
            )
            for row in rows
        ]

    async def fire_schedule(self, schedule: Schedule, next_run_at: datetime, job: NewJob) -> bool:
        async with self.database.transaction() as transaction:
            moved = await transaction.execute(
                f"UPDATE {self.schema}.job_schedules SET next_run_at = %s "
                "WHERE name = %s AND next_run_at = %s",
                (next_run_at, schedule.name, schedule.next_run_at),
            )
            if not moved:
                return False
            await transaction.fetch_all(
                self._sql("INSERT"), _insert_params([job], None, self.channel)
            )
        return True


def _initial_state(
    job: NewJob, statuses: dict[str, str]
) -> tuple[str | None, list[str], str | None]:
    """(status or None for waiting/delayed by time, pending parents, reason)."""
    pending = []
    for parent in job.depends_on:
        status = statuses.get(parent, "waiting")
        if status == "completed":
            continue
        if status in ("failed", "cancelled"):
            if job.on_parent_failure != "ignore":
                final = "cancelled" if job.on_parent_failure == "cancel" else "failed"
                return final, [], parent_failure_reason(parent)
            continue
        pending.append(parent)
    if pending:
        return "blocked", pending, f"waiting for {len(pending)} parent job(s)"
    return None, [], None


def _insert_params(
    jobs: Sequence[NewJob],
    states: Sequence[tuple[str | None, list[str], str | None]] | None,
    channel: str,
) -> dict[str, Any]:
    chosen = states if states is not None else [(None, [], None)] * len(jobs)
    return {
        "ids": [job.id for job in jobs],
        "types": [job.job_type for job in jobs],
        "statuses": [state[0] for state in chosen],
        "priorities": [job.priority for job in jobs],
        "run_ats": [job.run_at for job in jobs],
        "data": [job.data_json for job in jobs],
        "reasons": [state[2] for state in chosen],
        "attempts": [job.max_attempts for job in jobs],
        "backoffs": _backoff_texts(jobs),
        "timeouts": [job.timeout for job in jobs],
        "parents": [json.dumps(list(job.depends_on)) if job.depends_on else None for job in jobs],
        "policies": [job.on_parent_failure for job in jobs],
        "pending": [len(state[1]) for state in chosen],
        "channel": channel,
    }


def _uniform(jobs: Sequence[NewJob]) -> bool:
    """Generated ids (no conflict possible) and one set of options: the bulk statement."""
    first = jobs[0]
    return not any(
        job.idempotent
        or job.job_type != first.job_type
        or job.priority != first.priority
        or job.run_at != first.run_at
        or job.max_attempts != first.max_attempts
        or job.backoff != first.backoff
        or job.timeout != first.timeout
        or job.on_parent_failure != first.on_parent_failure
        for job in jobs
    )


def _bulk_params(jobs: Sequence[NewJob], channel: str) -> dict[str, Any]:
    """Ids as one array and payloads as one JSON array: two parameters for any count."""
    first = jobs[0]
    return {
        "ids": [job.id for job in jobs],
        "data": "[" + ",".join(job.data_json for job in jobs) + "]",
        "type": first.job_type,
        "status": "delayed" if first.run_at > time.time() else "waiting",
        "priority": first.priority,
        "run_at": first.run_at,
        "attempts": first.max_attempts,
        "backoff": json.dumps(first.backoff),
        "timeout": first.timeout,
        "policy": first.on_parent_failure,
        "channel": channel,
    }


def _backoff_texts(jobs: Sequence[NewJob]) -> list[str]:
    """One JSON text per job; a bulk add shares one policy, so it is encoded once."""
    texts: list[str] = []
    last: dict[str, Any] | None = None
    text = "{}"
    for job in jobs:
        if job.backoff is not last:
            last, text = job.backoff, json.dumps(job.backoff)
        texts.append(text)
    return texts


def _job_values(job: Job[Any]) -> tuple[Any, ...]:
    jsonb = import_optional("psycopg.types.json", extra="postgres").Jsonb
    return (
        job.id,
        job.job_type,
        job.status.value,
        job.priority,
        job.run_at,
        jsonb(job.data),
        None if job.result is None else jsonb(job.result),
        job.last_error,
        job.blocked_reason,
        job.attempts,
        job.max_attempts,
        jsonb(dict(job.backoff)),
        job.timeout,
        list(job.depends_on),
        job.on_parent_failure,
        job.lease_token,
        job.created_at,
        job.started_at,
        job.finished_at,
    )


def _to_job(row: dict[str, Any]) -> Job[Any]:
    return Job(
        id=row["id"],
        job_type=row["job_type"],
        data=row["data"],
        status=JobStatus(row["status"]),
        priority=row["priority"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        backoff=row["backoff"],
        timeout=row["timeout"],
        run_at=row["run_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=row["result"],
        last_error=row["last_error"],
        blocked_reason=row["blocked_reason"],
        depends_on=tuple(row["depends_on"] or ()),
        on_parent_failure=row["on_parent_failure"],
        lease_token=row["lease_token"],
    )


def _database_url(database: Any) -> str | None:
    """The URL of an `infrakit.db.Database` (its settings), or None for other Protocols."""
    url = getattr(getattr(database, "settings", None), "url", None)
    secret = getattr(url, "get_secret_value", None)
    if callable(secret):
        return str(secret())
    return url if isinstance(url, str) else None


def _default_logger() -> Logger:
    from infrakit.log import get_logger

    return get_logger("infrakit.jobs")
