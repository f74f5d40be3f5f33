"""The blocking memory cache and memoize behind `infrakit.cache.sync` (see that module).

`MemoryCache` is the shared `MemoryCore` under a lock; `memoize` is the async form's
keys and options over a blocking `get_or_set`. The Redis-backed classes, which need
the extra, are in `_blocking_redis`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, Self, TypeVar

from infrakit._internal.blocking import drive as run_driven
from infrakit.cache._compute import check_policy, check_timeout, fill_blocking
from infrakit.cache._memoize import MISSING, options_of, wrap_blocking
from infrakit.cache._protocol import CacheError, CacheStats, TtlPolicy
from infrakit.cache._rules import check_ttl, normalize_key
from infrakit.cache._single_flight import BlockingSingleFlight
from infrakit.cache.memory import MemoryCore

if TYPE_CHECKING:
    pass

__all__ = ["BlockingCache", "Memoized", "MemoryCache", "drive", "memoize"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
ResultT = TypeVar("ResultT")


def drive(coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
    """Run a coroutine whose awaits never suspend (their I/O blocks) to its result."""
    return run_driven(coroutine, _cache_needs_loop)


def _cache_needs_loop() -> Exception:
    return CacheError("This cache operation needs an event loop; use infrakit.cache instead.")


class Memoized(Protocol[P, R_co]):
    """A memoised plain function: call it, `invalidate(*args)`, `key_for(*args)`."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Delete the cached result of this call; True when there was one."""
        ...

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The cache key this call uses."""
        ...


def memoize(
    fn: Callable[P, R] | None = None,
    *,
    cache: BlockingCache,
    ttl: TtlPolicy = None,
    key_fn: Callable[..., str] | None = None,
    cache_none: bool = False,
    type: Any = None,
    timeout: float | None = None,
) -> Any:
    """`infrakit.cache.memoize` for plain functions, on a cache of `infrakit.cache.sync`.

    The same keys, TTL rules and options; concurrent misses on one key in this process
    share one call (threads), and on Redis the lock makes other processes wait too.

    Raises:
        TypeError: `fn` is a coroutine function (use `infrakit.cache.memoize`).
        CacheError: `ttl` or `timeout` is not a valid number of seconds.
    """
    options = options_of(ttl, key_fn, cache_none, type, timeout)

    def decorate(function: Callable[P, R]) -> Memoized[P, R]:
        return wrap_blocking(function, cache, options)  # type: ignore[no-any-return]

    return decorate if fn is None else decorate(fn)


class BlockingCache:
    """The base of the blocking caches (`infrakit.cache.sync.Cache`): `memoize`, `with`.

    `with cache:` closes it on exit; `cache.memoize(fn, ttl=...)` is
    `memoize(fn, cache=cache, ttl=...)`.
    """

    def close(self) -> None:
        """Release what the cache holds."""

    def memoize(self, fn: Callable[P, R] | None = None, **options: Any) -> Any:
        """`memoize(fn, cache=self, ...)`: bare, called, or as a call."""
        return memoize(fn, cache=self, **options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class MemoryCache(MemoryCore, BlockingCache):
    """`infrakit.cache.MemoryCache` for threads: the same entries and rules, under a lock.

    Args and behaviour are those of `infrakit.cache.MemoryCache`; every method may
    be called from any thread.
    """

    _flight_type = BlockingSingleFlight
    _flight: BlockingSingleFlight

    def get(self, key: str, *, type: Any = None, default: Any = None) -> Any:
        """The value, or `default` when it is absent or expired."""
        key = normalize_key(key)
        with self._lock:
            value = self._read(key)
        return default if value is MISSING else value

    def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store `value` for `ttl` seconds (the default TTL when None)."""
        key, ttl = normalize_key(key), check_ttl(ttl)
        with self._lock:
            self._write(key, value, ttl)
        return True

    def delete(self, key: str) -> bool:
        """Remove the key; True when it was there."""
        with self._lock:
            return self._remove(key)

    def exists(self, key: str) -> bool:
        key = normalize_key(key)
        with self._lock:
            return key in self._data

    def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """The present keys only."""
        with self._lock:
            return self._read_many(keys)

    def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        with self._lock:
            return self._put_many(entries, ttl)

    def delete_multiple(self, keys: Iterable[str]) -> bool:
        """Remove the keys; True when at least one was there."""
        with self._lock:
            return self._remove_many(keys)

    def clear(self) -> bool:
        with self._lock:
            self._clear()
        return True

    def get_or_set(
        self,
        key: str,
        compute: Callable[[], Any],
        *,
        ttl: TtlPolicy = None,
        type: Any = None,
        cache_none: bool = False,
        compute_timeout: float | None = None,
    ) -> Any:
        """The cached value, or `compute()`'s result stored; one call per key at once."""
        key = normalize_key(key)
        with self._lock:
            value = self._read(key)
        if value is not MISSING:
            return value
        ttl, compute_timeout = check_policy(ttl), check_timeout(compute_timeout)

        def compute_and_store() -> Any:
            with self._lock:
                ticket = self._fills.open(key)

            def store(result: Any, seconds: float | None) -> None:
                seconds = check_ttl(seconds)
                with self._lock:  # held by every invalidation too: check and store as one
                    self._store_fresh(key, ticket, result, seconds)

            try:
                return fill_blocking(
                    compute, store, ttl=ttl, cache_none=cache_none, logger=self._get_logger
                )
            finally:
                with self._lock:
                    self._fills.close(key, ticket)

        return self._flight.run(key, compute_and_store, compute_timeout)

    def get_stats(self) -> CacheStats:
        """Counters and the number of live entries."""
        with self._lock:
            return self._stats(self._flight.suppressed, self._flight.timeouts)

    def count(self) -> int:
        """The number of live entries."""
        with self._lock:
            return self._size()

    def health(self) -> bool:
        """Always healthy: there is nothing to reach."""
        return True
