"""The in-process backend: a cachetools TLRU cache with a TTL per entry."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from cachetools import TLRUCache

from infrakit.cache._compute import check_policy, check_timeout, default_logger, fill
from infrakit.cache._memoize import MISSING
from infrakit.cache._protocol import Cache, CacheError, CacheStats, TtlPolicy
from infrakit.cache._rules import check_ttl, normalize_key
from infrakit.cache._single_flight import SingleFlight
from infrakit.cache._stale import FillTicket, InFlightFills

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["MemoryCache", "MemoryCore"]

T = TypeVar("T")
D = TypeVar("D")


class MemoryCore:
    """The entries, TTLs and counters of a memory cache, shared by both forms.

    `MemoryCache` here and `infrakit.cache.sync.MemoryCache` call these methods; the
    blocking form holds `_lock` around each, the async form needs none (one event loop).
    Each form names its single-flight class in `_flight_type`. Every write and removal
    goes through `_write`, `_remove*` or `_clear`, which make a fill in flight for the
    key stale (see `_stale`); only a fill's own store uses `_put` directly.
    """

    _flight_type: Callable[[], Any]

    def __init__(
        self,
        max_size: int = 10_000,
        default_ttl: float | None = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        logger: Logger | None = None,
    ) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise CacheError(
                "max_size must be an integer of at least 1",
                code="CACHE_INVALID_SIZE",
                details={"field": "max_size"},
            )
        self.max_size = max_size
        self.default_ttl = check_ttl(default_ttl, "default_ttl")
        self._logger = logger
        self._next_ttl: float | None = self.default_ttl
        self._data: TLRUCache[str, Any] = TLRUCache(max_size, self._time_to_use, clock)
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()
        self._flight = self._flight_type()
        self._fills = InFlightFills()

    def __repr__(self) -> str:
        return f"MemoryCache(max_size={self.max_size}, default_ttl={self.default_ttl})"

    def _time_to_use(self, key: str, value: Any, now: float) -> float:
        ttl = self._next_ttl
        return math.inf if ttl is None else now + ttl

    def _read(self, key: str) -> Any:
        """The value, or MISSING; counted as a hit or a miss."""
        try:
            value = self._data[key]  # one lookup on a hit
        except KeyError:
            self._misses += 1
            return MISSING
        self._hits += 1
        return value

    def _read_many(self, keys: Iterable[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key in keys:
            value = self._data.get(normalize_key(key), MISSING)
            if value is MISSING:
                self._misses += 1
            else:
                self._hits += 1
                found[key] = value
        return found

    def _put_many(self, entries: Mapping[str, Any], ttl: float | None) -> bool:
        ttl = check_ttl(ttl)
        normalized = [(normalize_key(key), value) for key, value in entries.items()]
        for key, value in normalized:
            self._write(key, value, ttl)
        return True

    def _write(self, key: str, value: Any, ttl: float | None) -> None:
        """`set`: store, and make a fill of the key in flight stale (it started before)."""
        if self._fills.tickets:
            self._invalidate(key)
        self._put(key, value, ttl)

    def _remove(self, key: str) -> bool:
        key = normalize_key(key)
        if self._fills.tickets:
            self._invalidate(key)
        return self._data.pop(key, MISSING) is not MISSING

    def _remove_many(self, keys: Iterable[str]) -> bool:
        stored = [normalize_key(key) for key in keys]
        if self._fills.tickets:
            for key in stored:
                self._invalidate(key)
        removed = [self._data.pop(key, MISSING) is not MISSING for key in stored]
        return any(removed)

    def _clear(self) -> None:
        self._data.clear()
        if self._fills.tickets:
            self._fills.invalidate_all()
            self._flight.forget_all()

    def _invalidate(self, key: str) -> None:
        """The key's fill in flight (if any) goes stale: not stored, and not joined again."""
        if self._fills.invalidate(key):
            self._flight.forget(key)

    def _store_fresh(self, key: str, ticket: FillTicket, value: Any, ttl: float | None) -> None:
        """A fill's store: skipped (and counted) when an invalidation made it stale."""
        if not self._fills.refuses(ticket):
            self._put(key, value, ttl)

    def _size(self) -> int:
        self._data.expire()
        return len(self._data)

    def _stats(self, suppressed: int, timeouts: int) -> CacheStats:
        """Counters and the number of live entries (expired ones are swept first)."""
        size = self._size()
        return CacheStats.of(
            self._hits,
            self._misses,
            size,
            suppressed,
            compute_timeouts=timeouts,
            stale_fills_discarded=self._fills.discarded,
        )

    def _put(self, key: str, value: Any, ttl: float | None) -> None:
        # The TTL travels to _time_to_use through an attribute: cachetools asks for it
        # synchronously inside __setitem__, so nothing can interleave (the async form
        # runs on one event loop, the blocking form holds its lock).
        self._next_ttl = self.default_ttl if ttl is None else ttl
        try:
            self._data[key] = value
        finally:
            self._next_ttl = self.default_ttl

    def _get_logger(self) -> Logger:
        if self._logger is None:
            self._logger = default_logger()
        return self._logger


class MemoryCache(MemoryCore, Cache):
    """An LRU-bounded in-process cache whose entries each carry their own TTL.

    Values are stored as they are (no copy, no serialisation): mutating a value you
    got back mutates the cached one. Expired entries are dropped lazily by cachetools'
    expiry heap on writes and reads, so there is no timer per key. Not thread-safe:
    use it from one event loop (`infrakit.cache.sync.MemoryCache` is for threads).
    A `delete`, `set`, `delete_multiple` or `clear` of a key whose `get_or_set` is
    computing makes that fill stale: its waiters get the value, the cache does not keep
    it, and the next call computes afresh (`get_stats().stale_fills_discarded`).

    Args:
        max_size: entries kept before the least recently used one is evicted.
        default_ttl: seconds an entry lives when `set` gets no `ttl`; None = forever.
        clock: the monotonic timer expiry is measured on, in seconds
            (`time.monotonic`); tests pass a fake one to expire entries without waiting.
        logger: where a TTL policy's invalid answer is reported; defaults to
            `get_logger("infrakit.cache")`.
    """

    _flight_type = SingleFlight
    _flight: SingleFlight

    @overload
    async def get(self, key: str) -> Any: ...
    @overload
    async def get(self, key: str, *, type: type[T]) -> T | None: ...
    @overload
    async def get(self, key: str, *, type: type[T], default: D) -> T | D: ...
    @overload
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any: ...
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any:
        """Return the value, or `default` (None) when it is absent or expired."""
        value = self._read(normalize_key(key))
        return default if value is MISSING else value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store `value` for `ttl` seconds (the default TTL when None)."""
        self._write(normalize_key(key), value, check_ttl(ttl))
        return True

    async def delete(self, key: str) -> bool:
        """Remove the key; True when it was there."""
        return self._remove(key)

    async def exists(self, key: str) -> bool:
        return normalize_key(key) in self._data

    @overload
    async def get_multiple(self, keys: Iterable[str]) -> dict[str, Any]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: type[T]) -> dict[str, T]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]: ...
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """Return the present keys only."""
        return self._read_many(keys)

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        return self._put_many(entries, ttl)

    async def delete_multiple(self, keys: Iterable[str]) -> bool:
        """Remove the keys; True when at least one was there."""
        return self._remove_many(keys)

    async def clear(self) -> bool:
        self._clear()
        return True

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
        """The cached value, or `compute()`'s result stored (see `Cache.get_or_set`)."""
        key = normalize_key(key)
        value = self._read(key)
        if value is not MISSING:
            return value  # type: ignore[no-any-return]
        ttl, compute_timeout = check_policy(ttl), check_timeout(compute_timeout)

        async def compute_and_store() -> Any:
            ticket = self._fills.open(key)

            async def store(result: Any, seconds: float | None) -> None:
                self._store_fresh(key, ticket, result, check_ttl(seconds))

            try:
                return await fill(
                    compute, store, ttl=ttl, cache_none=cache_none, logger=self._get_logger
                )
            finally:
                self._fills.close(key, ticket)

        flight = self._flight.run(key, compute_and_store, compute_timeout)
        return await flight  # type: ignore[no-any-return]

    def get_stats(self) -> CacheStats:
        """Counters and the number of live entries (expired ones are swept first)."""
        return self._stats(self._flight.suppressed, self._flight.timeouts)

    async def count(self) -> int:
        """The number of live entries (the same as `get_stats().size`)."""
        return self._size()

    async def health(self) -> bool:
        """Always healthy: there is nothing to reach."""
        return True

    async def close(self) -> None:
        """Nothing to release; present so every backend closes the same way."""
