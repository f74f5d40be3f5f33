"""The cache contract every backend implements, its statistics and its one error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, TypeAlias, TypeVar, overload, runtime_checkable

from infrakit.errors import InfrastructureError

__all__ = ["Cache", "CacheError", "CacheStats", "TtlPolicy", "check_ttl"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

TtlPolicy: TypeAlias = float | Callable[[Any, float], float | None] | None
"""Seconds, `None` for the cache's default, or `(result, execution_time) -> seconds`."""


class CacheError(InfrastructureError):
    """A cache operation failed: backend unreachable, value not serialisable, bad key.

    The instance `code` says which: `CACHE_ERROR` (backend), `CACHE_SERIALIZATION_ERROR`,
    `CACHE_KEY_ERROR` (no stable default key), `CACHE_INVALID_TTL`.
    """

    code = "CACHE_ERROR"
    default_message = "A cache operation failed."


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since the cache was created; `size` is the number of live entries."""

    hits: int
    misses: int
    size: int
    hit_ratio: float
    stampedes_suppressed: int

    @classmethod
    def of(cls, hits: int, misses: int, size: int, suppressed: int) -> CacheStats:
        lookups = hits + misses
        return cls(hits, misses, size, hits / lookups if lookups else 0.0, suppressed)


@runtime_checkable
class Cache(Protocol):
    """An async key-value cache with TTLs, batch calls, stats and memoisation.

    `type` (a class or any type pydantic understands, e.g. `list[User]`) tells a
    serialising backend what to rebuild; in-memory backends return the object as stored.
    The infrakit backends subclass it to inherit `memoize` and `async with` (which
    closes the cache on exit).
    """

    async def get(self, key: str, *, type: Any = None) -> Any: ...

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool: ...

    async def delete(self, key: str) -> bool: ...

    async def exists(self, key: str) -> bool: ...

    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]: ...

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool: ...

    async def delete_multiple(self, keys: Iterable[str]) -> bool: ...

    async def clear(self) -> bool: ...

    async def get_stats(self) -> CacheStats: ...

    async def health(self) -> bool: ...

    async def close(self) -> None: ...

    @overload
    def memoize(
        self,
        fn: F,
        *,
        ttl: TtlPolicy = ...,
        key_fn: Callable[..., str] | None = ...,
        cache_none: bool = ...,
        type: Any = ...,
    ) -> F: ...

    @overload
    def memoize(
        self,
        fn: None = None,
        *,
        ttl: TtlPolicy = ...,
        key_fn: Callable[..., str] | None = ...,
        cache_none: bool = ...,
        type: Any = ...,
    ) -> Callable[[F], F]: ...

    def memoize(
        self,
        fn: F | None = None,
        *,
        ttl: TtlPolicy = None,
        key_fn: Callable[..., str] | None = None,
        cache_none: bool = False,
        type: Any = None,
    ) -> F | Callable[[F], F]:
        """Cache an async function's results in this cache; use bare, called, or as a call.

        The infrakit backends inherit this; it relies on their private half, so a
        third-party `Cache` implements `memoize` itself.

        Args:
            fn: the async function (omit to get a decorator).
            ttl: seconds; `None` for the cache's default; or a callable
                `(result, execution_time_seconds) -> seconds` deciding per result
                (a value <= 0 means "do not cache this one").
            key_fn: `(*args, **kwargs) -> str` replacing the default key.
            cache_none: also cache `None` results (off: `None` often means "not yet").
            type: what a serialising backend rebuilds; defaults to the return annotation.

        Returns:
            The memoised function (with `invalidate(*args)` and `key_for(*args)`).

        Raises:
            TypeError: `fn` is not an async function.
        """
        from infrakit.cache._memoize import memoize  # _memoize imports this module

        return memoize(fn, cache=self, ttl=ttl, key_fn=key_fn, cache_none=cache_none, type=type)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def check_ttl(ttl: float | None) -> None:
    """Refuse a TTL that is not a positive number of seconds (None means the default).

    Raises:
        CacheError: `CACHE_INVALID_TTL`.
    """
    if ttl is not None and not ttl > 0:
        raise CacheError("a TTL must be a positive number of seconds", code="CACHE_INVALID_TTL")
