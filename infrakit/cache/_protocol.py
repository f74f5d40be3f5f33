"""The cache contract every backend implements, its statistics and its one error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import (
    Any,
    Concatenate,
    Literal,
    ParamSpec,
    Protocol,
    Self,
    TypeAlias,
    TypeVar,
    overload,
    runtime_checkable,
)

from infrakit.errors import InfrastructureError

__all__ = ["Cache", "CacheError", "CacheStats", "CircuitState", "Memoized", "TtlPolicy"]

P = ParamSpec("P")
Q = ParamSpec("Q")
S = TypeVar("S")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")
D = TypeVar("D")

TtlPolicy: TypeAlias = float | Callable[[Any, float], float | None] | None
"""Seconds, `None` for the cache's default, or `(result, execution_time) -> seconds`."""

CircuitState: TypeAlias = Literal["closed", "open", "half_open"]
"""`closed`: calls go to the server; `open`: they are skipped; `half_open`: one probe goes."""


class CacheError(InfrastructureError):
    """A cache operation failed: backend unreachable, value not serialisable, bad key.

    The instance `code` says which: `CACHE_ERROR` (backend), `CACHE_UNAVAILABLE`,
    `CACHE_SERIALIZATION_ERROR`, `CACHE_KEY_ERROR`, `CACHE_INVALID_TTL`,
    `CACHE_TIMEOUT` (see docs/cache.md).
    """

    code = "CACHE_ERROR"
    default_message = "A cache operation failed."


@dataclass(frozen=True, slots=True)
class CacheStats:
    """The cache's own counters since it was created; reading them costs no I/O.

    `size` is the number of entries held in this process (`None` for `RedisCache`,
    whose entries live on the server: `await cache.count()` asks it).
    """

    hits: int
    misses: int
    size: int | None
    hit_ratio: float
    stampedes_suppressed: int
    errors: int = 0
    short_circuited: int = 0
    circuit: CircuitState = "closed"
    compute_timeouts: int = 0
    invalid_messages: int = 0
    listener_restarts: int = 0
    stale_fills_discarded: int = 0

    @classmethod
    def of(
        cls, hits: int, misses: int, size: int | None, suppressed: int, **more: Any
    ) -> CacheStats:
        """Build the stats with `hit_ratio` computed (hits over lookups, 0.0 before any)."""
        lookups = hits + misses
        return cls(hits, misses, size, hits / lookups if lookups else 0.0, suppressed, **more)


class Memoized(Protocol[P, R_co]):
    """What `memoize` returns: an `async def` wrapper with `invalidate` and `key_for`.

    It is a real coroutine function (`inspect.iscoroutinefunction` is True), so
    frameworks that introspect handlers and dependencies treat it as the original.
    """

    __name__: str
    __qualname__: str

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]: ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, bool]:
        """Drop the cached result of the call with these arguments."""
        ...

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The cache key a call with these arguments uses."""
        ...

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(
        self: Memoized[Concatenate[S, Q], R_co], instance: S, owner: type[Any] | None = None
    ) -> Callable[Q, Coroutine[Any, Any, R_co]]: ...
    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Any:
        """On a class it binds like a method: `instance.method(...)` passes `instance`."""
        ...


@runtime_checkable
class Cache(Protocol):
    """An async key-value cache with TTLs, batch calls, stats and memoisation.

    `type` (a class or any type pydantic understands, e.g. `list[User]`) tells a
    serialising backend what to rebuild; in-memory backends return the object as stored.
    `memoize` works through `get` (with a `default` sentinel) and `get_or_set` alone,
    so any class implementing this Protocol can be memoised on. The infrakit backends
    subclass it to inherit `memoize` and `async with` (which closes the cache on exit).
    """

    @overload
    async def get(self, key: str) -> Any: ...
    @overload
    async def get(self, key: str, *, type: type[T]) -> T | None: ...
    @overload
    async def get(self, key: str, *, type: type[T], default: D) -> T | D: ...
    @overload
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any: ...
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any:
        """Return the value (rebuilt as `type`), or `default` when absent or expired."""
        ...

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool: ...

    async def delete(self, key: str) -> bool: ...

    async def exists(self, key: str) -> bool: ...

    @overload
    async def get_multiple(self, keys: Iterable[str]) -> dict[str, Any]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: type[T]) -> dict[str, T]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]: ...
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """Return the present keys only."""
        ...

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool: ...

    async def delete_multiple(self, keys: Iterable[str]) -> bool: ...

    async def clear(self) -> bool: ...

    async def get_or_set(
        self,
        key: str,
        compute: Callable[[], Awaitable[T]],
        *,
        ttl: TtlPolicy = None,
        type: Any = None,
        cache_none: bool = False,
        compute_timeout: float | None = None,
    ) -> T:
        """The cached value, or `compute()`'s result, stored; one computation per key at once.

        Args:
            key: the cache key.
            compute: called on a miss; concurrent misses on `key` share one call.
            ttl: seconds, `None` for the default, or `(result, execution_time) -> seconds`
                (`0` from it means "do not store this result").
            type: what a serialising backend rebuilds.
            cache_none: store a `None` result too.
            compute_timeout: seconds the computation may take; then it is cancelled and every
                caller waiting for it gets `CacheError(code="CACHE_TIMEOUT")`.
        """
        ...

    def get_stats(self) -> CacheStats:
        """The cache's own counters: synchronous, cheap, no server round trip."""
        ...

    async def health(self) -> bool: ...

    async def close(self) -> None: ...

    @overload
    def memoize(
        self,
        fn: Callable[P, Awaitable[R]],
        *,
        ttl: TtlPolicy = ...,
        key_fn: Callable[..., str] | None = ...,
        cache_none: bool = ...,
        type: Any = ...,
        timeout: float | None = ...,
    ) -> Memoized[P, R]: ...

    @overload
    def memoize(
        self,
        fn: None = None,
        *,
        ttl: TtlPolicy = ...,
        key_fn: Callable[..., str] | None = ...,
        cache_none: bool = ...,
        type: Any = ...,
        timeout: float | None = ...,
    ) -> Callable[[Callable[P, Awaitable[R]]], Memoized[P, R]]: ...

    def memoize(
        self,
        fn: Callable[P, Awaitable[R]] | None = None,
        *,
        ttl: TtlPolicy = None,
        key_fn: Callable[..., str] | None = None,
        cache_none: bool = False,
        type: Any = None,
        timeout: float | None = None,
    ) -> Memoized[P, R] | Callable[[Callable[P, Awaitable[R]]], Memoized[P, R]]:
        """Cache an async function's results in this cache; use bare, called, or as a call.

        Args:
            fn: the async function (omit to get a decorator).
            ttl: seconds; `None` for the cache's default; or a callable
                `(result, execution_time_seconds) -> seconds` deciding per result
                (`0` means "do not cache this one"; a value the TTL rule refuses is
                logged and the default applies).
            key_fn: `(*args, **kwargs) -> str` replacing the default key.
            cache_none: also cache `None` results (off: `None` often means "not yet").
            type: what a serialising backend rebuilds; defaults to the return annotation.
            timeout: seconds one computation may take before it is cancelled and its
                callers get `CacheError(code="CACHE_TIMEOUT")`; None waits for ever.

        Returns:
            The memoised coroutine function (with `invalidate(*args)` and `key_for(*args)`).

        Raises:
            TypeError: `fn` is not an async function.
            CacheError: `ttl` or `timeout` is not a valid number of seconds.
        """
        from infrakit.cache._memoize import memoize  # _memoize imports this module

        return memoize(
            fn,
            cache=self,
            ttl=ttl,
            key_fn=key_fn,
            cache_none=cache_none,
            type=type,
            timeout=timeout,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
