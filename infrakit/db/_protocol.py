"""What other modules depend on: the query surface, not the pool behind it.

A PostgreSQL job store or pub/sub backplane takes a `DatabaseProtocol`, so tests and
applications can hand it a `Database`, or anything else with the same methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

__all__ = ["DatabaseProtocol", "Isolation", "Queryable"]

Isolation = Literal["serializable", "repeatable_read", "read_committed"]

ResultT = TypeVar("ResultT")
Params = Sequence[Any] | dict[str, Any] | None


@runtime_checkable
class Queryable(Protocol):
    """Query methods shared by `Database` and `Transaction` (rows are dicts)."""

    async def query(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any: ...

    async def fetch_all(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Any]: ...

    async def fetch_one(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any: ...

    async def fetch_value(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any: ...

    async def execute(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> int: ...

    async def execute_many(
        self, sql: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> int: ...


@runtime_checkable
class DatabaseProtocol(Queryable, Protocol):
    """A database service: queries, retrying transactions, health and statistics."""

    def transaction(
        self, isolation: Isolation = "read_committed", *, read_only: bool = False
    ) -> AbstractAsyncContextManager[Any]: ...

    async def with_transaction(
        self,
        callback: Callable[[Any], Awaitable[ResultT]],
        *,
        isolation: Isolation = "read_committed",
        read_only: bool = False,
        retries: int = 3,
    ) -> ResultT: ...

    async def health(self) -> Any: ...

    def get_stats(self, reset: bool = False) -> Any: ...
