"""The blocking form behind `infrakit.db.sync` (see that module).

It does not copy the async classes: it drives their own coroutines over psycopg's
synchronous `ConnectionPool` and `Connection`. The pool, connection and cursor are
seen through small adapters whose `async` methods make the blocking call and return,
so the async code never suspends and each call runs to its end in one `send(None)`
(`drive`). Statement building, error translation and counting, slow-query logging,
retries, savepoints, `on_commit`, statistics and migrations are therefore the async
code, line for line; only these adapters, the timeout (a timer that asks the server
to cancel, in place of `asyncio.timeout`) and the retry sleep differ.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from infrakit._internal.blocking import drive as run_driven
from infrakit.db import _database, _transaction
from infrakit.db._core import HEALTH_TIMEOUT
from infrakit.db._database import DatabaseHealth
from infrakit.db._executor import Params, QueryResult, Row
from infrakit.db._protocol import Isolation
from infrakit.db._query_builder import BuilderCore
from infrakit.db._settings import DatabaseSettings
from infrakit.db._stats import ConnectionStats, LockedStatsRecorder
from infrakit.errors import DatabaseError, import_optional

if TYPE_CHECKING:
    from psycopg import Connection, Cursor

    from infrakit.log import Logger

__all__ = ["Database", "QueryBuilder", "Transaction", "TransactionScope", "drive"]

RowT = TypeVar("RowT")
ResultT = TypeVar("ResultT")
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "infrakit_db_deadline", default=None
)


def drive(coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
    """Run a coroutine whose awaits never suspend (their I/O blocks) to its result."""
    return run_driven(coroutine, _database_needs_loop)


def _database_needs_loop() -> Exception:
    return DatabaseError("This database call needs an event loop; use infrakit.db instead.")


# -- psycopg's blocking objects, awaitable -------------------------------------------


class _Cursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def pgresult(self) -> Any:
        return self._cursor.pgresult

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    async def execute(self, sql: Any, params: Params = None) -> Self:
        deadline = _deadline.get()
        if deadline is None:  # the common case: no timer, no context manager
            self._cursor.execute(sql, params)
            return self
        with _cancel_at(self._cursor.connection, deadline):
            self._cursor.execute(sql, params)
        return self

    async def executemany(self, sql: str, params_seq: Iterable[Any]) -> None:
        self._cursor.executemany(sql, params_seq)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()


class _Connection:
    __slots__ = ("blocking",)

    def __init__(self, connection: Connection[Any]) -> None:
        self.blocking = connection

    @property
    def info(self) -> Any:
        return self.blocking.info

    @property
    def pgconn(self) -> Any:
        return self.blocking.pgconn

    def cursor(self, row_factory: Any = None) -> _Cursor:
        if row_factory is None:
            return _Cursor(self.blocking.cursor())
        return _Cursor(self.blocking.cursor(row_factory=row_factory))

    async def execute(self, sql: Any, params: Params = None) -> _Cursor:
        return await _Cursor(self.blocking.cursor()).execute(sql, params)

    async def close(self) -> None:
        self.blocking.close()


class _Pool:
    __slots__ = ("blocking",)

    def __init__(self, pool: Any) -> None:
        self.blocking = pool

    async def open(self, wait: bool, timeout: float) -> None:  # noqa: ASYNC109
        self.blocking.open(wait=wait, timeout=timeout)

    async def close(self) -> None:
        self.blocking.close()

    async def getconn(self) -> _Connection:
        deadline = _deadline.get()
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        return _Connection(self.blocking.getconn(timeout=timeout))

    async def putconn(self, connection: _Connection) -> None:
        self.blocking.putconn(connection.blocking)

    def get_stats(self) -> dict[str, int]:
        return self.blocking.get_stats()  # type: ignore[no-any-return]

    def pop_stats(self) -> dict[str, int]:
        return self.blocking.pop_stats()  # type: ignore[no-any-return]


@contextmanager
def _bounded(seconds: float) -> Iterator[None]:
    """The blocking `asyncio.timeout`: a deadline the pool and each statement honour."""
    deadline = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(deadline if current is None else min(current, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def _cancel_at(connection: Connection[Any], deadline: float) -> Iterator[None]:
    """Ask the server to cancel the statement if it still runs at `deadline`.

    The cancelled statement fails with 57014, translated to `DatabaseTimeoutError`;
    the connection stays usable. The lock makes leaving wait for a cancel request
    already under way, so a late one can never reach the connection's next user.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    lock, done = threading.Lock(), [False]

    def cancel() -> None:
        with lock:
            if not done[0]:
                connection.cancel_safe(timeout=HEALTH_TIMEOUT)

    timer = threading.Timer(remaining, cancel)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            done[0] = True


class _Engine(_database.Database):
    """The async `Database` over the adapters above: what the blocking classes drive."""

    _stats_type = LockedStatsRecorder

    def _new_pool(self) -> Any:
        pool_module = import_optional("psycopg_pool", extra="postgres")
        arguments = {**self._pool_arguments(), "configure": None}
        return _Pool(pool_module.ConnectionPool(**arguments))

    def _retry_sleep(self) -> dict[str, Any]:
        async def sleep(seconds: float) -> None:
            time.sleep(seconds)  # noqa: ASYNC251 - driven, never on an event loop

        return {"sleep": sleep}

    async def _run_within(
        self,
        time_limit: float,
        sql: str,
        params: Params,
        action: Any,
        row_type: type[Any] | None,
    ) -> Any:
        try:
            with _bounded(time_limit):
                return await self._run(sql, params, action, row_type, None)
        except TimeoutError as error:
            raise self._failed(error, sql, params) from error

    async def _execute_on(
        self,
        connection: Any,
        sql: str,
        params: Params,
        action: Any,
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> Any:
        if time_limit is None:
            return await super()._execute_on(connection, sql, params, action, row_type, None)
        with _bounded(time_limit):
            return await super()._execute_on(connection, sql, params, action, row_type, None)

    async def _discard(self, connection: Any) -> None:
        await connection.close()  # a statement still running ends with its session
        await self._release(connection)

    async def _release_after(self, connection: Any, error: BaseException) -> None:
        """After an interruption (psycopg cancels the statement), reuse only an idle one."""
        if not isinstance(error, Exception) and connection.pgconn.transaction_status != _IDLE:
            await connection.close()
        await self._release(connection)


# -- the public blocking classes -----------------------------------------------------


class _Executor:
    """The blocking query methods of `Database` and `Transaction` (see `infrakit.db`)."""

    _target: Any  # the async Database or Transaction driven

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
        return drive(self._target.query(sql, params, row_type=row_type, timeout=timeout))

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
        return drive(self._target.fetch_all(sql, params, row_type=row_type, timeout=timeout))

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
        return drive(self._target.fetch_one(sql, params, row_type=row_type, timeout=timeout))

    def fetch_value(self, sql: str, params: Params = (), *, timeout: float | None = None) -> Any:
        """The first column of the first row, or None."""
        return drive(self._target.fetch_value(sql, params, timeout=timeout))

    def execute(self, sql: str, params: Params = (), *, timeout: float | None = None) -> int:
        """Run a statement for its effect; the affected row count."""
        return drive(self._target.execute(sql, params, timeout=timeout))  # type: ignore[no-any-return]

    def execute_many(
        self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> int:
        """One statement per parameter set (pipelined); the total row count."""
        return drive(self._target.execute_many(sql, params_seq))  # type: ignore[no-any-return]

    def query_builder(self, table: str) -> QueryBuilder:
        """The parameter-safe builder for `table`, its execution methods blocking."""
        return QueryBuilder(self, table)


class QueryBuilder(BuilderCore):
    """`infrakit.db.QueryBuilder` whose execution methods block (the same building)."""

    _executor: _Executor

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


class Transaction(_Executor):
    """The blocking `infrakit.db.Transaction`: the query methods on one connection."""

    _target: _transaction.Transaction

    def __init__(self, transaction: _transaction.Transaction) -> None:
        self._target = transaction

    def on_commit(self, hook: Callable[[], object]) -> None:
        """Run `hook()` once, after the outermost transaction commits (never on rollback)."""
        self._target.on_commit(hook)

    def transaction(self) -> TransactionScope:
        """A savepoint: `with tx.transaction() as inner:`; never retried alone."""
        return TransactionScope(self._target.transaction())

    def with_transaction(self, callback: Callable[[Transaction], ResultT]) -> ResultT:
        """Run `callback` in a savepoint, once; a conflict propagates to the outer retry."""
        return drive(self._target.with_transaction(_awaitable(callback)))


class TransactionScope:
    """`with` form of a transaction (top level) or a savepoint (nested)."""

    def __init__(self, scope: _transaction.TransactionScope) -> None:
        self._scope = scope

    def __enter__(self) -> Transaction:
        return Transaction(drive(self._scope.__aenter__()))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        drive(self._scope.__aexit__(exc_type, exc, traceback))


def _awaitable(
    callback: Callable[[Transaction], ResultT],
) -> Callable[[_transaction.Transaction], Coroutine[Any, Any, ResultT]]:
    """The user's blocking callback as the coroutine function the async code awaits."""

    async def call(transaction: _transaction.Transaction) -> ResultT:
        return callback(Transaction(transaction))

    return call


class Database(_Executor):
    """`infrakit.db.Database` for threads: psycopg's blocking `ConnectionPool`.

    The same arguments, methods, statistics, error translation and masking; each
    method blocks its thread instead of being awaited. The pool is thread-safe: share
    one `Database` between a WSGI server's threads. Use `with Database(url) as db:`
    or `open()` / `close()`.
    """

    _target: _Engine

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
        self._target = _Engine(
            settings,
            min_size=min_size,
            max_size=max_size,
            acquire_timeout=acquire_timeout,
            statement_timeout=statement_timeout,
            slow_query_threshold=slow_query_threshold,
            application_name=application_name,
            logger=logger,
        )

    def __repr__(self) -> str:
        return repr(self._target)

    @property
    def settings(self) -> DatabaseSettings:
        """The merged settings (the URL a `SecretStr`)."""
        return self._target.settings

    def open(self) -> None:
        """Open the pool and wait for `min_size` connections.

        Raises:
            DatabaseUnavailableError: the server cannot be reached in `acquire_timeout`.
        """
        drive(self._target.open())

    def close(self) -> None:
        """Close every connection; waits for connections in use to be returned."""
        drive(self._target.close())

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
        return TransactionScope(self._target.transaction(isolation, read_only=read_only))

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
        return drive(
            self._target.with_transaction(
                _awaitable(callback), isolation=isolation, read_only=read_only, retries=retries
            )
        )

    def health(self) -> DatabaseHealth:
        """A bounded `SELECT 1`.

        Raises:
            DatabaseUnavailableError: not open, or the server does not answer.
            DatabaseTimeoutError: no answer within 5 s.
        """
        return drive(self._target.health())

    def get_stats(self, reset: bool = False) -> ConnectionStats:
        """Counters, duration percentiles and pool figures; `reset=True` starts them again."""
        return self._target.get_stats(reset)

    def migrate(
        self,
        directory: str | Path,
        *,
        table: str = "infrakit_migrations",
        schema: str | None = None,
    ) -> list[str]:
        """Apply the pending `NNNN_name.sql` files of `directory` (see `docs/db.md`).

        Raises:
            MigrationError: a bad file name, a changed applied file, or a failing file.
        """
        return drive(self._target.migrate(directory, table=table, schema=schema))
