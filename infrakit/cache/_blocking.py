"""The blocking caches behind `infrakit.cache.sync` (see that module).

`MemoryCache` is the shared `MemoryCore` under a lock. `RedisCache` drives the async
`RedisCache`'s own coroutines over redis-py's blocking client: a subclass overrides
only the I/O seams (`_command`, `_pipelined`, `_scan_page`, `_unlink_batch`, `_ping`,
`_pause`), whose bodies make blocking calls, so the coroutines never suspend and run
to their end in one `send(None)`. Key rules, serialisation, TTL rules, counters, the
circuit breaker and the cross-process lock are therefore the async code, line for line.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, Self, TypeVar

from infrakit.cache import redis as async_redis
from infrakit.cache._compute import check_policy, check_timeout, fill_blocking
from infrakit.cache._memoize import MISSING, options_of, wrap_blocking
from infrakit.cache._protocol import CacheError, CacheStats, CircuitState, TtlPolicy
from infrakit.cache._redis_url import connect_blocking
from infrakit.cache._rules import check_ttl, normalize_key
from infrakit.cache._single_flight import BlockingSingleFlight
from infrakit.cache.memory import MemoryCore

if TYPE_CHECKING:
    from infrakit.cache._serializer import Serializer
    from infrakit.log import Logger

__all__ = ["BlockingCache", "Memoized", "MemoryCache", "RedisCache", "drive", "memoize"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
ResultT = TypeVar("ResultT")


def drive(coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
    """Run a coroutine whose awaits never suspend (their I/O blocks) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    coroutine.close()
    raise CacheError("This cache operation needs an event loop; use infrakit.cache instead.")


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
    """What both blocking caches add: `memoize` and the `with` form (closing on exit)."""

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

    def __init__(
        self,
        max_size: int = 10_000,
        default_ttl: float | None = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        logger: Logger | None = None,
    ) -> None:
        super().__init__(max_size, default_ttl, clock=clock, logger=logger)
        self._lock = threading.Lock()
        self._flight = BlockingSingleFlight()

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
            self._put(key, value, ttl)
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
            self._data.clear()
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

        def store(result: Any, seconds: float | None) -> None:
            seconds = check_ttl(seconds)
            with self._lock:
                self._put(key, result, seconds)

        def compute_and_store() -> Any:
            return fill_blocking(
                compute, store, ttl=ttl, cache_none=cache_none, logger=self._get_logger
            )

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


class _DrivenFlight(BlockingSingleFlight):
    """The thread single-flight, awaitable by the driven async code."""

    async def run(
        self,
        key: str,
        compute: Callable[[], Coroutine[Any, Any, Any]],
        compute_timeout: float | None = None,
    ) -> Any:
        return super().run(key, lambda: drive(compute()), compute_timeout)


def _as_coroutine(function: Callable[[], Any]) -> Callable[[], Coroutine[Any, Any, Any]]:
    async def call() -> Any:
        return function()

    return call


class _BlockingRedisCore(async_redis.RedisCache):
    """The async `RedisCache` with blocking I/O at its seams (driven by `RedisCache`)."""

    _client: Any  # redis.Redis

    def __init__(self, url_or_client: Any, **options: Any) -> None:
        super().__init__(url_or_client, **options)
        self._flight = _DrivenFlight()  # type: ignore[assignment]

    def _connect(self, url: str, client_name: str, retries: int) -> Any:
        return connect_blocking(url, client_name, retries, self.timeout)

    async def _command(
        self,
        operation: str,
        key: str,
        fallback: Any,
        function: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> Any:
        circuit = self._circuit
        if circuit.state != "closed" and not circuit.allow():
            return self._skipped(operation, key, fallback)
        try:
            result = function(*args, **kw)  # a client call, or one of the seams above
            if inspect.iscoroutine(result):
                result = await result
        except async_redis._FAILURES as error:
            return self._failed(operation, key, error, fallback)
        circuit.succeeded()
        return result

    async def _pipelined(self, queue: Callable[..., None], *args: Any) -> Any:
        with self._client.pipeline(transaction=False) as pipeline:
            queue(pipeline, *args)
            return pipeline.execute()

    async def _scan_page(self, cursor: int) -> tuple[int, list[Any]]:
        reply: tuple[int, list[Any]] = self._client.scan(cursor, match=self._pattern(), count=500)
        return reply

    async def _unlink_batch(self, names: list[bytes]) -> None:
        self._client.unlink(*names)

    async def _ping(self) -> None:
        self._client.ping()

    async def _pause(self, seconds: float) -> None:
        time.sleep(seconds)  # noqa: ASYNC251 - driven, never on an event loop

    async def close(self) -> None:
        if self._owns_client:
            self._client.close()


class RedisCache(BlockingCache):
    """`infrakit.cache.RedisCache` on redis-py's blocking client, for threads.

    The same arguments (a `redis://` URL, or a `redis.Redis` you own), keys under the
    same `prefix`, the same serialisation: the async and the blocking form read each
    other's entries. `timeout` is the socket timeout of the client it creates (a
    client you pass keeps its own). redis-py's connection pool is thread-safe: share
    one cache between a WSGI server's threads.
    """

    def __init__(
        self,
        url_or_client: str | Any,
        *,
        prefix: str = "infrakit:cache:",
        default_ttl: float | None = 300.0,
        serializer: Serializer | None = None,
        raise_on_error: bool = False,
        lock_timeout: float = 10.0,
        client_name: str = "infrakit-cache",
        retries: int = 3,
        timeout: float | None = 1.0,
        failure_threshold: int = 3,
        reset_after: float = 1.0,
        logger: Logger | None = None,
    ) -> None:
        self._core = _BlockingRedisCore(
            url_or_client,
            prefix=prefix,
            default_ttl=default_ttl,
            serializer=serializer,
            raise_on_error=raise_on_error,
            lock_timeout=lock_timeout,
            client_name=client_name,
            retries=retries,
            timeout=timeout,
            failure_threshold=failure_threshold,
            reset_after=reset_after,
            logger=logger,
        )

    def __repr__(self) -> str:
        return repr(self._core)

    @property
    def url(self) -> str | None:
        """The URL, its password masked (None for a client you passed)."""
        return self._core.url

    @property
    def prefix(self) -> str:
        return self._core.prefix

    @property
    def default_ttl(self) -> float | None:
        return self._core.default_ttl

    @property
    def client(self) -> Any:
        """The underlying `redis.Redis` (for calls this class does not cover)."""
        return self._core.client

    @property
    def circuit(self) -> CircuitState:
        """`closed`, `open` or `half_open`, as for the async form."""
        return self._core.circuit

    def get(self, key: str, *, type: Any = None, default: Any = None) -> Any:
        """The value (rebuilt as `type` when given), or `default` when absent."""
        return drive(self._core.get(key, type=type, default=default))

    def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store `value`; False (logged) when the server failed."""
        return drive(self._core.set(key, value, ttl))

    def delete(self, key: str) -> bool:
        """Remove the key; True when it was there."""
        return drive(self._core.delete(key))

    def exists(self, key: str) -> bool:
        return drive(self._core.exists(key))

    def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """One `MGET`; absent keys are left out."""
        return drive(self._core.get_multiple(keys, type=type))

    def get_multiple_with_ttl(
        self, keys: Iterable[str], *, type: Any = None
    ) -> dict[str, tuple[Any, float | None]]:
        """Found values with their remaining lifetime in seconds."""
        return drive(self._core.get_multiple_with_ttl(keys, type=type))

    def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        """Pipelined `SET PX` in one round trip."""
        return drive(self._core.set_multiple(entries, ttl))

    def delete_multiple(self, keys: Iterable[str]) -> bool:
        """One `DEL`; True when at least one key was there."""
        return drive(self._core.delete_multiple(keys))

    def clear(self) -> bool:
        """Delete every key under this cache's prefix, nothing else."""
        return drive(self._core.clear())

    def count(self) -> int:
        """The number of keys under the prefix (a `SCAN`); -1 when the server failed."""
        return drive(self._core.count())

    def publish(self, channel: str, message: str | bytes) -> bool:
        """`PUBLISH` through the circuit breaker; False when it failed."""
        return drive(self._core.publish(channel, message))

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
        """The cached value, or `compute()`'s result stored, computed once across processes."""
        return drive(
            self._core.get_or_set(
                key,
                _as_coroutine(compute),
                ttl=ttl,
                type=type,
                cache_none=cache_none,
                compute_timeout=compute_timeout,
            )
        )

    def get_stats(self) -> CacheStats:
        """This instance's counters and circuit state; no server call."""
        return self._core.get_stats()

    def health(self) -> bool:
        """`PING` the server, also as the circuit breaker's probe; False when unreachable."""
        return drive(self._core.health())

    def close(self) -> None:
        """Close the connection pool when this cache created it."""
        drive(self._core.close())
