"""Transactions: a top-level one owns a pooled connection, a nested one is a savepoint."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from infrakit.db._errors import TransactionConflictError
from infrakit.db._executor import Action, Executor, Params
from infrakit.db._protocol import Isolation
from infrakit.errors import DatabaseError

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from infrakit.db._database import Database

__all__ = ["Isolation", "Transaction", "TransactionCore", "TransactionScope", "savepoint_name"]

ResultT = TypeVar("ResultT")
CommitHook = Callable[[], object]

_ISOLATION_SQL = {
    "serializable": "SERIALIZABLE",
    "repeatable_read": "REPEATABLE READ",
    "read_committed": "READ COMMITTED",
}


def begin_statement(isolation: str, read_only: bool) -> str:
    """The BEGIN for `isolation`; an unknown level is a `ValueError` caught by the caller."""
    level = _ISOLATION_SQL[isolation]
    return f"BEGIN ISOLATION LEVEL {level} {'READ ONLY' if read_only else 'READ WRITE'}"


def savepoint_name(parent: Any) -> str:
    """A savepoint name unique within `parent`'s connection."""
    parent._savepoints += 1
    return f"infrakit_savepoint_{id(parent):x}_{parent._savepoints}"


class TransactionCore:
    """A transaction's bookkeeping, shared by the async and the blocking form.

    The hooks, the nesting, the active flag and the error a caught failure left behind;
    the I/O (BEGIN, COMMIT, ROLLBACK, savepoints) is each form's own.
    """

    def __init__(self, database: Any, connection: Any, parent: Any = None) -> None:
        self._database = database
        self._connection = connection
        self._parent = parent
        self._hooks: list[CommitHook] = []
        self._active = True
        self._savepoints = 0
        self._last_error: DatabaseError | None = None

    def on_commit(self, hook: CommitHook) -> None:
        """Run `hook()` once, after the outermost transaction commits.

        Never on rollback, never for an attempt `with_transaction` retries; hooks
        registered inside a savepoint that rolls back are dropped. The async form also
        takes coroutine functions.
        """
        self._check_active()
        self._hooks.append(hook)

    def _root(self) -> Any:
        return self if self._parent is None else self._parent._root()

    def _check_active(self) -> None:
        if not self._active:
            raise DatabaseError("The transaction is already finished; open a new one.")

    def _failed_here(self, error: Exception, sql: str, params: Params) -> DatabaseError:
        translated: DatabaseError = self._database._failed(error, sql, params)
        self._root()._last_error = translated
        return translated

    def _aborted_error(self) -> DatabaseError:
        """COMMIT of an aborted transaction silently rolls back: raise instead."""
        cause = self._last_error
        if isinstance(cause, TransactionConflictError):
            return TransactionConflictError(details=cause.details)
        return DatabaseError(
            "The transaction was aborted by an earlier error that was caught; "
            "it was rolled back, nothing was committed."
        )

    def _is_aborted(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self._connection.info.transaction_status == TransactionStatus.INERROR)

    def _hook_failed(self, errors: list[BaseException], error: Exception) -> None:
        self._database._logger.exception("on_commit hook failed")
        errors.append(error)

    def _hooks_done(self, errors: list[BaseException]) -> None:
        self._hooks.clear()
        if errors:
            raise errors[0]


class Transaction(TransactionCore, Executor):
    """The same query methods as `Database`, on one connection, plus `on_commit`.

    Obtained from `db.transaction()` or passed to a `db.with_transaction()` callback;
    `tx.transaction()` opens a savepoint that rolls back alone if its block raises.
    """

    _connection: AsyncConnection[Any]
    _database: Database

    def transaction(self) -> TransactionScope:
        """A savepoint: `async with tx.transaction() as inner:`; never retried alone."""
        self._check_active()
        return TransactionScope(self._database, parent=self)

    async def with_transaction(
        self, callback: Callable[[Transaction], Awaitable[ResultT]]
    ) -> ResultT:
        """Run `callback` in a savepoint, once; a conflict propagates to the outer retry."""
        async with self.transaction() as inner:
            return await callback(inner)

    async def _run(
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
            result = await self._database._execute_on(
                self._connection, sql, params, action, row_type, time_limit
            )
        except Exception as error:
            raise self._failed_here(error, sql, params) from error
        self._database._record(sql, params, started)
        return result

    async def _run_many(
        self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> int:
        self._check_active()
        try:
            return await self._database._run_many_on(self._connection, sql, params_seq)
        except DatabaseError as error:
            self._root()._last_error = error
            raise

    async def _statement(self, sql: str) -> None:
        try:
            await self._connection.execute(sql)
        except Exception as error:
            raise self._database._failed(error, sql, None) from error

    async def _commit(self) -> None:
        if self._is_aborted():
            await self._rollback()
            raise self._aborted_error()
        await self._statement("COMMIT")

    async def _rollback(self) -> None:
        try:
            await self._connection.execute("ROLLBACK")
        except Exception as error:  # the connection is gone; the pool discards it
            self._database._logger.warning("rollback failed", error=type(error).__name__)

    async def _run_hooks(self) -> None:
        errors: list[BaseException] = []
        for hook in self._hooks:
            try:
                outcome = hook()
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as error:
                self._hook_failed(errors, error)
        self._hooks_done(errors)


class TransactionScope:
    """`async with` form of a transaction (top level) or a savepoint (nested)."""

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

    async def __aenter__(self) -> Transaction:
        if self._parent is not None:
            return await self._enter_savepoint(self._parent)
        connection = await self._database._acquire_or_raise()
        try:
            await connection.execute(self._begin)
        except BaseException as error:
            await self._database._release_after(connection, error)
            if isinstance(error, Exception):
                raise self._database._failed(error, self._begin, None) from error
            raise
        self._transaction = Transaction(self._database, connection)
        return self._transaction

    async def _enter_savepoint(self, parent: Transaction) -> Transaction:
        self._savepoint = savepoint_name(parent)
        await parent._statement(f"SAVEPOINT {self._savepoint}")
        self._transaction = Transaction(self._database, parent._connection, parent)
        return self._transaction

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        transaction = self._transaction
        assert transaction is not None
        if self._parent is not None:
            await self._exit_savepoint(transaction, self._parent, failed=exc is not None)
            return
        transaction._active = False
        database, connection = self._database, transaction._connection
        if exc is not None and not isinstance(exc, Exception):
            # Cancelled or interrupted: the rollback and the release must not be cut
            # short by the next cancellation, or the server keeps the locks.
            await database._release_after(connection, exc)
            return
        try:
            if exc is None:
                await transaction._commit()
            else:
                await transaction._rollback()
        except BaseException as error:
            await database._release_after(connection, error)
            raise
        await database._release(connection)
        if exc is None and not self._defer_hooks:
            await transaction._run_hooks()

    async def _exit_savepoint(self, inner: Transaction, parent: Transaction, failed: bool) -> None:
        inner._active = False
        if failed:
            inner._hooks.clear()
            try:
                await parent._statement(f"ROLLBACK TO SAVEPOINT {self._savepoint}")
            except DatabaseError as error:  # keep the block's own exception
                self._database._logger.warning("savepoint rollback failed", code=error.code)
            return
        await parent._statement(f"RELEASE SAVEPOINT {self._savepoint}")
        parent._hooks.extend(inner._hooks)
