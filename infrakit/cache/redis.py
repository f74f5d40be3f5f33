"""The Redis backend: JSON values under a key prefix, batch calls in one round trip.

Needs the `redis` extra. Failures of the server never crash a caller by default: a
read counts as a miss and a write returns False, both logged; `raise_on_error=True`
raises `CacheError` instead. Every command runs under one deadline of our own
(`_deadline.Deadlines`: `asyncio.timeout`'s rules, one timer for all the commands in
flight; no socket timeout underneath, which would wrap each send in `asyncio.wait_for`),
and a circuit breaker stops calling a server that failed several times in a row.
Memoised misses also take a short Redis lock (`SET NX PX` with a random token,
released by a compare-and-delete script) so that several processes compute a value
once; the others poll for it, take the lock over when it goes without a value (its
holder died), and take it over after `lock_timeout`.

The lock is also the fill's fence: the computed value is stored by a script only while
the lock still holds the fill's token, and every invalidation (`set`, `delete`,
`delete_multiple`, `clear`) removes the key's lock first. So a write or delete from any
process made while a value is computed keeps that (possibly older) value out.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

from infrakit._internal.secrets import mask_dsn, register_dsn
from infrakit.cache._circuit import CircuitBreaker
from infrakit.cache._compute import check_policy, check_timeout, default_logger, fill
from infrakit.cache._deadline import Deadlines
from infrakit.cache._memoize import MISSING
from infrakit.cache._protocol import Cache, CacheError, CacheStats, CircuitState, TtlPolicy
from infrakit.cache._redis_url import connect
from infrakit.cache._rules import check_ttl, normalize_key
from infrakit.cache._serializer import JsonSerializer, Serializer
from infrakit.cache._single_flight import SingleFlight
from infrakit.errors import import_optional

_redis = import_optional("redis.asyncio", extra="redis")

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from infrakit.log import Logger

__all__ = ["RedisCache"]

T = TypeVar("T")
D = TypeVar("D")

_FAILURES = (_redis.RedisError, OSError)  # OSError covers the deadline's TimeoutError
_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# KEYS: the value, the lock; ARGV: the fill's token, the data, the PX milliseconds or ''.
# Stores and releases the lock only while the lock is still the fill's own.
_STORE_FENCED = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('set', KEYS[1], ARGV[2])
else
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
redis.call('del', KEYS[2])
return 1
"""
# KEYS: n values then their n locks. Drops the locks (fencing out fills in flight)
# with the values, atomically; the number of values that were there.
_DELETE_FENCED = """
local n = #KEYS / 2
for i = n + 1, #KEYS do redis.call('del', KEYS[i]) end
local removed = 0
for i = 1, n do removed = removed + redis.call('del', KEYS[i]) end
return removed
"""
# KEYS: the value, its lock; ARGV: the data, the PX milliseconds or ''.
_SET_FENCED = """
redis.call('del', KEYS[2])
if ARGV[2] == '' then return redis.call('set', KEYS[1], ARGV[1]) end
return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
"""


class _Fence:
    """A fill's claim on its key: the lock's name and token (released once stored)."""

    __slots__ = ("lock_key", "released", "token")

    def __init__(self, lock_key: str) -> None:
        self.lock_key, self.token, self.released = lock_key, secrets.token_hex(16), False


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
            wait for its holder before taking the lock over.
        client_name: `CLIENT SETNAME` of the connections this cache opens.
        retries: reconnect-and-retry attempts after a dropped connection (commands
            here are idempotent); applies to a client the cache creates.
        timeout: seconds one command may take, retries included, before it counts as
            a failure (so a server that stops answering gives misses, not a hung
            caller); None waits for ever. Applies to every command, on any client.
        failure_threshold: consecutive failures that open the circuit breaker.
        reset_after: seconds the open circuit skips the server before one probe
            (doubling after each failed probe, up to 30 s).
        logger: defaults to `get_logger("infrakit.cache")`.

    Raises:
        ConfigurationError: the URL is malformed or names an unknown option.
        CacheError: `CACHE_INVALID_TTL` for a bad `default_ttl`, `lock_timeout` or `timeout`.
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
        failure_threshold: int = 3,
        reset_after: float = 1.0,
        logger: Logger | None = None,
    ) -> None:
        self.default_ttl = check_ttl(default_ttl, "default_ttl")
        self.lock_timeout: float = _required(
            check_ttl(lock_timeout, "lock_timeout"), "lock_timeout"
        )
        self.timeout = check_ttl(timeout, "timeout")
        self._deadlines = Deadlines(self.timeout) if self.timeout is not None else None
        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            self.url: str | None = register_dsn(url_or_client)
            self._client: Redis = self._connect(url_or_client, client_name, retries)
        else:
            self.url, self._client = None, url_or_client
        self.prefix = prefix
        self.serializer: Serializer = serializer if serializer is not None else JsonSerializer()
        self.raise_on_error = raise_on_error
        self._lock_prefix = f"{prefix}__lock__:"
        self._release_lock = self._client.register_script(_RELEASE_LOCK)
        self._store_fenced = self._client.register_script(_STORE_FENCED)
        self._delete_fenced = self._client.register_script(_DELETE_FENCED)
        self._set_fenced = self._client.register_script(_SET_FENCED)
        self._stale_fills = 0
        self._logger = logger
        self._hits = self._misses = self._errors = self._short_circuited = 0
        self._reachable: bool | None = None
        self._flight = SingleFlight()
        self._circuit = CircuitBreaker(
            threshold=_count(failure_threshold, "failure_threshold"),
            reset_after=_required(check_ttl(reset_after, "reset_after"), "reset_after"),
            on_change=self._circuit_changed,
        )

    def _connect(self, url: str, client_name: str, retries: int) -> Any:
        """The client this cache owns, from its URL (the blocking form makes its own)."""
        return connect(url, client_name, retries)

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r}, prefix={self.prefix!r}, default_ttl={self.default_ttl})"

    @property
    def client(self) -> Redis:
        """The underlying `redis.asyncio.Redis` (for calls this class does not cover)."""
        return self._client

    @property
    def circuit(self) -> CircuitState:
        """`closed` (calling the server), `open` (skipping it) or `half_open` (probing)."""
        return self._circuit.state

    @overload
    async def get(self, key: str) -> Any: ...
    @overload
    async def get(self, key: str, *, type: type[T]) -> T | None: ...
    @overload
    async def get(self, key: str, *, type: type[T], default: D) -> T | D: ...
    @overload
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any: ...
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any:
        """Return the value (rebuilt as `type` when given), or `default` when absent."""
        key = normalize_key(key)
        data = await self._command("get", key, None, self._client.get, self.prefix + key)
        value = self._counted(key, data, type)
        return default if value is MISSING else value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store `value`; False (logged) when the server failed.

        Raises:
            CacheError: the value does not serialise (`CACHE_SERIALIZATION_ERROR`), or
                `ttl` is invalid (`CACHE_INVALID_TTL`).
        """
        key = normalize_key(key)
        data, milliseconds = self._encode(key, value), self._milliseconds(ttl)
        self._flight.forget(key)  # a fill in flight here predates this value
        names, args = [self.prefix + key, self._lock_prefix + key], [data, milliseconds or ""]
        return bool(await self._command("set", key, False, self._set_fenced, names, args))

    async def delete(self, key: str) -> bool:
        """Remove the key (and fence out its fill in flight); True when it was there."""
        key = normalize_key(key)
        self._flight.forget(key)
        names = [self.prefix + key, self._lock_prefix + key]
        return bool(await self._command("delete", key, 0, self._delete_fenced, names))

    async def exists(self, key: str) -> bool:
        key = normalize_key(key)
        return bool(await self._command("exists", key, 0, self._client.exists, self.prefix + key))

    @overload
    async def get_multiple(self, keys: Iterable[str]) -> dict[str, Any]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: type[T]) -> dict[str, T]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]: ...
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        """One `MGET`; absent keys are left out of the result."""
        wanted = {key: normalize_key(key) for key in keys}
        if not wanted:
            return {}
        stored = [self.prefix + key for key in wanted.values()]
        values = await self._command("get_multiple", "*", None, self._client.mget, stored)
        if values is None:
            self._misses += len(wanted)
            return {}
        found: dict[str, Any] = {}
        for (key, stored_key), data in zip(wanted.items(), values, strict=True):
            value = self._counted(stored_key, data, type)
            if value is not MISSING:
                found[key] = value
        return found

    async def get_multiple_with_ttl(
        self, keys: Iterable[str], *, type: Any = None
    ) -> dict[str, tuple[Any, float | None]]:
        """Found values with their remaining lifetime in seconds (None: no expiry).

        `GET` and `PTTL` per key in one pipelined round trip; `TieredCache` uses it so a
        local copy never outlives the Redis entry. Counted like `get_multiple`.
        """
        wanted = {key: normalize_key(key) for key in keys}
        if not wanted:
            return {}
        replies = await self._command("get", "*", None, self._get_with_ttl, list(wanted.values()))
        if replies is None:
            self._misses += len(wanted)
            return {}
        found: dict[str, tuple[Any, float | None]] = {}
        for index, (key, stored_key) in enumerate(wanted.items()):
            remaining = replies[2 * index + 1]
            # PTTL is -1 for no expiry, -2 (or 0) when the key expired between the GET
            # and the PTTL: that value is gone, not immortal, so it is a miss.
            data = replies[2 * index] if remaining == -1 or remaining > 0 else None
            value = self._counted(stored_key, data, type)
            if value is not MISSING:
                found[key] = (value, remaining / 1000 if remaining > 0 else None)
        return found

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        """Pipelined `SET PX` in one round trip; nothing is written if a value fails to encode."""
        milliseconds = self._milliseconds(ttl)
        normalized = [(normalize_key(key), value) for key, value in entries.items()]
        encoded = [(key, self._encode(key, value)) for key, value in normalized]
        for key, _ in encoded:
            self._flight.forget(key)
        return bool(
            await self._command("set_multiple", "*", False, self._set_all, encoded, milliseconds)
        )

    async def delete_multiple(self, keys: Iterable[str]) -> bool:
        """One script; True when at least one key was there."""
        wanted = [normalize_key(key) for key in keys]
        if not wanted:
            return False
        for key in wanted:
            self._flight.forget(key)
        names = [self.prefix + key for key in wanted] + [self._lock_prefix + key for key in wanted]
        return bool(await self._command("delete_multiple", "*", 0, self._delete_fenced, names))

    async def clear(self) -> bool:
        """Delete every key under this cache's prefix (`SCAN` + `UNLINK`), nothing else.

        The locks go in a first pass: a fill that stores before its lock is reached has
        stored before the second pass began, which then removes its value.
        """
        self._flight.forget_all()
        locks = self._pattern(self._lock_prefix)
        if not await self._command(
            "clear", "*", False, self._scan, self._unlink_batch, None, locks
        ):
            return False
        return bool(await self._command("clear", "*", False, self._scan, self._unlink_batch, None))

    async def count(self) -> int:
        """The number of keys under the prefix (locks left out): a `SCAN`, O(keys in the db).

        For a dashboard or a test, not a hot path; `get_stats()` never does this.
        Returns -1 when the server could not be asked.
        """
        counted = await self._command(
            "count", "*", -1, self._scan, None, self._lock_prefix.encode()
        )
        return int(counted)

    async def publish(self, channel: str, message: str | bytes) -> bool:
        """`PUBLISH` through this cache's timeout and circuit breaker; False when it failed."""
        receivers = await self._command(
            "publish", "*", None, self._client.publish, channel, message
        )
        return receivers is not None

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
        """The cached value, or `compute()`'s result stored, computed once across processes.

        See `Cache.get_or_set`; `compute_timeout` also bounds how long this process
        waits for another process's holder of the key's lock.
        """
        key = normalize_key(key)
        data = await self._command("get", key, None, self._client.get, self.prefix + key)
        value = self._counted(key, data, type)
        if value is not MISSING:
            return value  # type: ignore[no-any-return]
        ttl, compute_timeout = check_policy(ttl), check_timeout(compute_timeout)

        async def compute_and_store(fence: _Fence) -> Any:
            async def store(result: Any, seconds: float | None) -> None:
                await self._store_if_fenced(key, fence, result, seconds)

            return await fill(
                compute, store, ttl=ttl, cache_none=cache_none, logger=self._get_logger
            )

        wait = self.lock_timeout
        if compute_timeout is not None:
            wait = min(wait, compute_timeout)
        return await self._flight.run(  # type: ignore[no-any-return]
            key, lambda: self._locked(key, type, compute_and_store, wait), compute_timeout
        )

    def get_stats(self) -> CacheStats:
        """This instance's counters and circuit state; no server call (`count()` asks it)."""
        return CacheStats.of(
            self._hits,
            self._misses,
            None,
            self._flight.suppressed,
            errors=self._errors,
            short_circuited=self._short_circuited,
            circuit=self._circuit.state,
            compute_timeouts=self._flight.timeouts,
            stale_fills_discarded=self._stale_fills,
        )

    async def health(self) -> bool:
        """`PING` the server (bounded by `timeout`), also as the circuit breaker's probe.

        Returns False when it is unreachable; logs once when reachability changes, never
        per probe.
        """
        try:
            await self._ping()
        except _FAILURES as error:
            self._errors += 1
            self._circuit.failed()
            self._reachability(False, error)
            return False
        self._circuit.succeeded()
        self._reachability(True, None)
        return True

    async def close(self) -> None:
        """Close the connection pool when this cache created it."""
        if self._owns_client:
            await self._client.aclose()

    # -- commands, through the circuit breaker and the timeout -----------------
    # The I/O seams: the blocking form (`infrakit.cache.sync`) overrides these alone.

    async def _ping(self) -> None:
        async with asyncio.timeout(self.timeout):
            await self._client.ping()

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _command(
        self,
        operation: str,
        key: str,
        fallback: Any,
        function: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> Any:
        """Run one command: skipped while the circuit is open; a failure gives `fallback`."""
        circuit = self._circuit
        if circuit.state != "closed" and not circuit.allow():
            return self._skipped(operation, key, fallback)
        try:
            deadlines = self._deadlines
            if deadlines is None:
                result = await function(*args, **kw)
            else:
                result = await deadlines.run(function(*args, **kw))
        except _FAILURES as error:
            return self._failed(operation, key, error, fallback)
        circuit.succeeded()
        return result

    async def _get_with_ttl(self, keys: list[str]) -> list[Any]:
        replies: list[Any] = await self._pipelined(self._queue_get_with_ttl, keys)
        return replies

    async def _set_all(self, encoded: list[tuple[str, bytes]], milliseconds: int | None) -> bool:
        await self._pipelined(self._queue_set_all, encoded, milliseconds)
        return True

    async def _pipelined(self, queue: Callable[..., None], *args: Any) -> Any:
        """Queue commands with `queue(pipeline, *args)`, then send them in one round trip."""
        async with self._client.pipeline(transaction=False) as pipeline:
            queue(pipeline, *args)
            return await pipeline.execute()

    def _queue_get_with_ttl(self, pipeline: Any, keys: list[str]) -> None:
        for key in keys:
            pipeline.get(self.prefix + key)
            pipeline.pttl(self.prefix + key)

    def _queue_set_all(
        self, pipeline: Any, encoded: list[tuple[str, bytes]], milliseconds: int | None
    ) -> None:
        if encoded:  # the locks first: a fill storing after this is refused, one before overwritten
            pipeline.delete(*(self._lock_prefix + key for key, _ in encoded))
        for key, data in encoded:
            pipeline.set(self.prefix + key, data, px=milliseconds)

    async def _scan(
        self,
        act: Callable[[list[bytes]], Awaitable[object]] | None,
        skip: bytes | None,
        pattern: str | None = None,
    ) -> Any:
        """Walk the prefix's keys (or `pattern`'s) in batches: `act` on each, or count them."""
        counted, cursor, pattern = 0, 0, pattern or self._pattern(self.prefix)
        while True:
            cursor, names = await self._scan_page(cursor, pattern)
            if skip is not None:
                names = [name for name in names if not name.startswith(skip)]
            counted += len(names)
            if act is not None and names:
                await act(names)
            if cursor == 0:
                return True if act is not None else counted

    async def _scan_page(self, cursor: int, pattern: str) -> tuple[int, list[Any]]:
        reply: tuple[int, list[Any]] = await self._client.scan(cursor, match=pattern, count=500)
        return reply

    async def _unlink_batch(self, names: list[bytes]) -> None:
        await self._client.unlink(*names)

    # -- the cross-process lock of get_or_set -----------------------------------

    async def _locked(
        self,
        key: str,
        value_type: Any,
        compute: Callable[[_Fence], Awaitable[Any]],
        wait: float,
    ) -> Any:
        fence = _Fence(self._lock_prefix + key)
        lock_key, token = fence.lock_key, fence.token
        deadline = time.monotonic() + wait
        # A computation past its compute_timeout is abandoned (cancelled here, left to
        # finish on its thread in the blocking form): its lock must not outlive it.
        lifetime = self._milliseconds(wait)
        while True:
            acquired = await self._command(
                "lock", key, MISSING, self._client.set, lock_key, token, nx=True, px=lifetime
            )
            if acquired is MISSING:  # Redis is down: no lock; its fenced store fails too
                return await compute(fence)
            if acquired:
                break
            value = await self._wait_for_holder(key, lock_key, value_type, deadline)
            if value is not MISSING:
                return value
            if time.monotonic() >= deadline:
                # A slow holder: take its lock over. Its older result is refused from
                # now on; ours, computed later, is the one kept.
                await self._command(
                    "lock", key, None, self._client.set, lock_key, token, px=lifetime
                )
                break
            # the lock went without a value (its holder died, did not cache, or an
            # invalidation removed it): take it
        try:
            value = await self._fetch(key, value_type)
            return await compute(fence) if value is MISSING else value
        finally:
            if not fence.released:
                await self._command("unlock", key, None, self._release_lock, [lock_key], [token])

    async def _store_if_fenced(
        self, key: str, fence: _Fence, value: Any, ttl: float | None
    ) -> None:
        """A fill's store: refused (and counted) when an invalidation removed its lock."""
        data, milliseconds = self._encode(key, value), self._milliseconds(ttl)
        names = [self.prefix + key, fence.lock_key]
        args = [fence.token, data, milliseconds or ""]
        stored = await self._command("set", key, None, self._store_fenced, names, args)
        if stored is not None:
            fence.released = True  # stored and unlocked, or the lock is no longer ours
        if stored == 0:
            self._stale_fills += 1

    async def _fetch(self, key: str, value_type: Any) -> Any:
        """Read without counting: the re-check a lock holder does before computing."""
        data = await self._command("get", key, None, self._client.get, self.prefix + key)
        return MISSING if data is None else self._decode(key, data, value_type)

    async def _wait_for_holder(
        self, key: str, lock_key: str, value_type: Any, deadline: float
    ) -> Any:
        """Poll until the holder stored the value, the lock went, or `deadline` passed."""
        interval = 0.005
        while time.monotonic() < deadline:
            await self._pause(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, 0.1)
            names = [self.prefix + key, lock_key]
            replies = await self._command("lock", key, None, self._client.mget, names)
            if replies is None:
                return MISSING
            data, lock = replies
            if data is not None:
                self._flight.suppressed += 1
                return self._decode(key, data, value_type)
            if lock is None:
                return MISSING
        return MISSING

    # -- encoding, counting, failures -------------------------------------------

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
        """Decode a reply (None: absent or failed) and count it as a hit or a miss."""
        value = MISSING if data is None else self._decode(key, data, value_type)
        if value is MISSING:
            self._misses += 1
        else:
            self._hits += 1
        return value

    def _decode(self, key: str, data: bytes | str, value_type: Any) -> Any:
        try:
            return self.serializer.loads(
                data if isinstance(data, bytes) else data.encode(), value_type
            )
        except Exception as error:  # a stale shape or a foreign writer: treat as a miss
            self._get_logger().warning(
                "cached value does not decode; treated as a miss",
                operation="decode",
                key=key,
                error=type(error).__name__,
                backend="redis",
            )
            return MISSING

    def _milliseconds(self, ttl: float | None) -> int | None:
        ttl = check_ttl(ttl)
        ttl = self.default_ttl if ttl is None else ttl
        return None if ttl is None else max(1, round(ttl * 1000))

    def _pattern(self, prefix: str) -> str:
        """The `SCAN MATCH` pattern of the keys starting with `prefix`."""
        escaped = "".join("\\" + char if char in "*?[]\\" else char for char in prefix)
        return escaped + "*"

    def _skipped(self, operation: str, key: str, fallback: Any) -> Any:
        self._short_circuited += 1
        if self.raise_on_error:
            raise CacheError(
                f"cache {operation} skipped: the Redis circuit is open after repeated failures",
                code="CACHE_UNAVAILABLE",
                details={"operation": operation, "key": key, "circuit": self._circuit.state},
            )
        return fallback

    def _failed(self, operation: str, key: str, error: BaseException, fallback: Any) -> Any:
        """Count a server failure, log it while the circuit is closed, raise if asked."""
        self._errors += 1
        was_closed = self._circuit.state == "closed"
        self._circuit.failed()
        if self.raise_on_error:
            _raise(operation, key, error)
        if was_closed:
            self._get_logger().warning(
                "cache operation failed",
                operation=operation,
                key=key,
                error=type(error).__name__,
                backend="redis",
            )
        return fallback

    def _circuit_changed(self, previous: CircuitState, state: CircuitState) -> None:
        log = self._get_logger()
        message = {
            "open": "cache circuit opened: Redis calls are skipped for a while",
            "half_open": "cache circuit half-open: probing Redis",
            "closed": "cache circuit closed: Redis answers again",
        }[state]
        (log.info if state == "closed" else log.warning)(
            message, previous=previous, state=state, url=self.url, backend="redis"
        )

    def _reachability(self, reachable: bool, error: BaseException | None) -> None:
        if self._reachable is reachable:
            return
        first, self._reachable = self._reachable is None, reachable
        if reachable and not first:
            self._get_logger().info("cache health: Redis is reachable again", url=self.url)
        elif not reachable:
            self._get_logger().warning(
                "cache health: Redis is unreachable",
                url=self.url,
                error=type(error).__name__,
                circuit=self._circuit.state,
            )

    def _get_logger(self) -> Logger:
        if self._logger is None:
            self._logger = default_logger()
        return self._logger


def _required(value: float | None, field: str) -> float:
    if value is None:
        raise CacheError(
            f"{field} must be a number of seconds",
            code="CACHE_INVALID_TTL",
            details={"field": field},
        )
    return value


def _count(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CacheError(
            f"{field} must be an integer of at least 1",
            code="CACHE_INVALID_SIZE",
            details={"field": field},
        )
    return value


def _raise(operation: str, key: str, error: BaseException) -> NoReturn:
    raise CacheError(
        f"cache {operation} failed for key {key!r}: {mask_dsn(type(error).__name__)}",
        details={"operation": operation, "key": key},
    ) from error
