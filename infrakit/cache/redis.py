"""The Redis backend: JSON values under a key prefix, batch calls in one round trip.

Needs the `redis` extra. Failures of the server never crash a caller by default: a
read counts as a miss and a write returns False, both logged; `raise_on_error=True`
raises `CacheError` instead. Memoised misses also take a short Redis lock
(`SET NX PX` with a random token, released by a compare-and-delete script) so that
several processes compute a value once; the others poll for it, take the lock over
when it goes without a value (its holder died), and compute themselves after
`lock_timeout`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from infrakit.cache._keys import normalize_key
from infrakit.cache._memoize import MISSING
from infrakit.cache._protocol import Cache, CacheError, CacheStats, check_ttl
from infrakit.cache._serializer import JsonSerializer, Serializer
from infrakit.cache._single_flight import SingleFlight
from infrakit.errors import import_optional

_redis = import_optional("redis.asyncio", extra="redis")
_retry = import_optional("redis.asyncio.retry", extra="redis")
_backoff = import_optional("redis.backoff", extra="redis")

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from infrakit.log import Logger

__all__ = ["RedisCache"]

T = TypeVar("T")

_FAILURES = (_redis.RedisError, OSError)
_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisCache(Cache):
    """A cache in Redis shared by every process that uses the same `prefix`.

    Args:
        url_or_client: a `redis://` / `rediss://` / `unix://` URL (the cache owns and
            closes the client it creates), or a `redis.asyncio.Redis` you own.
        prefix: put before every key; `clear()` deletes only keys with it.
        default_ttl: seconds when `set` gets no `ttl`; None keeps entries until evicted.
        serializer: `JsonSerializer()` by default; never unsigned pickle.
        raise_on_error: raise `CacheError` on server failures instead of miss/False.
        lock_timeout: lifetime of the stampede lock, and how long other processes
            wait for its holder before computing themselves.
        client_name: `CLIENT SETNAME` of the connections this cache opens.
        retries: reconnect-and-retry attempts after a dropped connection or a timeout
            (commands here are idempotent); applies to a client the cache creates.
        timeout: seconds connecting or one command may take before it counts as a
            failure (so a server that stops answering gives misses, not a hung caller);
            None waits forever. Applies to a client the cache creates.
        logger: defaults to `get_logger("infrakit.cache")`.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "infrakit:cache:",
        default_ttl: float | None = 300.0,
        serializer: Serializer | None = None,
        raise_on_error: bool = False,
        lock_timeout: float = 10.0,
        client_name: str = "infrakit-cache",
        retries: int = 3,
        timeout: float | None = 1.0,
        logger: Logger | None = None,
    ) -> None:
        check_ttl(default_ttl)
        check_ttl(lock_timeout)
        self._owns_client = isinstance(url_or_client, str)
        self._client: Redis = (
            _connect(url_or_client, client_name, retries, timeout)
            if isinstance(url_or_client, str)
            else url_or_client
        )
        self.prefix = prefix
        self.default_ttl = default_ttl
        self.serializer: Serializer = serializer if serializer is not None else JsonSerializer()
        self.raise_on_error = raise_on_error
        self.lock_timeout = lock_timeout
        self._lock_prefix = f"{prefix}__lock__:"
        self._release_lock = self._client.register_script(_RELEASE_LOCK)
        self._logger = logger
        self._hits = 0
        self._misses = 0
        self._flight = SingleFlight()

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r}, default_ttl={self.default_ttl})"

    @property
    def client(self) -> Redis:
        """The underlying `redis.asyncio.Redis` (for calls this class does not cover)."""
        return self._client

    async def get(self, key: str, *, type: Any = None) -> Any:
        """Return the value (rebuilt as `type` when given), or None when absent."""
        value = await self._lookup(normalize_key(key), type)
        return None if value is MISSING else value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store `value`; False (logged) when the server failed.

        Raises:
            CacheError: the value does not serialise (`CACHE_SERIALIZATION_ERROR`).
        """
        key = normalize_key(key)
        write = self._client.set(
            self.prefix + key, self._encode(key, value), px=self._milliseconds(ttl)
        )
        return bool(await self._attempt("set", key, write, False))

    async def delete(self, key: str) -> bool:
        """Remove the key; True when it was there."""
        key = normalize_key(key)
        return bool(await self._attempt("delete", key, self._client.delete(self.prefix + key), 0))

    async def exists(self, key: str) -> bool:
        key = normalize_key(key)
        return bool(await self._attempt("exists", key, self._client.exists(self.prefix + key), 0))

    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """One `MGET`; absent keys are left out of the result."""
        wanted = {key: normalize_key(key) for key in keys}
        if not wanted:
            return {}
        try:
            values = await self._client.mget([self.prefix + key for key in wanted.values()])
        except _FAILURES as error:
            self._misses += len(wanted)
            return self._failed("get_multiple", "*", error, {})
        found: dict[str, Any] = {}
        for (key, stored_key), data in zip(wanted.items(), values, strict=True):
            value = self._counted(stored_key, data, type)
            if value is not MISSING:
                found[key] = value
        return found

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        """Pipelined `SET PX` in one round trip; nothing is written if a value fails to encode."""
        normalized = ((normalize_key(key), value) for key, value in entries.items())
        encoded = [(key, self._encode(key, value)) for key, value in normalized]
        milliseconds = self._milliseconds(ttl)
        try:
            async with self._client.pipeline(transaction=False) as pipeline:
                for key, data in encoded:
                    pipeline.set(self.prefix + key, data, px=milliseconds)
                await pipeline.execute()
        except _FAILURES as error:
            return self._failed("set_multiple", "*", error, False)
        return True

    async def delete_multiple(self, keys: Iterable[str]) -> bool:
        """One `DEL`; True when at least one key was there."""
        stored = [self.prefix + normalize_key(key) for key in keys]
        if not stored:
            return False
        return bool(await self._attempt("delete_multiple", "*", self._client.delete(*stored), 0))

    async def clear(self) -> bool:
        """Delete every key under this cache's prefix (`SCAN` + `UNLINK`), nothing else."""
        try:
            batch: list[bytes] = []
            async for name in self._client.scan_iter(match=self._pattern(), count=500):
                batch.append(name)
                if len(batch) >= 500:
                    await self._client.unlink(*batch)
                    batch.clear()
            if batch:
                await self._client.unlink(*batch)
        except _FAILURES as error:
            return self._failed("clear", "*", error, False)
        return True

    async def get_stats(self) -> CacheStats:
        """Counters of this instance; `size` counts the prefix's keys with `SCAN` (O(n))."""
        size = 0
        lock_prefix = self._lock_prefix.encode()
        try:
            async for name in self._client.scan_iter(match=self._pattern(), count=1000):
                size += not name.startswith(lock_prefix)
        except _FAILURES as error:
            size = self._failed("get_stats", "*", error, -1)
        return CacheStats.of(self._hits, self._misses, size, self._flight.suppressed)

    async def health(self) -> bool:
        """`PING` the server.

        Raises:
            CacheError: the server is unreachable.
        """
        try:
            await self._client.ping()
        except _FAILURES as error:
            raise CacheError("the Redis cache is unreachable") from error
        return True

    async def close(self) -> None:
        """Close the connection pool when this cache created it."""
        if self._owns_client:
            await self._client.aclose()

    # -- the private half used by memoize and TieredCache ------------------------

    async def _lookup(self, key: str, value_type: Any) -> Any:
        try:
            data = await self._client.get(self.prefix + key)
        except _FAILURES as error:
            self._misses += 1
            return self._failed("get", key, error, MISSING)
        return self._counted(key, data, value_type)

    async def _lookup_with_ttl(
        self, keys: list[str], value_type: Any
    ) -> dict[str, tuple[Any, float | None]]:
        """Found values with their remaining lifetime in seconds (None: no expiry).

        `GET` and `PTTL` per key in one pipelined round trip; used by `TieredCache` so a
        local copy never outlives the Redis entry.
        """
        try:
            async with self._client.pipeline(transaction=False) as pipeline:
                for key in keys:
                    pipeline.get(self.prefix + key)
                    pipeline.pttl(self.prefix + key)
                replies = await pipeline.execute()
        except _FAILURES as error:
            self._misses += len(keys)
            return self._failed("get", keys[0] if len(keys) == 1 else "*", error, {})
        found: dict[str, tuple[Any, float | None]] = {}
        for index, key in enumerate(keys):
            value, remaining = (
                self._counted(key, replies[2 * index], value_type),
                replies[2 * index + 1],
            )
            if value is not MISSING:
                found[key] = (value, remaining / 1000 if remaining > 0 else None)
        return found

    async def _store(self, key: str, value: Any, ttl: float | None) -> None:
        await self.set(key, value, ttl)

    async def _load_or_compute(
        self, key: str, value_type: Any, compute: Callable[[], Awaitable[Any]]
    ) -> Any:
        lock_key, token = self._lock_prefix + key, secrets.token_hex(16)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                acquired = await self._client.set(
                    lock_key, token, nx=True, px=self._milliseconds(self.lock_timeout)
                )
            except _FAILURES as error:
                self._failed("lock", key, error, None, raising=False)
                return await compute()
            if acquired:
                break
            value = await self._wait_for_holder(key, lock_key, value_type, deadline)
            if value is not MISSING:
                return value
            if time.monotonic() >= deadline:  # a slow holder: stop waiting for it
                return await compute()
            # the lock went without a value (its holder died or did not cache): take it
        try:
            value = await self._fetch(key, value_type)
            return await compute() if value is MISSING else value
        finally:
            await self._unlock(lock_key, token)

    async def _fetch(self, key: str, value_type: Any) -> Any:
        """Read without counting: the re-check a lock holder does before computing."""
        try:
            data = await self._client.get(self.prefix + key)
        except _FAILURES:
            return MISSING
        return MISSING if data is None else self._decode(key, data, value_type)

    async def _wait_for_holder(
        self, key: str, lock_key: str, value_type: Any, deadline: float
    ) -> Any:
        """Poll until the holder stored the value, the lock went, or `deadline` passed."""
        interval = 0.005
        while time.monotonic() < deadline:
            await asyncio.sleep(interval)
            interval = min(interval * 2, 0.1)
            try:
                data, lock = await self._client.mget([self.prefix + key, lock_key])
            except _FAILURES:
                return MISSING
            if data is not None:
                self._flight.suppressed += 1
                return self._decode(key, data, value_type)
            if lock is None:
                return MISSING
        return MISSING

    async def _unlock(self, lock_key: str, token: str) -> None:
        try:
            await self._release_lock(keys=[lock_key], args=[token])
        except _FAILURES as error:  # the lock's TTL releases it anyway
            self._failed("unlock", lock_key, error, None, raising=False)

    def _encode(self, key: str, value: Any) -> bytes:
        try:
            return self.serializer.dumps(value)
        except Exception as error:
            kind = type(value)
            raise CacheError(
                f"cannot cache key {key!r}: a value of type {kind.__module__}."
                f"{kind.__qualname__} does not serialise with {type(self.serializer).__name__}",
                code="CACHE_SERIALIZATION_ERROR",
                details={"key": key, "type": f"{kind.__module__}.{kind.__qualname__}"},
            ) from error

    def _counted(self, key: str, data: bytes | str | None, value_type: Any) -> Any:
        """Decode a reply (None: absent) and count it as a hit or a miss."""
        value = MISSING if data is None else self._decode(key, data, value_type)
        if value is MISSING:
            self._misses += 1
        else:
            self._hits += 1
        return value

    async def _attempt(self, operation: str, key: str, call: Awaitable[T], fallback: T) -> T:
        """Await one command; a server failure is logged and gives `fallback` (or raises)."""
        try:
            return await call
        except _FAILURES as error:
            return self._failed(operation, key, error, fallback)

    def _decode(self, key: str, data: bytes | str, value_type: Any) -> Any:
        try:
            return self.serializer.loads(
                data if isinstance(data, bytes) else data.encode(), value_type
            )
        except Exception as error:  # a stale shape or a foreign writer: treat as a miss
            return self._failed("decode", key, error, MISSING)

    def _milliseconds(self, ttl: float | None) -> int | None:
        check_ttl(ttl)
        ttl = self.default_ttl if ttl is None else ttl
        return None if ttl is None else max(1, round(ttl * 1000))

    def _pattern(self) -> str:
        escaped = "".join("\\" + char if char in "*?[]\\" else char for char in self.prefix)
        return escaped + "*"

    def _failed(
        self, operation: str, key: str, error: BaseException, fallback: T, *, raising: bool = True
    ) -> T:
        if raising and self.raise_on_error:
            _raise(operation, key, error)
        logger = self._logger
        if logger is None:
            from infrakit.log import get_logger

            logger = self._logger = get_logger("infrakit.cache")
        logger.warning(
            "cache operation failed",
            operation=operation,
            key=key,
            error=type(error).__name__,
            backend="redis",
        )
        return fallback


def _connect(url: str, client_name: str, retries: int, timeout: float | None) -> Redis:
    """A client that reconnects and retries on a dropped connection (`from_url` does not)."""
    retry = _retry.Retry(_backoff.ExponentialBackoff(cap=0.5, base=0.01), retries)
    errors = [_redis.ConnectionError, _redis.TimeoutError]
    client: Redis = _redis.Redis.from_url(
        url,
        client_name=client_name,
        retry=retry,
        retry_on_error=errors,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return client


def _raise(operation: str, key: str, error: BaseException) -> NoReturn:
    raise CacheError(
        f"cache {operation} failed for key {key!r}: {type(error).__name__}",
        details={"operation": operation, "key": key},
    ) from error
