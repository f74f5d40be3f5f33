"""Two levels: a `MemoryCache` in each process in front of a shared `RedisCache`.

Reads try the process's own memory first. Writes and deletes go to Redis, then to
the local level, then are announced on a Redis pub/sub channel so every other
`TieredCache` on the same channel drops its local copy. Delivery is asynchronous
(usually well under a millisecond), so another process may read its old copy for
that long; when the subscription drops, the local level is cleared on reconnect
because announcements may have been missed.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Self

from infrakit.cache._keys import normalize_key
from infrakit.cache._memoize import MISSING
from infrakit.cache._protocol import Cache, CacheStats
from infrakit.cache._serializer import JsonSerializer
from infrakit.cache._single_flight import SingleFlight
from infrakit.cache.memory import MemoryCache
from infrakit.cache.redis import _FAILURES, RedisCache

__all__ = ["TieredCache"]

_ADAPTER = JsonSerializer()


class TieredCache(Cache):
    """L1 in process, L2 in Redis, with cross-process invalidation of L1 copies.

    Args:
        memory: the local level; its `default_ttl` caps how long a copy lives.
        redis: the shared level; closed by `close()` only if it owns its client.
        channel: the pub/sub channel; by default `<redis prefix>__invalidate__`,
            so caches sharing a prefix share invalidations.

    Failures (an outage, a lost subscription) are logged by the Redis level's logger.
    """

    def __init__(
        self,
        memory: MemoryCache,
        redis: RedisCache,
        *,
        channel: str | None = None,
    ) -> None:
        self.memory = memory
        self.redis = redis
        self.channel = channel if channel is not None else f"{redis.prefix}__invalidate__"
        self._sender = secrets.token_hex(8)
        self._listener: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()  # set once subscribing worked or failed
        self._flight = SingleFlight()

    def __repr__(self) -> str:
        return f"TieredCache({self.memory!r}, {self.redis!r})"

    async def get(self, key: str, *, type: Any = None) -> Any:
        """Local copy first, then Redis (keeping a local copy for at most its Redis TTL)."""
        value = await self._lookup(normalize_key(key), type)
        return None if value is MISSING else value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        await self._ensure_started()
        key = normalize_key(key)
        stored = await self.redis.set(key, value, ttl)
        self.memory._put(key, value, self.memory._remaining_ttl_cap(ttl or self.redis.default_ttl))
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

    async def get_multiple(self, keys: Iterable[str], *, type: Any = None) -> dict[str, Any]:
        await self._ensure_started()
        wanted = {key: normalize_key(key) for key in keys}
        local = await self.memory.get_multiple(wanted.values(), type=type)
        missing = [stored for stored in wanted.values() if stored not in local]
        remote = await self.redis._lookup_with_ttl(missing, type) if missing else {}
        for stored, (value, remaining) in remote.items():
            self.memory._put(stored, value, self.memory._remaining_ttl_cap(remaining))
            local[stored] = value
        return {
            key: _as_type(local[stored], type) for key, stored in wanted.items() if stored in local
        }

    async def set_multiple(self, entries: Mapping[str, Any], ttl: float | None = None) -> bool:
        await self._ensure_started()
        stored = await self.redis.set_multiple(entries, ttl)
        await self.memory.set_multiple(
            entries, self.memory._remaining_ttl_cap(ttl or self.redis.default_ttl)
        )
        await self._announce([normalize_key(key) for key in entries])
        return stored

    async def delete_multiple(self, keys: Iterable[str]) -> bool:
        wanted = list(keys)
        removed = await self.redis.delete_multiple(wanted)
        local = await self.memory.delete_multiple(wanted)
        await self._announce([normalize_key(key) for key in wanted])
        return removed or local

    async def clear(self) -> bool:
        cleared = await self.redis.clear()
        await self.memory.clear()
        await self._announce(None)
        return cleared

    async def get_stats(self) -> CacheStats:
        """Hits of either level, misses of both; `size` is the shared (Redis) size."""
        local, remote = await self.memory.get_stats(), await self.redis.get_stats()
        suppressed = self._flight.suppressed + remote.stampedes_suppressed
        return CacheStats.of(local.hits + remote.hits, remote.misses, remote.size, suppressed)

    async def health(self) -> bool:
        return await self.redis.health()

    async def start(self, wait_seconds: float = 5.0) -> None:
        """Subscribe to invalidations; done on first use, call it to be sure earlier.

        Waits until the first attempt to subscribe worked or failed (Redis is down),
        at most `wait_seconds`; the listener keeps retrying in the background.
        """
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name=f"cache:{self.channel}")
        try:
            await asyncio.wait_for(self._first_attempt.wait(), wait_seconds)
        except TimeoutError:
            self.redis._failed("subscribe", self.channel, TimeoutError(), None, raising=False)

    async def _ensure_started(self) -> None:
        if self._listener is None:
            await self.start()

    async def close(self) -> None:
        """Stop listening and close the Redis level."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        await self.memory.close()
        await self.redis.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    # -- the private half used by memoize ---------------------------------------

    async def _lookup(self, key: str, value_type: Any) -> Any:
        if self._listener is None:
            await self._ensure_started()
        value = await self.memory._lookup(key, value_type)
        if value is not MISSING:
            return _as_type(value, value_type)
        found = await self.redis._lookup_with_ttl([key], value_type)
        if key not in found:
            return MISSING
        value, remaining = found[key]
        self.memory._put(key, value, self.memory._remaining_ttl_cap(remaining))
        return value

    async def _store(self, key: str, value: Any, ttl: float | None) -> None:
        await self.set(key, value, ttl)

    async def _load_or_compute(
        self, key: str, value_type: Any, compute: Callable[[], Awaitable[Any]]
    ) -> Any:
        return await self.redis._load_or_compute(key, value_type, compute)

    async def _announce(self, keys: list[str] | None) -> None:
        message = json.dumps({"sender": self._sender, "keys": keys})
        try:
            await self.redis.client.publish(self.channel, message)
        except _FAILURES as error:
            self.redis._failed("publish", "*", error, None)

    async def _listen(self) -> None:
        clear_on_subscribe, pause = False, 0.5
        while True:
            try:
                async with self.redis.client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    await pubsub.get_message(timeout=5.0)  # the subscribe confirmation
                    if clear_on_subscribe:
                        await self.memory.clear()  # announcements may have been missed
                    clear_on_subscribe, pause = True, 0.5
                    self._first_attempt.set()
                    async for message in pubsub.listen():
                        self._apply(message)
            except _FAILURES as error:
                self.redis._failed("subscribe", self.channel, error, None, raising=False)
                clear_on_subscribe = True
                self._first_attempt.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)  # one warning per retry: fewer during an outage

    def _apply(self, message: dict[str, Any]) -> None:
        if message.get("type") == "subscribe":
            # redis-py re-subscribed by itself after a dropped connection: whatever was
            # announced in between is lost, so no local copy can be trusted.
            self.memory._data.clear()
            return
        if message.get("type") != "message":
            return
        try:
            body = json.loads(message["data"])
        except (ValueError, TypeError):
            return
        if body.get("sender") == self._sender:
            return
        keys = body.get("keys")
        data = self.memory._data
        if keys is None:
            data.clear()
            return
        for key in keys:
            data.pop(key, None)


def _as_type(value: Any, value_type: Any) -> Any:
    """A local copy stored untyped (read from Redis without `type`) rebuilt on demand."""
    if isinstance(value_type, builtins.type) and not isinstance(value, value_type):
        return _ADAPTER.loads(_ADAPTER.dumps(value), value_type)
    return value
