"""Blocking twins for WSGI apps and scripts: the same names as `infrakit.cache`.

`MemoryCache` is the async form's entries and counters under a lock; `RedisCache`
runs on redis-py's blocking client and drives the async `RedisCache`'s own code, whose
I/O seams block here, so keys, serialisation, TTL rules, counters, the circuit
breaker and the cross-process lock of `get_or_set` are written once (`docs/design.md`,
"The async naming rule"). `memoize` single-flights concurrent misses across threads.
Only the names in `__all__` are public; see `docs/cache.md`, "From synchronous code".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infrakit.cache._blocking import Memoized, MemoryCache, memoize
from infrakit.cache._protocol import CacheError, CacheStats

if TYPE_CHECKING:
    from infrakit.cache._blocking import RedisCache

__all__ = ["CacheError", "CacheStats", "Memoized", "MemoryCache", "RedisCache", "memoize"]


def __getattr__(name: str) -> Any:
    """`RedisCache` is imported when first asked for (it needs the `redis` extra)."""
    if name != "RedisCache":
        raise AttributeError(f"module 'infrakit.cache.sync' has no attribute {name!r}")
    from infrakit.cache._blocking import RedisCache

    return RedisCache
