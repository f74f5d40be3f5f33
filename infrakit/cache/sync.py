"""Blocking twins for WSGI apps and scripts: the same names as `infrakit.cache`.

`MemoryCache` is the async form's entries and counters under a lock. `RedisCache`
and `TieredCache` run on redis-py's blocking client and drive the async classes' own
code, whose I/O seams block here (the invalidation listener is a daemon thread). So
keys, serialisation, TTL rules, counters, the circuit breaker and the cross-process
lock of `get_or_set` are written once (`docs/design.md`, "The async naming rule").
`memoize` single-flights concurrent misses across threads.
Only the names in `__all__` are public; see `docs/cache.md`, "From synchronous code".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infrakit.cache._blocking import BlockingCache as Cache
from infrakit.cache._blocking import Memoized, MemoryCache, memoize
from infrakit.cache._factory import build_from_url as _build_from_url
from infrakit.cache._protocol import CacheError, CacheStats

if TYPE_CHECKING:
    from infrakit.cache._blocking_redis import RedisCache, TieredCache

__all__ = [
    "Cache",
    "CacheError",
    "CacheStats",
    "Memoized",
    "MemoryCache",
    "RedisCache",
    "TieredCache",
    "cache_from_url",
    "memoize",
]


def cache_from_url(url: str | None, *, prefix: str | None = None, **options: Any) -> Cache:
    """`infrakit.cache.cache_from_url` giving the blocking classes: the same URL rules.

    Raises:
        ConfigurationError: as for `infrakit.cache.cache_from_url`.
        MissingDependencyError: a Redis URL without the `redis` extra installed.
    """

    def redis(redis_url: str, **redis_options: Any) -> Any:
        from infrakit.cache._blocking_redis import RedisCache

        return RedisCache(redis_url, **redis_options)

    return _build_from_url(url, prefix, options, MemoryCache, redis)  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    """The Redis-backed classes are imported when first asked for (the `redis` extra)."""
    if name not in ("RedisCache", "TieredCache"):
        raise AttributeError(f"module 'infrakit.cache.sync' has no attribute {name!r}")
    from infrakit.cache import _blocking_redis

    return getattr(_blocking_redis, name)
