"""The cache contract every backend implements, its statistics and its one error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar, overload, runtime_checkable

from infrakit.errors import InfrastructureError

__all__ = ["Cache", "CacheError", "CacheStats", "TtlPolicy"]

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
