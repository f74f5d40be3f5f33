"""Two levels: a `MemoryCache` in each process in front of a shared `RedisCache`.

Reads try the process's own memory first. Writes and deletes go to Redis, then to
the local level, then are announced on a Redis pub/sub channel so every other
`TieredCache` on the same channel drops its local copy. Delivery is asynchronous
(usually well under a millisecond), so another process may read its old copy for
that long; when the subscription drops, the local level is cleared on reconnect
because announcements may have been missed. Only the public methods of the two
levels are used.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from infrakit.cache._compute import check_policy, default_logger
from infrakit.cache._memoize import MISSING
from infrakit.cache._protocol import Cache, CacheStats, TtlPolicy
from infrakit.cache._rules import DO_NOT_STORE, check_ttl, normalize_key, skips_storing
from infrakit.cache._serializer import JsonSerializer
from infrakit.cache.memory import MemoryCache
from infrakit.cache.redis import RedisCache

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["TieredCache"]

T = TypeVar("T")
D = TypeVar("D")

_ADAPTER = JsonSerializer()
_ALL = object()  # an announcement that drops every local copy (`clear()`)


class TieredCache(Cache):
    """L1 in process, L2 in Redis, with cross-process invalidation of L1 copies.

    Args:
        memory: the local level; its `default_ttl` caps how long a copy lives.
        redis: the shared level; closed by `close()` (it closes its client if it owns it).
        channel: the pub/sub channel; by default `<redis prefix>__invalidate__`,
            so caches sharing a prefix share invalidations.
        logger: where the listener reports; defaults to `get_logger("infrakit.cache")`.

    The listener survives anything: a malformed announcement (any JSON shape,
    non-UTF-8 bytes) is ignored, counted in `get_stats().invalid_messages` and logged
    once; a listener that stops (connection killed, any exception) is restarted with
    backoff (0.5 s doubling to 10 s), counted in `listener_restarts`.
    """

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
        self.channel = channel if channel is not None else f"{redis.prefix}__invalidate__"
        self._logger = logger
        self._sender = secrets.token_hex(8)
        self._listener: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()  # set once subscribing worked or failed
        self._invalid_messages = 0
        self._listener_restarts = 0

    def __repr__(self) -> str:
        return f"TieredCache({self.memory!r}, {self.redis!r})"

    @property
    def url(self) -> str | None:
        """The Redis level's URL, masked."""
        return self.redis.url

    @overload
    async def get(self, key: str) -> Any: ...
    @overload
    async def get(self, key: str, *, type: type[T]) -> T | None: ...
    @overload
    async def get(self, key: str, *, type: type[T], default: D) -> T | D: ...
    @overload
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any: ...
    async def get(self, key: str, *, type: Any = None, default: Any = None) -> Any:
        """Local copy first, then Redis (keeping a local copy for at most its Redis TTL)."""
        await self._ensure_started()
        key = normalize_key(key)
        value = await self.memory.get(key, default=MISSING)
        if value is not MISSING:
            return _as_type(value, type)
        found = await self.redis.get_multiple_with_ttl([key], type=type)
        if key not in found:
            return default
        value, remaining = found[key]
        await self.memory.set(key, value, self._local_ttl(remaining))
        return value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        await self._ensure_started()
        key, ttl = normalize_key(key), check_ttl(ttl)
        stored = await self.redis.set(key, value, ttl)
        await self.memory.set(key, value, self._local_ttl(ttl or self.redis.default_ttl))
        await self._announce([key])
        return stored

    async def delete(self, key: str) -> bool:
        key = normalize_key(key)
        removed = await self.redis.delete(key)
        local = await self.memory.delete(key)
        await self._announce([key])
        return removed or local

    async def exists(self, key: str) -> bool:
        return await self.memory.exists(key) or await self.redis.exists(key)

    @overload
    async def get_multiple(self, keys: Iterable[str]) -> dict[str, Any]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: type[T]) -> dict[str, T]: ...
    @overload
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]: ...
    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        await self._ensure_started()
        wanted = {key: normalize_key(key) for key in keys}
        local = await self.memory.get_multiple(wanted.values())
        missing = [stored for stored in wanted.values() if stored not in local]
        remote = await self.redis.get_multiple_with_ttl(missing, type=type) if missing else {}
        for stored, (value, remaining) in remote.items():
            await self.memory.set(stored, value, self._local_ttl(remaining))
            local[stored] = value
        return {
            key: _as_type(local[stored], type) for key, stored in wanted.items() if stored in local
        }

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        await self._ensure_started()
        ttl = check_ttl(ttl)
        stored = await self.redis.set_multiple(entries, ttl)
        await self.memory.set_multiple(entries, self._local_ttl(ttl or self.redis.default_ttl))
        await self._announce([normalize_key(key) for key in entries])
        return stored

    async def delete_multiple(self, keys: Iterable[str]) -> bool:
        wanted = [normalize_key(key) for key in keys]
        removed = await self.redis.delete_multiple(wanted)
        local = await self.memory.delete_multiple(wanted)
        await self._announce(wanted)
        return removed or local

    async def clear(self) -> bool:
        cleared = await self.redis.clear()
        await self.memory.clear()
        await self._announce(None)
        return cleared

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
        """Local copy, else the Redis level's `get_or_set` (locked across processes).

        A value computed here is also kept locally, for the TTL it was stored with. The
        Redis call runs as the memory level's own fill, so an invalidation arriving
        meanwhile (a local write, another process's announcement) keeps the local copy
        out, as it keeps the Redis one out (see "Invalidation during a fill").
        """
        await self._ensure_started()
        key = normalize_key(key)
        chosen: list[float | None] = []
        policy = self._recording(check_policy(ttl), chosen)

        async def remote() -> Any:
            return await self.redis.get_or_set(
                key,
                compute,
                ttl=policy,
                type=type,
                cache_none=cache_none,
                compute_timeout=compute_timeout,
            )

        def local_ttl(result: Any, elapsed: float) -> float | None:
            if not chosen:  # found in Redis, or not stored there: no local copy
                return DO_NOT_STORE
            return self._local_ttl(chosen[0] or self.redis.default_ttl)

        result = await self.memory.get_or_set(key, remote, ttl=local_ttl, cache_none=True)
        if chosen:  # computed in this process and stored in Redis
            await self._announce([key])
        return _as_type(result, type)  # type: ignore[no-any-return]

    def get_stats(self) -> CacheStats:
        """Hits of either level, misses of both; `size` is the local level's entries."""
        local, remote = self.memory.get_stats(), self.redis.get_stats()
        return CacheStats.of(
            local.hits + remote.hits,
            remote.misses,
            local.size,
            local.stampedes_suppressed + remote.stampedes_suppressed,
            errors=remote.errors,
            short_circuited=remote.short_circuited,
            circuit=remote.circuit,
            compute_timeouts=remote.compute_timeouts,
            invalid_messages=self._invalid_messages,
            listener_restarts=self._listener_restarts,
            stale_fills_discarded=local.stale_fills_discarded + remote.stale_fills_discarded,
        )

    async def count(self) -> int:
        """The shared level's key count (`RedisCache.count()`: a `SCAN`)."""
        return await self.redis.count()

    async def health(self) -> bool:
        return await self.redis.health()

    async def start(self, wait_seconds: float = 5.0) -> None:
        """Subscribe to invalidations; done on first use, call it to be sure earlier.

        Waits until the first attempt to subscribe worked or failed (Redis is down),
        at most `wait_seconds`; the listener keeps retrying in the background.
        """
        if self._listener is None or self._listener.done():
            if self._listener is not None:
                self._listener_restarts += 1  # it ended: only cancellation should end it
            self._listener = asyncio.create_task(self._listen(), name=f"cache:{self.channel}")
        try:
            async with asyncio.timeout(wait_seconds):
                await self._first_attempt.wait()
        except TimeoutError:
            self._get_logger().warning(
                "cache invalidation subscription not confirmed yet", channel=self.channel
            )

    async def _ensure_started(self) -> None:
        listener = self._listener
        if listener is None or listener.done():
            await self.start()

    async def close(self) -> None:
        """Stop listening (bounded) and close both levels."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.wait({listener}, timeout=5.0)
        await self.memory.close()
        await self.redis.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    # -- invalidation -----------------------------------------------------------

    def _local_ttl(self, ttl: float | None) -> float | None:
        """The TTL a local copy may live: never longer than the memory level's default."""
        ceiling = self.memory.default_ttl
        if ttl is None:
            return ceiling
        return ttl if ceiling is None else min(ttl, ceiling)

    def _recording(self, ttl: TtlPolicy, chosen: list[float | None]) -> TtlPolicy:
        """`ttl`, noting what was used when a value is computed here (for the local copy)."""

        def policy(result: Any, elapsed: float) -> float | None:
            seconds = ttl(result, elapsed) if callable(ttl) else ttl
            if not skips_storing(seconds):
                chosen.append(_valid_or_none(seconds))
            return seconds

        return policy

    async def _announce(self, keys: list[str] | None) -> None:
        await self.redis.publish(self.channel, json.dumps({"sender": self._sender, "keys": keys}))

    async def _listen(self) -> None:
        """Subscribe and apply announcements for ever; restart with backoff on any stop."""
        pause, clear_first = 0.5, False
        while True:
            try:
                if await self._listen_once(clear_first):
                    pause = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the listener must not die: log, back off, retry
                self._listener_failed(error, pause)
            clear_first = True  # announcements may have been missed meanwhile
            self._restarting()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)

    def _listener_failed(self, error: Exception, pause: float) -> None:
        self._get_logger().warning(
            "cache invalidation listener stopped; restarting",
            channel=self.channel,
            error=type(error).__name__,
            retry_in=pause,
        )

    def _restarting(self) -> None:
        self._listener_restarts += 1
        self._first_attempt.set()

    async def _listen_once(self, clear_first: bool) -> bool:
        """One subscription until it ends; True when it was established."""
        pubsub = self.redis.client.pubsub()
        try:
            async with asyncio.timeout(self.redis.timeout or 5.0):
                await pubsub.subscribe(self.channel)
                await pubsub.get_message(timeout=5.0)  # the subscribe confirmation
            if clear_first:
                await self.memory.clear()
            self._first_attempt.set()
            async for message in pubsub.listen():
                await self._apply(message)
            return True
        finally:
            try:
                async with asyncio.timeout(1.0):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            except Exception:  # closing a dead connection: nothing left to release
                pass

    async def _apply(self, message: Any) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "subscribe":
            # redis-py re-subscribed by itself after a dropped connection: whatever was
            # announced in between is lost, so no local copy can be trusted.
            await self.memory.clear()
            return
        if kind != "message":
            return
        try:
            keys = self._keys_of(message.get("data"))
            if keys is _ALL:
                await self.memory.clear()
            elif keys:
                await self.memory.delete_multiple(keys)  # type: ignore[arg-type]
        except Exception as error:
            self._invalid(error)

    def _keys_of(self, data: Any) -> object:
        """The keys an announcement drops (`_ALL`, or a list; empty for our own)."""
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        body = json.loads(text)
        if not isinstance(body, dict) or not isinstance(body.get("sender"), str):
            raise ValueError("an announcement is an object with a string sender")
        keys = body.get("keys", MISSING)
        if keys is None:
            return [] if body["sender"] == self._sender else _ALL
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise ValueError("announced keys are a list of strings or null")
        return [] if body["sender"] == self._sender else [normalize_key(key) for key in keys]

    def _invalid(self, error: Exception) -> None:
        self._invalid_messages += 1
        if self._invalid_messages == 1:  # logged once; the counter tells the rest
            self._get_logger().warning(
                "cache invalidation message ignored: malformed (further ones are only counted)",
                channel=self.channel,
                error=type(error).__name__,
            )

    def _get_logger(self) -> Logger:
        if self._logger is None:
            self._logger = default_logger()
        return self._logger


def _valid_or_none(seconds: Any) -> float | None:
    """What the Redis level stored with: the TTL, or its default when the TTL was bad."""
    try:
        return check_ttl(seconds)
    except Exception:
        return None


def _as_type(value: Any, value_type: Any) -> Any:
    """A local copy stored untyped (read from Redis without `type`) rebuilt on demand."""
    if isinstance(value_type, builtins.type) and not isinstance(value, value_type):
        return _ADAPTER.loads(_ADAPTER.dumps(value), value_type)
    return value
