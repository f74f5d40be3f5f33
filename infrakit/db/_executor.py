"""The query methods `Database` and `Transaction` share, over one abstract `_run`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:
    from psycopg import AsyncCursor, Cursor

    from infrakit.db._query_builder import QueryBuilder

__all__ = ["Executor", "Params", "QueryResult"]

RowT = TypeVar("RowT")
ResultT = TypeVar("ResultT")
Params = Sequence[Any] | dict[str, Any] | None
Row = dict[str, Any]
Action = Callable[["AsyncCursor[Any]"], Awaitable[ResultT]]


@dataclass(frozen=True, slots=True)
class QueryResult(Generic[RowT]):
    """Rows (dicts, or `row_type` instances), the affected row count and the column names."""

    rows: list[RowT]
    rowcount: int
    columns: tuple[str, ...]


_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK, without importing psycopg here


def _has_rows(cursor: AsyncCursor[Any] | Cursor[Any]) -> bool:
    """Whether the statement returned a result set (rows may still be zero).

    Same answer as `cursor.description is not None` for these non-streaming cursors,
    without building a `Column` per field on every query (a hot-path cost).
    """
    result = cursor.pgresult
    return result is not None and result.status == _TUPLES_OK


async def _fetch_all(cursor: AsyncCursor[Any]) -> list[Any]:
    return await cursor.fetchall() if _has_rows(cursor) else []


async def _fetch_one(cursor: AsyncCursor[Any]) -> Any:
    return await cursor.fetchone() if _has_rows(cursor) else None


async def _fetch_value(cursor: AsyncCursor[Any]) -> Any:
    row = await cursor.fetchone() if _has_rows(cursor) else None
    return None if row is None else row[0]


async def _rowcount(cursor: AsyncCursor[Any]) -> int:
    return cursor.rowcount


async def _result(cursor: AsyncCursor[Any]) -> QueryResult[Any]:
    description = cursor.description
    if description is None:
        return QueryResult([], cursor.rowcount, ())
    rows = await cursor.fetchall()
    return QueryResult(rows, cursor.rowcount, tuple(column.name for column in description))


class Executor(ABC):
    """Runs SQL with `%s` placeholders; values always travel as parameters.

    `params` is a sequence for `%s` placeholders or a mapping for `%(name)s`.
    `timeout` (seconds) bounds this call, including the wait for a connection;
    when it runs out the server is asked to cancel and `DatabaseTimeoutError` is raised.
    """

    @abstractmethod
    async def _run(
        self,
        sql: str,
        params: Params,
        action: Action[ResultT],
        row_type: type[Any] | None,
        time_limit: float | None,
    ) -> ResultT: ...

    @abstractmethod
    async def _run_many(
        self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> int: ...

    @overload
    async def query(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> QueryResult[Row]: ...

    @overload
    async def query(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[RowT],
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> QueryResult[RowT]: ...

    async def query(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> QueryResult[Any]:
        """Run any statement and return its rows, row count and column names.

        Raises:
            DatabaseError: or the subclass naming what failed (see docs/db.md).
        """
        return await self._run(sql, params, _result, row_type, timeout)

    @overload
    async def fetch_all(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Row]: ...

    @overload
    async def fetch_all(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[RowT],
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[RowT]: ...

    async def fetch_all(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Any]:
        """Every row, as dicts or as `row_type` (a pydantic model or dataclass)."""
        return await self._run(sql, params, _fetch_all, row_type, timeout)

    @overload
    async def fetch_one(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Row | None: ...

    @overload
    async def fetch_one(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[RowT],
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> RowT | None: ...

    async def fetch_one(
        self,
        sql: str,
        params: Params = (),
        *,
        row_type: type[Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        """The first row or None; the rest of the result is discarded."""
        return await self._run(sql, params, _fetch_one, row_type, timeout)

    async def fetch_value(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        """The first column of the first row, or None when there is no row."""
        return await self._run(sql, params, _fetch_value, _TupleRow, timeout)

    async def execute(self, sql: str, params: Params = (), *, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Run a statement for its effect; returns the affected row count."""
        return await self._run(sql, params, _rowcount, _TupleRow, timeout)

    async def execute_many(
        self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> int:
        """Run one statement per parameter set (pipelined); returns the total row count."""
        return await self._run_many(sql, params_seq)

    def query_builder(self, table: str) -> QueryBuilder:
        """A fluent, parameter-safe builder for `table` that runs on this executor."""
        from infrakit.db._query_builder import QueryBuilder

        return QueryBuilder(self, table)


class _TupleRow:
    """Marker row type: plain tuples, the cheapest rows for values and row counts."""
