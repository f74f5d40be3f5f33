"""`Database`: a psycopg 3 connection pool with translated errors and statistics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from infrakit.db._cancel import settle
from infrakit.db._core import HEALTH_TIMEOUT, DatabaseCore, checked_isolation, has_pending_input
from infrakit.db._errors import DatabaseUnavailableError
from infrakit.db._executor import Action, Executor, Params
from infrakit.db._transaction import Isolation, Transaction, TransactionScope
from infrakit.errors import import_optional

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["Database", "DatabaseHealth"]

ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    """A successful ping: its round-trip time and the pool's occupancy."""

    latency_ms: float
    pool_size: int
    pool_idle: int


class Database(DatabaseCore, Executor):
    """PostgreSQL through a psycopg 3 `AsyncConnectionPool`.

    Single statements run in autocommit on a pooled connection (no BEGIN/COMMIT
    round trips); `transaction()` and `with_transaction()` give explicit
    transactions. Use `async with Database(url) as db:` or `open()` / `close()`.

    Args:
        settings: a URL (`postgresql://user:password@host:5432/db`) or `DatabaseSettings`.
        min_size: connections kept open (default `settings.pool_min_size`).
        max_size: most connections at once (default `settings.pool_max_size`).
        acquire_timeout: seconds to wait for a free connection before
            `DatabaseTimeoutError`.
        statement_timeout: server-side limit per statement, in seconds (None: no limit);
            set as a connection option, so it costs no round trip.
        slow_query_threshold: seconds after which a query counts and is logged as slow.
        application_name: shown in `pg_stat_activity`.
        logger: where errors and slow queries go; defaults to `infrakit.db`.
    """

    async def open(self) -> None:
        """Open the pool and wait for `min_size` connections.

        Raises:
            DatabaseUnavailableError: the server cannot be reached in `acquire_timeout`.
        """
        if self._pool is not None:
            return
        self._rows = import_optional("psycopg.rows", extra="postgres")
        settings = self.settings
        pool = self._new_pool()
        try:
            await pool.open(wait=True, timeout=settings.acquire_timeout)
        except BaseException as error:  # cancelled too: never leave the pool's workers running
            await pool.close()
            if not isinstance(error, Exception):
                raise
            raise DatabaseUnavailableError(
                f"Cannot connect to {self._display_url}.",
                details={"reason": type(error).__name__},
            ) from error
        self._pool = pool
        self._logger.info("database pool open", url=self._display_url)

    def _new_pool(self) -> Any:
        """psycopg_pool's `AsyncConnectionPool` (the blocking form's I/O seam)."""
        pool_module = import_optional("psycopg_pool", extra="postgres")
        return pool_module.AsyncConnectionPool(**self._pool_arguments())

    async def close(self) -> None:
        """Close every connection; waits for connections in use to be returned."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def transaction(
        self, isolation: Isolation = "read_committed", *, read_only: bool = False
    ) -> TransactionScope:
        """`async with db.transaction("serializable") as tx:` commits on success.

        Raises:
            ValidationError: an unknown isolation level.
        """
        return TransactionScope(self, isolation=checked_isolation(isolation), read_only=read_only)

    async def with_transaction(
        self,
        callback: Callable[[Transaction], Awaitable[ResultT]],
        *,
        isolation: Isolation = "read_committed",
        read_only: bool = False,
        retries: int = 3,
    ) -> ResultT:
        """Run `callback(tx)` in a transaction, re-running all of it on 40001 / 40P01.

        Each attempt is a fresh transaction; backoff is exponential with full
        jitter (at most 1 s per wait). `tx.on_commit` hooks run once, after the
        attempt that committed. Any other error is raised at once.

        Raises:
            TransactionConflictError: still conflicting after `retries` re-runs.
        """
        from tenacity import AsyncRetrying

        isolation = checked_isolation(isolation)  # type: ignore[assignment]
        retrying = AsyncRetrying(**self._retry_arguments(retries))
        async for attempt in retrying:
            with attempt:
                scope = TransactionScope(
                    self, isolation=isolation, read_only=read_only, defer_hooks=True
                )
                async with scope as transaction:
                    result = await callback(transaction)
        await transaction._run_hooks()
        return result

    async def health(self) -> DatabaseHealth:
        """A bounded `SELECT 1`.

        Raises:
            DatabaseUnavailableError: not open, or the server does not answer.
            DatabaseTimeoutError: no answer within 5 s (or `acquire_timeout` for a connection).
        """
        started = time.perf_counter()
        await self.fetch_value("SELECT 1", timeout=HEALTH_TIMEOUT)
        pool = self._pool_figures()
        return DatabaseHealth(
            latency_ms=(time.perf_counter() - started) * 1000,
            pool_size=pool.get("pool_size", 0),
            pool_idle=pool.get("pool_available", 0),
        )

    async def migrate(
        self,
        directory: str | Path,
        *,
        table: str = "infrakit_migrations",
        schema: str | None = None,
    ) -> list[str]:
        """Apply the pending `NNNN_name.sql` files of `directory`; see `docs/db.md`.

        Returns:
            The file names applied by this call, in order (empty when up to date).

        Raises:
            MigrationError: a bad file name, a changed applied file, or a failing file.
        """
        from infrakit.db._migrations import run_migrations

        return await run_migrations(self, Path(directory), table=table, schema=schema)

    # -- the hot path -----------------------------------------------------------------

    async def _run(
        self,
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> ResultT:
        if time_limit is not None:
            return await self._run_within(time_limit, sql, params, action, row_type)
        started = time.perf_counter()
        try:
            connection = await self._acquire()
            try:
                cursor = connection.cursor(row_factory=self._row_factory(row_type))
                await cursor.execute(sql, params)
                result = await action(cursor)
            except BaseException as error:
                await self._release_after(connection, error)
                raise
            await self._release(connection)
        except Exception as error:
            raise self._failed(error, sql, params) from error
        self._record(sql, params, started)
        return result

    async def _run_within(
        self,
        time_limit: float,
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
    ) -> ResultT:
        """`_run` bounded by `time_limit`, the wait for a connection included."""
        try:
            async with asyncio.timeout(time_limit):
                return await self._run(sql, params, action, row_type, None)
        except TimeoutError as error:
            raise self._failed(error, sql, params) from error

    async def _execute_on(
        self,
        connection: AsyncConnection[Any],
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> ResultT:
        cursor = connection.cursor(row_factory=self._row_factory(row_type))
        if time_limit is None:
            await cursor.execute(sql, params)
            return await action(cursor)
        async with asyncio.timeout(time_limit):
            await cursor.execute(sql, params)
            return await action(cursor)

    async def _run_many(
        self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> int:
        connection = await self._acquire_or_raise()
        try:
            count = await self._run_many_on(connection, sql, params_seq)
        except BaseException as error:
            await self._release_after(connection, error)
            raise
        await self._release(connection)
        return count

    async def _run_many_on(
        self,
        connection: AsyncConnection[Any],
        sql: str,
        params_seq: Iterable[Sequence[Any] | Mapping[str, Any]],
    ) -> int:
        started = time.perf_counter()
        try:
            async with connection.cursor() as cursor:
                await cursor.executemany(sql, params_seq)
                count = cursor.rowcount
        except Exception as error:
            raise self._failed(error, sql, None) from error
        self._record(sql, None, started)
        return count

    async def _acquire(self) -> AsyncConnection[Any]:
        """A pooled connection, skipping ones the server closed while they sat idle.

        An idle connection never has input waiting unless the server sent something
        (a termination notice, EOF, a notification), so a zero-timeout `select`
        spots dead ones for a microsecond instead of a round trip per acquire.
        """
        pool = self._pool
        if pool is None:
            raise DatabaseUnavailableError("The database is not open; call `open()` first.")
        stats = self._stats
        while True:
            stats.wait_started()
            try:
                connection: AsyncConnection[Any] = await pool.getconn()
            finally:
                stats.wait_ended()
            if not has_pending_input(connection):
                return connection
            try:
                await connection.execute("")
            except Exception:
                stats.record_lost()
                await pool.putconn(connection)
                continue
            except BaseException:  # cancelled mid-check: never lose the connection
                await settle(connection, self._release, self._logger)
                raise
            return connection

    async def _acquire_or_raise(self) -> AsyncConnection[Any]:
        try:
            return await self._acquire()
        except Exception as error:
            raise self._failed(error, "<acquire>", None) from error

    async def _release(self, connection: AsyncConnection[Any]) -> None:
        if self._pool is not None:
            await self._pool.putconn(connection)
        else:
            await connection.close()

    async def _discard(self, connection: AsyncConnection[Any]) -> None:
        """Close `connection` (it may hold session state), nothing left running; never reused."""
        await settle(connection, self._release, self._logger, reuse=False)

    async def _release_after(self, connection: AsyncConnection[Any], error: BaseException) -> None:
        """Return the connection after `error`; after an interruption, settle it first.

        A cancelled task may have left a statement running on the server: `settle`
        makes sure it stopped (or discards the connection) before anyone reuses it.
        """
        if isinstance(error, Exception):
            await self._release(connection)
        else:
            await settle(connection, self._release, self._logger)
