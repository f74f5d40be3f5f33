"""`Database`: a psycopg 3 connection pool with translated errors and statistics."""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from infrakit._internal.secrets import MASK
from infrakit.db._cancel import remember_cancel_key, settle
from infrakit.db._dsn import checked_dsn
from infrakit.db._errors import (
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    TransactionConflictError,
    is_retryable,
    translate_error,
)
from infrakit.db._executor import Action, Executor, Params, _TupleRow
from infrakit.db._settings import DatabaseSettings
from infrakit.db._stats import ConnectionStats, StatsRecorder
from infrakit.db._transaction import Isolation, Transaction, TransactionScope, begin_statement
from infrakit.errors import (
    ConfigurationError,
    DatabaseError,
    ValidationError,
    import_optional,
    json_pointer,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from infrakit.log import Logger

__all__ = ["Database", "DatabaseHealth"]

ResultT = TypeVar("ResultT")
_HEALTH_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    """A successful ping: its round-trip time and the pool's occupancy."""

    latency_ms: float
    pool_size: int
    pool_idle: int


class Database(Executor):
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

    def __init__(
        self,
        settings: str | DatabaseSettings,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        acquire_timeout: float | None = None,
        statement_timeout: float | None = None,
        slow_query_threshold: float | None = None,
        application_name: str | None = None,
        logger: Logger | None = None,
    ) -> None:
        if isinstance(settings, str):
            settings = DatabaseSettings(url=settings)
        self._display_url = checked_dsn(settings.url.get_secret_value())
        overrides = {
            "pool_min_size": min_size,
            "pool_max_size": max_size,
            "acquire_timeout": acquire_timeout,
            "statement_timeout": statement_timeout,
            "slow_query_threshold": slow_query_threshold,
            "application_name": application_name,
        }
        changes = {key: value for key, value in overrides.items() if value is not None}
        self.settings = _merged(settings, changes)
        self._logger = logger if logger is not None else _default_logger()
        self._stats = StatsRecorder()
        self._slow_seconds = self.settings.slow_query_threshold
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._rows: Any = None

    _display_url = MASK  # until __init__ has checked the URL: repr() never raises

    def __repr__(self) -> str:
        return f"Database({self._display_url!r})"

    async def open(self) -> None:
        """Open the pool and wait for `min_size` connections.

        Raises:
            DatabaseUnavailableError: the server cannot be reached in `acquire_timeout`.
        """
        if self._pool is not None:
            return
        pool_module = import_optional("psycopg_pool", extra="postgres")
        self._rows = import_optional("psycopg.rows", extra="postgres")
        settings = self.settings
        pool = pool_module.AsyncConnectionPool(
            settings.url.get_secret_value(),
            min_size=settings.pool_min_size,
            max_size=max(settings.pool_max_size, settings.pool_min_size),
            timeout=settings.acquire_timeout,
            kwargs=self._connection_options(),
            configure=remember_cancel_key,
            name=settings.application_name,
            open=False,
        )
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
        return TransactionScope(self, isolation=_checked(isolation), read_only=read_only)

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
        from tenacity import (
            AsyncRetrying,
            retry_if_exception,
            stop_after_attempt,
            wait_random_exponential,
        )

        isolation = _checked(isolation)  # type: ignore[assignment]
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(retries, 0) + 1),
            wait=wait_random_exponential(multiplier=0.01, max=1.0),
            retry=retry_if_exception(is_retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
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
        await self.fetch_value("SELECT 1", timeout=_HEALTH_TIMEOUT)
        pool = self._pool.get_stats() if self._pool is not None else {}
        return DatabaseHealth(
            latency_ms=(time.perf_counter() - started) * 1000,
            pool_size=pool.get("pool_size", 0),
            pool_idle=pool.get("pool_available", 0),
        )

    def get_stats(self, reset: bool = False) -> ConnectionStats:
        """Counters, duration percentiles and pool figures; `reset=True` starts them again."""
        pool: dict[str, int] = {}
        if self._pool is not None:
            pool = self._pool.pop_stats() if reset else self._pool.get_stats()
        snapshot = self._stats.snapshot(pool)
        if reset:
            self._stats.reset()
        return snapshot

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
            raise DatabaseUnavailableError("The database is not open; call `await db.open()`.")
        stats = self._stats
        while True:
            stats.waiting += 1
            try:
                connection = await pool.getconn()
            finally:
                stats.waiting -= 1
            if not _has_pending_input(connection):
                return connection
            try:
                await connection.execute("")
            except Exception:
                self._stats.connections_lost += 1
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

    async def _release_after(self, connection: AsyncConnection[Any], error: BaseException) -> None:
        """Return the connection after `error`; after an interruption, settle it first.

        A cancelled task may have left a statement running on the server: `settle`
        makes sure it stopped (or discards the connection) before anyone reuses it.
        """
        if isinstance(error, Exception):
            await self._release(connection)
        else:
            await settle(connection, self._release, self._logger)

    def _record(self, sql: str, params: Params, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._stats.record(elapsed)
        if elapsed >= self._slow_seconds:
            self._stats.slow_queries += 1
            self._logger.warning(
                "slow query",
                sql=sql,
                params=redact_params(params),
                duration_ms=round(elapsed * 1000, 3),
            )

    def _failed(self, error: Exception, sql: str, params: Params) -> DatabaseError:
        """Translate, count and log a failure; the caller raises the result `from error`."""
        if isinstance(error, DatabaseError):
            return error
        if isinstance(error, TimeoutError):
            translated: DatabaseError = DatabaseTimeoutError(
                "The database call did not finish within its timeout."
            )
        elif _is_row_mapping_error(error):
            translated = DatabaseError(
                "Rows do not fit the requested row_type.", details=_row_mismatch(error)
            )
        else:
            translated = translate_error(error)
        sqlstate = translated.details.get("sqlstate")
        self._stats.record_error(sqlstate or translated.code)
        if translated.status_code >= 500:
            log = self._logger.error
        elif isinstance(translated, TransactionConflictError):
            log = self._logger.debug  # expected under contention; retried or re-raised
        else:
            log = self._logger.info
        log(
            "query failed",
            code=translated.code,
            sqlstate=sqlstate,
            sql=sql,
            params=redact_params(params),
            error=type(error).__name__,
        )
        return translated

    def _log_retry(self, retry_state: Any) -> None:
        outcome = retry_state.outcome.exception() if retry_state.outcome else None
        self._logger.debug(
            "transaction conflict, retrying",
            attempt=retry_state.attempt_number,
            sqlstate=getattr(outcome, "details", {}).get("sqlstate"),
            wait_ms=round(retry_state.upcoming_sleep * 1000, 3),
        )

    def _row_factory(self, row_type: type[Any] | None) -> Any:
        if row_type is None:
            return self._rows.dict_row
        if row_type is _TupleRow:
            return self._rows.tuple_row
        return self._rows.class_row(row_type)

    def _connection_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "autocommit": True,
            "application_name": self.settings.application_name,
        }
        if self.settings.statement_timeout is not None:
            milliseconds = int(self.settings.statement_timeout * 1000)
            options["options"] = f"-c statement_timeout={milliseconds}"
        return options


def redact_params(params: Params) -> Any:
    """Parameter types only: values may be secrets or personal data, so they never log."""
    if params is None:
        return None
    if isinstance(params, dict):
        return {key: type(value).__name__ for key, value in params.items()}
    return [type(value).__name__ for value in params]


def _has_pending_input(connection: AsyncConnection[Any]) -> bool:
    """Input, EOF or an error waiting on an idle connection's socket, without blocking.

    `poll` has no FD_SETSIZE limit and costs less than `select`; `select` remains for
    platforms without `poll`.
    """
    try:
        descriptor = connection.pgconn.socket
        if _POLL is None:
            readable, _, _ = select.select([descriptor], [], [], 0)
            return bool(readable)
        poller = _POLL()
        poller.register(descriptor, select.POLLIN)
        return bool(poller.poll(0))
    except (ValueError, OSError):  # a closed descriptor: let the query decide
        return False


_POLL = getattr(select, "poll", None)


def _row_mismatch(error: Any) -> dict[str, Any]:
    """The fields that did not fit and why (pydantic's error types), never the row's values.

    pydantic's message quotes the input (`input_value='ann@example.com'`): row data.
    """
    problems = [
        {"field": ".".join(map(str, item.get("loc", ()))), "type": item.get("type")}
        for item in error.errors(include_url=False)[:20]
    ]
    return {"fields": problems}


def _is_row_mapping_error(error: Exception) -> bool:
    import pydantic

    return isinstance(error, pydantic.ValidationError)


def _merged(settings: DatabaseSettings, changes: dict[str, Any]) -> DatabaseSettings:
    """`settings` with the constructor's overrides; a bad one names its field, not its value."""
    import pydantic

    try:
        return settings.model_validate({**settings.model_dump(), **changes})
    except pydantic.ValidationError as error:
        fields = sorted({".".join(map(str, item["loc"])) for item in error.errors()})
        raise ConfigurationError(
            f"Invalid database option(s): {', '.join(fields)}.", details={"fields": fields}
        ) from error


def _checked(isolation: str) -> str:
    try:
        begin_statement(isolation, False)
    except KeyError:
        raise ValidationError(
            "Unknown isolation level; use serializable, repeatable_read or read_committed.",
            errors=[{"pointer": json_pointer(["isolation"]), "detail": "unknown isolation level"}],
        ) from None
    return isolation


def _default_logger() -> Logger:
    from infrakit.log import get_logger

    return get_logger("infrakit.db")
