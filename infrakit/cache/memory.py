"""The in-process backend: a cachetools TLRU cache with a TTL per entry."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

from infrakit.cache._keys import MAX_KEY_LENGTH, normalize_key
from infrakit.cache._memoize import MISSING
from infrakit.cache._protocol import Cache, CacheError, CacheStats, check_ttl
from infrakit.cache._single_flight import SingleFlight

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["MemoryCache"]


class MemoryCache(Cache):
    """An LRU-bounded in-process cache whose entries each carry their own TTL.

    Values are stored as they are (no copy, no serialisation): mutating a value you
    got back mutates the cached one. Expired entries are dropped lazily by cachetools'
    expiry heap on writes and reads, so there is no timer per key. Not thread-safe:
    use it from one event loop.

    Args:
        max_size: entries kept before the least recently used one is evicted.
        default_ttl: seconds an entry lives when `set` gets no `ttl`; None = forever.
        logger: accepted for symmetry with the other backends (nothing here fails).
    """

    def __init__(
        self,
        max_size: int = 10_000,
        default_ttl: float | None = 300.0,
        *,
        logger: Logger | None = None,
    ) -> None:
        if max_size < 1:
            raise CacheError("max_size must be at least 1", code="CACHE_INVALID_SIZE")
        check_ttl(default_ttl)
        self.max_size = max_size
        self.default_ttl = default_ttl
        self._logger = logger
        self._next_ttl: float | None = default_ttl
        self._data: TLRUCache[str, Any] = TLRUCache(max_size, self._time_to_use, time.monotonic)
        self._hits = 0
        self._misses = 0
        self._flight = SingleFlight()

    def __repr__(self) -> str:
        return f"MemoryCache(max_size={self.max_size}, default_ttl={self.default_ttl})"

    def _time_to_use(self, key: str, value: Any, now: float) -> float:
        ttl = self._next_ttl
        return math.inf if ttl is None else now + ttl

    async def get(self, key: str, *, type: Any = None) -> Any:
        """Return the value, or None when it is absent or expired."""
        if len(key) > MAX_KEY_LENGTH:
            key = normalize_key(key)
        try:
            value = self._data[key]  # one lookup on a hit; Cache.get() would do two
        except KeyError:
            self._misses += 1
            return None
        self._hits += 1
        return value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store `value` for `ttl` seconds (the default TTL when None)."""
        self._put(normalize_key(key), value, ttl)
        return True

    async def delete(self, key: str) -> bool:
        """Remove the key; True when it was there."""
        return self._data.pop(normalize_key(key), MISSING) is not MISSING

    async def exists(self, key: str) -> bool:
        return normalize_key(key) in self._data

    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """Return the present keys only."""
        found: dict[str, Any] = {}
        for key in keys:
            value = self._data.get(normalize_key(key), MISSING)
            if value is MISSING:
                self._misses += 1
            else:
                self._hits += 1
                found[key] = value
        return found

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        for key, value in entries.items():
            self._put(normalize_key(key), value, ttl)
        return True

    async def delete_multiple(self, keys: Iterable[str]) -> bool:
        """Remove the keys; True when at least one was there."""
        removed = [self._data.pop(normalize_key(key), MISSING) is not MISSING for key in keys]
        return any(removed)

    async def clear(self) -> bool:
        self._data.clear()
        return True

    async def get_stats(self) -> CacheStats:
        self._data.expire()
        return CacheStats.of(self._hits, self._misses, len(self._data), self._flight.suppressed)

    async def health(self) -> bool:
        """Always healthy: there is nothing to reach."""
        return True

    async def close(self) -> None:
        """Nothing to release; present so every backend closes the same way."""

    def _put(self, key: str, value: Any, ttl: float | None) -> None:
        check_ttl(ttl)
        # The TTL travels to _time_to_use through an attribute: cachetools asks for it
        # synchronously inside __setitem__, so no other coroutine can interleave.
        self._next_ttl = self.default_ttl if ttl is None else ttl
        try:
            self._data[key] = value
        finally:
            self._next_ttl = self.default_ttl

    def _remaining_ttl_cap(self, ttl: float | None) -> float | None:
        """The TTL an L1 copy may live: never longer than this cache's default."""
        if ttl is None:
            return self.default_ttl
        return ttl if self.default_ttl is None else min(ttl, self.default_ttl)

    async def _lookup(self, key: str, value_type: Any) -> Any:
        try:
            value = self._data[key]
        except KeyError:
            self._misses += 1
            return MISSING
        self._hits += 1
        return value

    async def _store(self, key: str, value: Any, ttl: float | None) -> None:
        self._put(key, value, ttl)

    async def _load_or_compute(
        self, key: str, value_type: Any, compute: Callable[[], Awaitable[Any]]
    ) -> Any:
        return await compute()
