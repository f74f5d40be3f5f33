"""The blocking Redis and tiered caches behind `infrakit.cache.sync` (see that module).

They drive the async classes' own coroutines over redis-py's blocking client: a
subclass overrides only the I/O seams (`_command`, `_pipelined`, `_scan_page`,
`_unlink_batch`, `_ping`, `_pause`; for the tiered cache its listener), whose bodies
make blocking calls, so the coroutines never suspend and run to their end in one
`send(None)` (`drive`). Key rules, serialisation, TTL rules, counters, the circuit
breaker, the cross-process lock and the invalidation protocol are therefore the
async code, line for line.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self

from infrakit.cache import redis as async_redis
from infrakit.cache import tiered as async_tiered
from infrakit.cache._blocking import BlockingCache, MemoryCache, drive
from infrakit.cache._protocol import CacheStats, CircuitState, TtlPolicy
from infrakit.cache._redis_url import connect_blocking
from infrakit.cache._single_flight import BlockingSingleFlight

if TYPE_CHECKING:
    from infrakit.cache._serializer import Serializer
    from infrakit.log import Logger

__all__ = ["RedisCache", "TieredCache"]


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

    async def _scan_page(self, cursor: int, pattern: str) -> tuple[int, list[Any]]:
        reply: tuple[int, list[Any]] = self._client.scan(cursor, match=pattern, count=500)
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


class _Driven(BlockingCache):
    """The operations both driven caches offer, each one async call run to its end."""

    _core: async_redis.RedisCache | async_tiered.TieredCache  # its I/O seams block

    def __repr__(self) -> str:
        return repr(self._core)

    @property
    def url(self) -> str | None:
        """The Redis URL, its password masked (None for a client you passed)."""
        return self._core.url

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
        """The present keys only (one `MGET` on Redis)."""
        return drive(self._core.get_multiple(keys, type=type))

    def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        """Pipelined `SET PX` in one round trip."""
        return drive(self._core.set_multiple(entries, ttl))

    def delete_multiple(self, keys: Iterable[str]) -> bool:
        """True when at least one key was there."""
        return drive(self._core.delete_multiple(keys))

    def clear(self) -> bool:
        """Delete every key under this cache's prefix, nothing else."""
        return drive(self._core.clear())

    def count(self) -> int:
        """The number of keys under the prefix (a `SCAN`); -1 when the server failed."""
        return drive(self._core.count())

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
        """Release the connections this cache created."""
        drive(self._core.close())


class RedisCache(_Driven):
    """`infrakit.cache.RedisCache` on redis-py's blocking client, for threads.

    The same arguments (a `redis://` URL, or a `redis.Redis` you own), keys under the
    same `prefix`, the same serialisation: the async and the blocking form read each
    other's entries. `timeout` is the socket timeout of the client it creates (a
    client you pass keeps its own). redis-py's connection pool is thread-safe: share
    one cache between a WSGI server's threads.
    """

    _core: _BlockingRedisCore

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

    @property
    def prefix(self) -> str:
        return self._core.prefix

    @property
    def default_ttl(self) -> float | None:
        return self._core.default_ttl

    @property
    def timeout(self) -> float | None:
        return self._core.timeout

    @property
    def client(self) -> Any:
        """The underlying `redis.Redis` (for calls this class does not cover)."""
        return self._core.client

    @property
    def circuit(self) -> CircuitState:
        """`closed`, `open` or `half_open`, as for the async form."""
        return self._core.circuit

    def get_multiple_with_ttl(
        self, keys: Iterable[str], *, type: Any = None
    ) -> dict[str, tuple[Any, float | None]]:
        """Found values with their remaining lifetime in seconds."""
        return drive(self._core.get_multiple_with_ttl(keys, type=type))

    def publish(self, channel: str, message: str | bytes) -> bool:
        """`PUBLISH` through the circuit breaker; False when it failed."""
        return drive(self._core.publish(channel, message))


class _AwaitableMemory:
    """A blocking `MemoryCache` behind the awaitable methods `TieredCache` calls."""

    def __init__(self, memory: MemoryCache) -> None:
        self.blocking = memory
        self.default_ttl = memory.default_ttl

    async def get(self, key: str, *, default: Any = None) -> Any:
        return self.blocking.get(key, default=default)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        return self.blocking.set(key, value, ttl)

    async def delete(self, key: str) -> bool:
        return self.blocking.delete(key)

    async def exists(self, key: str) -> bool:
        return self.blocking.exists(key)

    async def get_multiple(self, keys: Iterable[str]) -> dict[str, Any]:
        return self.blocking.get_multiple(keys)

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        return self.blocking.set_multiple(entries, ttl)

    async def delete_multiple(self, keys: Iterable[str]) -> bool:
        return self.blocking.delete_multiple(keys)

    async def clear(self) -> bool:
        return self.blocking.clear()

    async def get_or_set(
        self,
        key: str,
        compute: Callable[[], Coroutine[Any, Any, Any]],
        *,
        ttl: TtlPolicy = None,
        cache_none: bool = False,
    ) -> Any:
        """The blocking `get_or_set`, its computation (a driven coroutine) run to its end."""
        return self.blocking.get_or_set(
            key, lambda: drive(compute()), ttl=ttl, cache_none=cache_none
        )

    def get_stats(self) -> CacheStats:
        return self.blocking.get_stats()

    async def close(self) -> None:
        self.blocking.close()


class _BlockingTieredCore(async_tiered.TieredCache):
    """The async `TieredCache` over blocking levels, its listener on a thread of its own."""

    memory: Any  # _AwaitableMemory
    redis: Any  # _BlockingRedisCore
    _first_attempt: Any  # threading.Event

    def __init__(self, memory: MemoryCache, redis: RedisCache, **options: Any) -> None:
        super().__init__(_AwaitableMemory(memory), redis._core, **options)  # type: ignore[arg-type]
        self._first_attempt = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def start(self, wait_seconds: float = 5.0) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                if self._thread is not None:
                    self._listener_restarts += 1
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=self._listen_blocking, name=f"cache:{self.channel}", daemon=True
                )
                self._thread.start()
        if not self._first_attempt.wait(wait_seconds):
            self._get_logger().warning(
                "cache invalidation subscription not confirmed yet", channel=self.channel
            )

    async def _ensure_started(self) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():
            await self.start()

    async def close(self) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
        await self.memory.close()
        await self.redis.close()

    def _listen_blocking(self) -> None:
        """`_listen` on a thread: the same restarts, backoff and counters, until close()."""
        pause, clear_first = 0.5, False
        while not self._stopping.is_set():
            try:
                if self._subscription(clear_first):
                    pause = 0.5
            except Exception as error:  # the listener must not die: log, back off, retry
                self._listener_failed(error, pause)
            if self._stopping.is_set():
                return
            clear_first = True
            self._restarting()
            self._stopping.wait(pause)
            pause = min(pause * 2, 10.0)

    def _subscription(self, clear_first: bool) -> bool:
        pubsub = self.redis.client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            pubsub.get_message(timeout=5.0)  # the subscribe confirmation
            if clear_first:
                self.memory.blocking.clear()
            self._first_attempt.set()
            while not self._stopping.is_set():
                message = pubsub.get_message(timeout=0.2)
                if message is not None:
                    drive(self._apply(message))
            return True
        finally:
            with contextlib.suppress(Exception):  # a dead connection: nothing to release
                pubsub.close()


class TieredCache(_Driven):
    """`infrakit.cache.TieredCache` for threads: a blocking `MemoryCache` before a `RedisCache`.

    The same reads, writes, announcements and counters (the async code, driven); the
    invalidation listener runs on a daemon thread, started on first use or by
    `start()`, stopped (bounded) by `close()`. Async and blocking tiered caches on the
    same channel invalidate each other's local copies.
    """

    _core: _BlockingTieredCore

    def __init__(
        self,
        memory: MemoryCache,
        redis: RedisCache,
        *,
        channel: str | None = None,
        logger: Logger | None = None,
    ) -> None:
        self.memory = memory
        self.redis = redis
        self._core = _BlockingTieredCore(memory, redis, channel=channel, logger=logger)

    @property
    def channel(self) -> str:
        return self._core.channel

    def start(self, wait_seconds: float = 5.0) -> None:
        """Subscribe to invalidations now (otherwise on first use)."""
        drive(self._core.start(wait_seconds))

    def __enter__(self) -> Self:
        self.start()
        return self
