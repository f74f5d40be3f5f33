"""The blocking twins behind `infrakit.jobs.sync` (see that module).

Blocking twins for scripts and WSGI views: the same names, the same logic.

`infrakit.jobs.sync.JobQueue` enqueues and inspects jobs without an event loop. It
does not copy the async queue: it drives the async `JobQueue`'s own coroutines over
stores whose I/O is blocking (the standard `sqlite3` connection, psycopg's
synchronous pool), so those coroutines never suspend and complete in one
`send(None)`. Validation, serialisation, SQL and counter upkeep are the async
code's, line for line; only the I/O calls differ. Workers stay async
(`await queue.run_worker()` or `python -m infrakit.jobs worker`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from infrakit._internal.blocking import drive
from infrakit.errors import import_optional
from infrakit.jobs import _queue, postgres, sqlite
from infrakit.jobs._backoff import Backoff
from infrakit.jobs._errors import JobStorageError
from infrakit.jobs._models import Job, JobPriority, JobStats
from infrakit.jobs._protocol import JobStorage

if TYPE_CHECKING:
    from infrakit.db import DatabaseProtocol
    from infrakit.log import Logger

__all__ = ["JobQueue", "PostgresJobStorage", "SqliteJobStorage", "run_blocking"]

ResultT = TypeVar("ResultT")


def run_blocking(coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
    """Run a coroutine that never suspends (its I/O is blocking) to its result."""
    return drive(coroutine, _needs_loop)


def _needs_loop() -> JobStorageError:
    return JobStorageError("This operation needs an event loop; use the async JobQueue.")


class SqliteJobStorage(sqlite.SqliteJobStorage):
    """The SQLite store with its calls made on the caller's thread (one lock per store)."""

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(path, **options)
        self._lock = threading.Lock()

    async def _run(self, operation: Any) -> Any:
        with self._lock:
            try:
                return self._call(operation)
            except sqlite3.Error as error:
                raise JobStorageError(
                    "The SQLite job store failed.", details={"reason": type(error).__name__}
                ) from error

    async def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()


class PostgresJobStorage(postgres.PostgresJobStorage):
    """The PostgreSQL store over blocking I/O: the same tables as the async store.

    Args:
        database: an open `infrakit.db.sync.Database` (or anything with its blocking
            `fetch_all`/`fetch_one`/`fetch_value`/`execute`/`transaction`), which stays
            the caller's; or a URL, for which the store keeps a small psycopg pool of
            its own (its password is registered for masking).
        schema: as for the async store, so both forms share the jobs.
        max_size: connections of the store's own pool (a URL only).
    """

    def __init__(
        self, database: Any, *, schema: str = "infrakit", max_size: int = 4, **options: Any
    ) -> None:
        adapter: Any
        if isinstance(database, str):
            from infrakit._internal.secrets import register_dsn

            register_dsn(database)
            adapter = _BlockingDatabase(database, max_size)
        else:
            adapter = _AdaptedDatabase(database)
        super().__init__(cast("DatabaseProtocol", adapter), schema=schema, listen=False, **options)

    async def close(self) -> None:
        await super().close()
        self.database.close()  # type: ignore[attr-defined]


class JobQueue:
    """The blocking form of `infrakit.jobs.JobQueue` for enqueueing and inspecting.

    Args:
        storage: `infrakit.jobs.sync.SqliteJobStorage`, `PostgresJobStorage` or a
            `MemoryJobStorage`.
        logger: defaults to `infrakit.jobs`.
    """

    def __init__(self, storage: JobStorage, *, logger: Logger | None = None) -> None:
        self._queue = _queue.JobQueue(storage, logger=logger)
        self.storage = storage

    def __repr__(self) -> str:
        return f"sync.JobQueue({self.storage!r})"

    def __enter__(self) -> Self:
        self.setup()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def setup(self) -> None:
        """Create or upgrade the store's tables (idempotent)."""
        run_blocking(self._queue.setup())

    def close(self) -> None:
        """Close the store's connections."""
        run_blocking(self.storage.close())

    def add_job(
        self,
        job_type: str,
        data: Any = None,
        *,
        priority: int = JobPriority.NORMAL,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        attempts: int = 3,
        backoff: Backoff | float | None = None,
        timeout: float | None = None,
        job_id: str | None = None,
        depends_on: str | Sequence[str] | None = None,
        on_parent_failure: str = "fail",
    ) -> str:
        """Add one job and return its id (see the async `JobQueue.add_job`)."""
        return run_blocking(
            self._queue.add_job(
                job_type,
                data,
                priority=priority,
                delay=delay,
                run_at=run_at,
                attempts=attempts,
                backoff=backoff,
                timeout=timeout,
                job_id=job_id,
                depends_on=depends_on,
                on_parent_failure=on_parent_failure,
            )
        )

    def add_jobs(self, job_type: str, items: Iterable[Any], **options: Any) -> list[str]:
        """Add many jobs in one round trip."""
        return run_blocking(self._queue.add_jobs(job_type, items, **options))

    def chain_job(self, job_type: str, data: Any, depends_on_job_id: str, **options: Any) -> str:
        """Add a job that runs after `depends_on_job_id` completes."""
        return run_blocking(self._queue.chain_job(job_type, data, depends_on_job_id, **options))

    def get_job(self, job_id: str) -> Job[Any]:
        """The job with that id (raises `JobNotFoundError`)."""
        return run_blocking(self._queue.get_job(job_id))

    def get_stats(self, job_type: str) -> JobStats:
        """Exact counts of a type, from the store's counters."""
        return run_blocking(self._queue.get_stats(job_type))

    def pause_queue(self, job_type: str) -> None:
        """Stop every worker from starting jobs of `job_type`."""
        run_blocking(self._queue.pause_queue(job_type))

    def resume_queue(self, job_type: str) -> None:
        """Undo `pause_queue`."""
        run_blocking(self._queue.resume_queue(job_type))

    def cancel_job(self, job_id: str) -> bool:
        """Cancel an unfinished job."""
        return run_blocking(self._queue.cancel_job(job_id))

    def retry_job(self, job_id: str) -> bool:
        """Run a failed or cancelled job again."""
        return run_blocking(self._queue.retry_job(job_id))

    def schedule(self, name: str, job_type: str, data: Any = None, **options: Any) -> None:
        """Create or update a cron schedule (see the async `JobQueue.schedule`)."""
        run_blocking(self._queue.schedule(name, job_type, data, **options))


class _BlockingDatabase:
    """The slice of the `Database` Protocol the store uses, on psycopg's sync pool.

    Its coroutine methods block and never suspend, which is what lets `run_blocking`
    drive the async store's code.
    """

    def __init__(self, url: str, max_size: int) -> None:
        pool_module = import_optional("psycopg_pool", extra="postgres")
        rows = import_optional("psycopg.rows", extra="postgres")
        self._pool = pool_module.ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "row_factory": rows.dict_row},
            open=True,
        )

    def close(self) -> None:
        self._pool.close()

    async def fetch_all(self, sql: str, params: Any = ()) -> list[Any]:
        with self._pool.connection() as connection:
            return _rows(connection.execute(sql, params))

    async def fetch_one(self, sql: str, params: Any = ()) -> Any:
        with self._pool.connection() as connection:
            return connection.execute(sql, params).fetchone()

    async def fetch_value(self, sql: str, params: Any = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    async def execute(self, sql: str, params: Any = ()) -> int:
        with self._pool.connection() as connection:
            return int(connection.execute(sql, params).rowcount)

    def transaction(self) -> _BlockingTransaction:
        return _BlockingTransaction(self._pool)


class _BlockingTransaction:
    """`async with database.transaction() as tx:` on one pooled connection."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._scope: Any = None

    async def __aenter__(self) -> _BlockingTransaction:
        self._manager = self._transaction()
        self._connection = self._manager.__enter__()
        return self

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._pool.connection() as connection, connection.transaction():
            yield connection

    async def __aexit__(self, *exc_info: Any) -> None:
        self._manager.__exit__(*exc_info)

    async def fetch_all(self, sql: str, params: Any = ()) -> list[Any]:
        return _rows(self._connection.execute(sql, params))

    async def fetch_one(self, sql: str, params: Any = ()) -> Any:
        return self._connection.execute(sql, params).fetchone()

    async def fetch_value(self, sql: str, params: Any = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    async def execute(self, sql: str, params: Any = ()) -> int:
        return int(self._connection.execute(sql, params).rowcount)


class _AdaptedDatabase:
    """A blocking `Database` (`infrakit.db.sync.Database`) seen through coroutines
    that never suspend; its transactions likewise. Closing leaves it to its owner."""

    def __init__(self, database: Any) -> None:
        self._database = database

    def close(self) -> None:
        """The database belongs to the caller."""

    async def fetch_all(self, sql: str, params: Any = ()) -> list[Any]:
        return list(self._database.fetch_all(sql, params))

    async def fetch_one(self, sql: str, params: Any = ()) -> Any:
        return self._database.fetch_one(sql, params)

    async def fetch_value(self, sql: str, params: Any = ()) -> Any:
        return self._database.fetch_value(sql, params)

    async def execute(self, sql: str, params: Any = ()) -> int:
        return int(self._database.execute(sql, params))

    def transaction(self) -> _AdaptedTransaction:
        return _AdaptedTransaction(self._database.transaction())


class _AdaptedTransaction:
    def __init__(self, scope: Any) -> None:
        self._scope = scope

    async def __aenter__(self) -> _AdaptedDatabase:
        return _AdaptedDatabase(self._scope.__enter__())

    async def __aexit__(self, *exc_info: Any) -> None:
        self._scope.__exit__(*exc_info)


def _rows(cursor: Any) -> list[Any]:
    return list(cursor.fetchall()) if cursor.description is not None else []
