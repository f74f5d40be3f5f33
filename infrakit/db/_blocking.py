"""The blocking I/O shell behind `infrakit.db.sync` (see that module).

Everything these classes decide comes from the shared core (`_core.DatabaseCore`,
`_transaction.TransactionCore`, `_query_builder.BuilderCore`); what is written here is
only the I/O: psycopg's synchronous `Connection` and `psycopg_pool.ConnectionPool`.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from infrakit.db._core import HEALTH_TIMEOUT, DatabaseCore, checked_isolation, has_pending_input
from infrakit.db._database import DatabaseHealth
from infrakit.db._errors import DatabaseUnavailableError
from infrakit.db._executor import Params, QueryResult, Row, _has_rows, _TupleRow
from infrakit.db._protocol import Isolation
from infrakit.db._query_builder import BuilderCore
from infrakit.db._transaction import TransactionCore, begin_statement, savepoint_name
from infrakit.errors import DatabaseError, import_optional

if TYPE_CHECKING:
    from psycopg import Connection, Cursor

__all__ = ["Database", "QueryBuilder", "Transaction", "TransactionScope"]

RowT = TypeVar("RowT")
ResultT = TypeVar("ResultT")
Action = Callable[["Cursor[Any]"], ResultT]
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


def _fetch_all(cursor: Cursor[Any]) -> list[Any]:
    return cursor.fetchall() if _has_rows(cursor) else []


def _fetch_one(cursor: Cursor[Any]) -> Any:
    return cursor.fetchone() if _has_rows(cursor) else None


def _fetch_value(cursor: Cursor[Any]) -> Any:
    row = cursor.fetchone() if _has_rows(cursor) else None
    return None if row is None else row[0]


def _rowcount(cursor: Cursor[Any]) -> int:
    return cursor.rowcount


def _result(cursor: Cursor[Any]) -> QueryResult[Any]:
    description = cursor.description
    rows = cursor.fetchall() if description is not None else []
    columns = tuple(column.name for column in description or ())
    return QueryResult(rows, cursor.rowcount, columns)


class Executor:
    """The blocking query methods of `Database` and `Transaction`, over one `_run`.

    The same parameters and results as the async methods (see `infrakit.db`);
    `timeout` bounds the call, the wait for a connection included: when it runs out
    the server is asked to cancel the statement and `DatabaseTimeoutError` is raised.
    """

    def _run(
        self,
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> ResultT:
        raise NotImplementedError

    def _run_many(self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]) -> int:
        raise NotImplementedError

    @overload
    def query(
        self, sql: str, params: Params = (), *, row_type: None = None, timeout: float | None = None
    ) -> QueryResult[Row]: ...

    @overload
    def query(
        self, sql: str, params: Params = (), *, row_type: type[RowT], timeout: float | None = None
    ) -> QueryResult[RowT]: ...

    def query(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[Any] | None = None,
        timeout: float | None = None,
    ) -> QueryResult[Any]:
        """Run any statement; its rows, row count and column names."""
        return self._run(sql, params, _result, row_type, timeout)

    @overload
    def fetch_all(
        self, sql: str, params: Params = (), *, row_type: None = None, timeout: float | None = None
    ) -> list[Row]: ...

    @overload
    def fetch_all(
        self, sql: str, params: Params = (), *, row_type: type[RowT], timeout: float | None = None
    ) -> list[RowT]: ...

    def fetch_all(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[Any] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """Every row, as dicts or as `row_type`."""
        return self._run(sql, params, _fetch_all, row_type, timeout)

    @overload
    def fetch_one(
        self, sql: str, params: Params = (), *, row_type: None = None, timeout: float | None = None
    ) -> Row | None: ...

    @overload
    def fetch_one(
        self, sql: str, params: Params = (), *, row_type: type[RowT], timeout: float | None = None
    ) -> RowT | None: ...

    def fetch_one(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The first row or None."""
        return self._run(sql, params, _fetch_one, row_type, timeout)

    def fetch_value(self, sql: str, params: Params = (), *, timeout: float | None = None) -> Any:
        """The first column of the first row, or None."""
        return self._run(sql, params, _fetch_value, _TupleRow, timeout)

    def execute(self, sql: str, params: Params = (), *, timeout: float | None = None) -> int:
        """Run a statement for its effect; the affected row count."""
        return self._run(sql, params, _rowcount, _TupleRow, timeout)

    def execute_many(
        self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> int:
        """One statement per parameter set (pipelined); the total row count."""
        return self._run_many(sql, params_seq)

    def query_builder(self, table: str) -> QueryBuilder:
        """The parameter-safe builder for `table`, its execution methods blocking."""
        return QueryBuilder(self, table)


class QueryBuilder(BuilderCore):
    """`infrakit.db.QueryBuilder` whose execution methods block (the same building)."""

    _executor: Executor

    @overload
    def get_many(self, *, row_type: None = None) -> list[dict[str, Any]]: ...

    @overload
    def get_many(self, *, row_type: type[RowT]) -> list[RowT]: ...

    def get_many(self, *, row_type: type[Any] | None = None) -> list[Any]:
        """Every matching row."""
        return self._executor.fetch_all(*self.to_sql(), row_type=row_type)

    @overload
    def get_one(self, *, row_type: None = None) -> dict[str, Any] | None: ...

    @overload
    def get_one(self, *, row_type: type[RowT]) -> RowT | None: ...

    def get_one(self, *, row_type: type[Any] | None = None) -> Any:
        """The first row or None."""
        return self._executor.fetch_one(*self._one_sql(), row_type=row_type)

    def count(self) -> int:
        """Rows matching the conditions and joins (a select builder only)."""
        return int(self._executor.fetch_value(*self._count_sql()))

    def exists(self) -> bool:
        """Whether any row matches (a select builder only)."""
        return bool(self._executor.fetch_value(*self._exists_sql()))

    def execute(self) -> int:
        """Run an insert / update / delete; the affected row count."""
        return self._executor.execute(*self.to_sql())


class Database(DatabaseCore, Executor):
    """`infrakit.db.Database` for threads: psycopg's blocking `ConnectionPool`.

    The same arguments, methods, statistics, error translation and masking; each
    method blocks its thread instead of being awaited. The pool is thread-safe: share
    one `Database` between a WSGI server's threads. Use `with Database(url) as db:`
    or `open()` / `close()`.
    """

    def open(self) -> None:
        """Open the pool and wait for `min_size` connections.

        Raises:
            DatabaseUnavailableError: the server cannot be reached in `acquire_timeout`.
        """
        if self._pool is not None:
            return
        pool_module = import_optional("psycopg_pool", extra="postgres")
        self._rows = import_optional("psycopg.rows", extra="postgres")
        arguments = {**self._pool_arguments(), "configure": None}
        pool = pool_module.ConnectionPool(**arguments)
        try:
            pool.open(wait=True, timeout=self.settings.acquire_timeout)
        except BaseException as error:  # interrupted too: never leave the pool's workers running
            pool.close()
            if not isinstance(error, Exception):
                raise
            raise DatabaseUnavailableError(
                f"Cannot connect to {self._display_url}.",
                details={"reason": type(error).__name__},
            ) from error
        self._pool = pool
        self._logger.info("database pool open", url=self._display_url)

    def close(self) -> None:
        """Close every connection; waits for connections in use to be returned."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def transaction(
        self, isolation: Isolation = "read_committed", *, read_only: bool = False
    ) -> TransactionScope:
        """`with db.transaction("serializable") as tx:` commits on success.

        Raises:
            ValidationError: an unknown isolation level.
        """
        return TransactionScope(self, isolation=checked_isolation(isolation), read_only=read_only)

    def with_transaction(
        self,
        callback: Callable[[Transaction], ResultT],
        *,
        isolation: Isolation = "read_committed",
        read_only: bool = False,
        retries: int = 3,
    ) -> ResultT:
        """Run `callback(tx)` in a transaction, re-running all of it on 40001 / 40P01.

        The retry policy and the `on_commit` rules of the async form.

        Raises:
            TransactionConflictError: still conflicting after `retries` re-runs.
        """
        from tenacity import Retrying

        checked = checked_isolation(isolation)
        for attempt in Retrying(**self._retry_arguments(retries)):
            with attempt:
                scope = TransactionScope(
                    self, isolation=checked, read_only=read_only, defer_hooks=True
                )
                with scope as transaction:
                    result = callback(transaction)
        transaction._run_hooks()
        return result

    def health(self) -> DatabaseHealth:
        """A bounded `SELECT 1`.

        Raises:
            DatabaseUnavailableError: not open, or the server does not answer.
            DatabaseTimeoutError: no answer within 5 s.
        """
        started = time.perf_counter()
        self.fetch_value("SELECT 1", timeout=HEALTH_TIMEOUT)
        pool = self._pool_figures()
        return DatabaseHealth(
            latency_ms=(time.perf_counter() - started) * 1000,
            pool_size=pool.get("pool_size", 0),
            pool_idle=pool.get("pool_available", 0),
        )

    # -- the hot path -----------------------------------------------------------------

    def _run(
        self,
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> ResultT:
        started = time.perf_counter()
        try:
            connection = self._acquire(time_limit)
            try:
                remaining = _remaining(started, time_limit)
                result = self._execute_on(connection, sql, params, action, row_type, remaining)
            except BaseException as error:
                self._release_after(connection, error)
                raise
            self._release(connection)
        except Exception as error:
            raise self._failed(error, sql, params) from error
        self._record(sql, params, started)
        return result

    def _execute_on(
        self,
        connection: Connection[Any],
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> ResultT:
        cursor = connection.cursor(row_factory=self._row_factory(row_type))
        if time_limit is None:
            cursor.execute(sql, params)
            return action(cursor)
        with _Deadline(connection, time_limit):
            cursor.execute(sql, params)
            return action(cursor)

    def _run_many(self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]) -> int:
        connection = self._acquire_or_raise()
        try:
            count = self._run_many_on(connection, sql, params_seq)
        except BaseException as error:
            self._release_after(connection, error)
            raise
        self._release(connection)
        return count

    def _run_many_on(
        self,
        connection: Connection[Any],
        sql: str,
        params_seq: Iterable[Sequence[Any] | Mapping[str, Any]],
    ) -> int:
        started = time.perf_counter()
        try:
            with connection.cursor() as cursor:
                cursor.executemany(sql, params_seq)
                count = cursor.rowcount
        except Exception as error:
            raise self._failed(error, sql, None) from error
        self._record(sql, None, started)
        return count

    def _acquire(self, time_limit: float | None = None) -> Connection[Any]:
        """A pooled connection, skipping ones the server closed while they sat idle."""
        pool = self._pool
        if pool is None:
            raise DatabaseUnavailableError("The database is not open; call `db.open()`.")
        while True:
            self._stats.waiting += 1
            try:
                connection: Connection[Any] = pool.getconn(timeout=time_limit)
            finally:
                self._stats.waiting -= 1
            if not has_pending_input(connection):
                return connection
            try:
                connection.execute("")
            except Exception:
                self._stats.connections_lost += 1
                pool.putconn(connection)
                continue
            return connection

    def _acquire_or_raise(self) -> Connection[Any]:
        try:
            return self._acquire()
        except Exception as error:
            raise self._failed(error, "<acquire>", None) from error

    def _release(self, connection: Connection[Any]) -> None:
        if self._pool is not None:
            self._pool.putconn(connection)
        else:
            connection.close()

    def _release_after(self, connection: Connection[Any], error: BaseException) -> None:
        """Return the connection after `error`; after an interruption, only if it is idle.

        psycopg answers a KeyboardInterrupt during a statement by cancelling it; a
        connection still busy or in a transaction then is closed, never reused.
        """
        if not isinstance(error, Exception) and connection.pgconn.transaction_status != _IDLE:
            connection.close()
        self._release(connection)


class _Deadline:
    """Ask the server to cancel the statement if it is still running after `seconds`.

    The blocking form's `asyncio.timeout`: the cancelled statement fails with
    57014, which translates to `DatabaseTimeoutError`, and the connection stays usable.
    The lock makes leaving wait for a cancel request already under way, so a late
    request can never reach the connection's next user.
    """

    __slots__ = ("_connection", "_done", "_lock", "_timer")

    def __init__(self, connection: Connection[Any], seconds: float) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._cancel)
        self._timer.daemon = True

    def __enter__(self) -> None:
        self._timer.start()

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True

    def _cancel(self) -> None:
        with self._lock:
            if not self._done:
                self._connection.cancel_safe(timeout=HEALTH_TIMEOUT)


def _remaining(started: float, time_limit: float | None) -> float | None:
    if time_limit is None:
        return None
    left = time_limit - (time.perf_counter() - started)
    if left <= 0:
        raise TimeoutError
    return left


class Transaction(TransactionCore, Executor):
    """The blocking `infrakit.db.Transaction`: the query methods on one connection."""

    _connection: Connection[Any]
    _database: Database

    def transaction(self) -> TransactionScope:
        """A savepoint: `with tx.transaction() as inner:`; never retried alone."""
        self._check_active()
        return TransactionScope(self._database, parent=self)

    def with_transaction(self, callback: Callable[[Transaction], ResultT]) -> ResultT:
        """Run `callback` in a savepoint, once; a conflict propagates to the outer retry."""
        with self.transaction() as inner:
            return callback(inner)

    def _run(
        self,
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> ResultT:
        self._check_active()
        started = time.perf_counter()
        try:
            result = self._database._execute_on(
                self._connection, sql, params, action, row_type, time_limit
            )
        except Exception as error:
            raise self._failed_here(error, sql, params) from error
        self._database._record(sql, params, started)
        return result

    def _run_many(self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]) -> int:
        self._check_active()
        try:
            return self._database._run_many_on(self._connection, sql, params_seq)
        except DatabaseError as error:
            self._root()._last_error = error
            raise

    def _statement(self, sql: str) -> None:
        try:
            self._connection.execute(sql)
        except Exception as error:
            raise self._database._failed(error, sql, None) from error

    def _commit(self) -> None:
        if self._is_aborted():
            self._rollback()
            raise self._aborted_error()
        self._statement("COMMIT")

    def _rollback(self) -> None:
        try:
            self._connection.execute("ROLLBACK")
        except Exception as error:  # the connection is gone; the pool discards it
            self._database._logger.warning("rollback failed", error=type(error).__name__)

    def _run_hooks(self) -> None:
        errors: list[BaseException] = []
        for hook in self._hooks:
            try:
                _call_blocking(hook)
            except Exception as error:
                self._hook_failed(errors, error)
        self._hooks_done(errors)


def _call_blocking(hook: Callable[[], object]) -> None:
    outcome = hook()
    if inspect.isawaitable(outcome):
        getattr(outcome, "close", lambda: None)()  # never "coroutine was never awaited"
        raise TypeError("on_commit of infrakit.db.sync takes plain functions, not coroutines")


class TransactionScope:
    """`with` form of a transaction (top level) or a savepoint (nested)."""

    def __init__(
        self,
        database: Database,
        *,
        isolation: str = "read_committed",
        read_only: bool = False,
        parent: Transaction | None = None,
        defer_hooks: bool = False,
    ) -> None:
        self._database = database
        self._begin = "" if parent is not None else begin_statement(isolation, read_only)
        self._parent = parent
        self._defer_hooks = defer_hooks
        self._transaction: Transaction | None = None
        self._savepoint = ""

    def __enter__(self) -> Transaction:
        parent = self._parent
        if parent is not None:
            self._savepoint = savepoint_name(parent)
            parent._statement(f"SAVEPOINT {self._savepoint}")
            self._transaction = Transaction(self._database, parent._connection, parent)
            return self._transaction
        database = self._database
        connection = database._acquire_or_raise()
        try:
            connection.execute(self._begin)
        except BaseException as error:
            database._release_after(connection, error)
            if isinstance(error, Exception):
                raise database._failed(error, self._begin, None) from error
            raise
        self._transaction = Transaction(database, connection)
        return self._transaction

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        transaction = self._transaction
        assert transaction is not None
        transaction._active = False
        if self._parent is not None:
            self._exit_savepoint(transaction, self._parent, failed=exc is not None)
            return
        database, connection = self._database, transaction._connection
        try:
            if exc is None:
                transaction._commit()
            else:
                transaction._rollback()
        except BaseException as error:
            database._release_after(connection, error)
            raise
        if exc is None:
            database._release(connection)
        else:
            database._release_after(connection, exc)
        if exc is None and not self._defer_hooks:
            transaction._run_hooks()

    def _exit_savepoint(self, inner: Transaction, parent: Transaction, failed: bool) -> None:
        if failed:
            inner._hooks.clear()
            try:
                parent._statement(f"ROLLBACK TO SAVEPOINT {self._savepoint}")
            except DatabaseError as error:  # keep the block's own exception
                self._database._logger.warning("savepoint rollback failed", code=error.code)
            return
        parent._statement(f"RELEASE SAVEPOINT {self._savepoint}")
        parent._hooks.extend(inner._hooks)
