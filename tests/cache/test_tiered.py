"""TieredCache: local copies, and their invalidation across instances and processes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from infrakit.cache import MemoryCache, TieredCache
from tests.cache.conftest import (
    CLOSED_PORT_URL,
    dispose,
    eventually,
    kill_connections,
    make_redis,
    make_tiered,
    unique_prefix,
)
from tests.recording import RecordingLogger

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]


class Item(BaseModel):
    sku: str


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[Any, Any]]:
    prefix = unique_prefix()
    first, second = make_tiered(redis_url, prefix), make_tiered(redis_url, prefix)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await dispose(first)
        await second.close()


async def test_reads_are_served_locally_once_copied(pair: tuple[Any, Any]) -> None:
    first, second = pair
    await first.set("key", "value")
    assert await second.get("key") == "value"  # copied from Redis
    assert await second.get("key") == "value"
    stats, local = second.get_stats(), second.memory.get_stats()
    assert (stats.hits, stats.misses, local.hits, local.misses) == (2, 0, 1, 1)


async def test_writes_elsewhere_drop_local_copies(pair: tuple[Any, Any]) -> None:
    first, second = pair
    await first.set("key", 1)
    assert await second.get("key") == 1
    await first.set("key", 2)
    await eventually(lambda: _equals(second, "key", 2))
    await first.set_multiple({"key": 3, "other": 4})
    await eventually(lambda: _equals(second, "key", 3))
    await first.delete("key")
    await eventually(lambda: _equals(second, "key", None))
    assert await second.get("other") == 4
    await first.clear()
    await eventually(lambda: _equals(second, "other", None))


async def test_own_writes_keep_the_local_copy(pair: tuple[Any, Any]) -> None:
    first, second = pair
    await first.set("mine", "kept")
    await first.set("marker", 1)
    assert await second.get("marker") == 1
    await first.set("marker", 2)  # once the second sees this, the first saw its own too
    await eventually(lambda: _equals(second, "marker", 2))
    await eventually(lambda: _equals(first.memory, "marker", 2))
    assert await first.memory.get("mine") == "kept"


async def test_local_copies_are_rebuilt_as_the_named_type(pair: tuple[Any, Any]) -> None:
    first, second = pair
    await first.set("item", Item(sku="a-1"))
    assert await second.get("item") == {"sku": "a-1"}
    assert await second.get("item", type=Item) == Item(sku="a-1")
    assert await second.get_multiple(["item"], type=Item) == {"item": Item(sku="a-1")}


async def test_a_local_copy_never_outlives_the_redis_entry(pair: tuple[Any, Any]) -> None:
    first, second = pair
    await first.set_multiple({"short": 1, "batch": 2}, ttl=0.3)
    assert await second.get("short") == 1
    assert await second.get_multiple(["batch"]) == {"batch": 2}

    async def local_copies_gone() -> bool:
        return await second.memory.get_multiple(["short", "batch"]) == {}

    await eventually(local_copies_gone)
    assert await second.get("short") is None
    assert await second.get_multiple(["batch"]) == {}


async def _equals(cache: Any, key: str, expected: Any) -> bool:
    return bool(await cache.get(key) == expected)


READER = """
import asyncio, sys
from infrakit.cache import MemoryCache, RedisCache, TieredCache

async def main(url, prefix):
    cache = TieredCache(MemoryCache(), RedisCache(url, prefix=prefix))
    async with cache:
        print(await cache.get("shared"), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for _ in range(300):
            if await cache.memory.get("shared") is None:
                print("dropped", flush=True)
                return
            await asyncio.sleep(0.01)
        print("stale", flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
async def test_a_write_drops_the_copy_held_by_another_process(redis_url: str) -> None:
    cache = make_tiered(redis_url, unique_prefix())
    try:
        await cache.set("shared", "v1")
        reader = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            READER,
            redis_url,
            cache.redis.prefix,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert reader.stdout is not None
        assert reader.stdin is not None
        assert (await asyncio.wait_for(reader.stdout.readline(), 30)).strip() == b"v1"
        await cache.set("shared", "v2")
        reader.stdin.write(b"go\n")
        stdout, _ = await asyncio.wait_for(reader.communicate(), 30)
        assert stdout.decode().strip() == "dropped"
    finally:
        await dispose(cache)


async def test_invalidation_survives_a_killed_connection(
    redis_url: str, pair: tuple[Any, Any]
) -> None:
    import redis.asyncio

    first, second = pair
    await first.set("key", 1)
    assert await second.get("key") == 1
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await kill_connections(admin) >= 2
    finally:
        await admin.aclose()
    await first.set("key", 2)
    await eventually(lambda: _equals(second, "key", 2), within=5)
    await first.set("key", 3)
    await eventually(lambda: _equals(second, "key", 3), within=5)


async def test_an_idle_subscription_outlives_the_command_timeout(redis_url: str) -> None:
    prefix = unique_prefix()
    first = make_tiered(redis_url, prefix, timeout=0.2)
    second = make_tiered(redis_url, prefix, timeout=0.2)
    try:
        await first.start()
        await second.start()
        await first.set("key", "kept")
        assert await second.get("key") == "kept"
        await asyncio.sleep(0.7)  # the idle time under test: longer than the command timeout
        assert await second.memory.get("key") == "kept"  # no reconnect cleared the copy
        assert second.get_stats().listener_restarts == 0
        await first.set("key", "new")
        await eventually(lambda: _equals(second, "key", "new"))
    finally:
        await dispose(first)
        await second.close()


async def test_an_outage_gives_misses_and_local_copies() -> None:
    logger = RecordingLogger()
    cache = TieredCache(
        MemoryCache(default_ttl=60),
        make_redis(CLOSED_PORT_URL, unique_prefix(), logger=logger, retries=0),
        logger=logger,
    )
    try:
        async with asyncio.timeout(2):  # the first call does not wait for a subscription
            assert await cache.get("key") is None
        assert await cache.set("key", 1) is False  # not shared, but kept in this process
        assert await cache.get("key") == 1
        calls: list[int] = []

        @cache.memoize(key_fn=lambda: "computed")
        async def compute() -> int:
            calls.append(1)
            return 7

        assert [await compute(), await compute()] == [7, 7]
        assert calls == [1]
        operations = {record.metadata.get("operation") for record in logger.records}
        assert {"get", "set", "publish"} <= operations
        assert "cache invalidation listener stopped; restarting" in logger.messages("warning")
    finally:
        await cache.close()


GARBAGE: list[bytes | str] = [
    b"\xff\xfe\xfa",  # not UTF-8
    "not json",
    "[]",
    "null",
    "42",
    '"a string"',
    "{}",
    '{"sender": 1, "keys": ["key"]}',
    '{"sender": "x", "keys": "key"}',
    '{"sender": "x", "keys": [1, 2]}',
    '{"sender": "x", "keys": {"key": 1}}',
    '{"sender": "x", "keys": ["\\ud800"]}',  # a lone surrogate once decoded
    "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser recurses
    '{"sender": "x", "keys": [' + '"k", ' * 10 + "}",  # truncated
]


@pytest.fixture
async def logged_pair(redis_url: str) -> AsyncIterator[tuple[Any, Any, RecordingLogger]]:
    prefix, logger = unique_prefix(), RecordingLogger()
    first = make_tiered(redis_url, prefix)
    second = make_tiered(redis_url, prefix, logger=logger)
    await first.start()
    await second.start()
    try:
        yield first, second, logger
    finally:
        await dispose(first)
        await second.close()


async def test_garbage_on_the_channel_is_ignored_counted_and_logged_once(
    logged_pair: tuple[Any, Any, RecordingLogger],
) -> None:
    first, second, logger = logged_pair
    await first.set_multiple({"key": 1, "other": "kept"})
    assert await second.get_multiple(["key", "other"]) == {"key": 1, "other": "kept"}
    for payload in GARBAGE:
        await first.redis.client.publish(first.channel, payload)

    async def all_counted() -> bool:
        return bool(second.get_stats().invalid_messages == len(GARBAGE))

    await eventually(all_counted)
    assert await second.memory.get("other") == "kept"  # garbage dropped nothing
    await first.set("key", 2)  # and the listener still applies real announcements
    await eventually(lambda: _equals(second, "key", 2))
    warnings = logger.messages("warning")
    assert len([message for message in warnings if "malformed" in message]) == 1
    assert second.get_stats().listener_restarts == 0


async def test_a_killed_listener_connection_recovers(
    redis_url: str, logged_pair: tuple[Any, Any, RecordingLogger]
) -> None:
    import redis.asyncio

    first, second, _ = logged_pair
    await first.set_multiple({"key": 1, "other": 2})
    assert await second.get_multiple(["key", "other"]) == {"key": 1, "other": 2}
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await kill_connections(admin, subscribers_only=True) == 2
    finally:
        await admin.aclose()

    async def local_level_cleared() -> bool:  # it resubscribed, so it dropped its copies
        return await second.memory.get("other") is None

    await eventually(local_level_cleared)
    await first.set("key", 3)
    await eventually(lambda: _equals(second, "key", 3))


async def test_a_listener_that_ended_is_restarted_on_next_use(
    logged_pair: tuple[Any, Any, RecordingLogger],
) -> None:
    first, second, _ = logged_pair
    second._listener.cancel()  # stopped from outside: the worst a listener can meet
    await asyncio.gather(second._listener, return_exceptions=True)
    assert await second.get("missing") is None  # next use starts it again
    assert second.get_stats().listener_restarts == 1
    await first.set("key", 1)
    assert await second.get("key") == 1
    await first.set("key", 2)
    await eventually(lambda: _equals(second, "key", 2))


class Held:
    """A `compute` held by an event until released (the race is forced, not timed)."""

    def __init__(self, value: Any) -> None:
        self.value, self.started, self.release = value, asyncio.Event(), asyncio.Event()

    async def __call__(self) -> Any:
        self.started.set()
        await self.release.wait()
        return self.value


async def test_an_announcement_during_a_fill_keeps_the_local_copy_out(
    pair: tuple[Any, Any],
) -> None:
    first, second = pair
    held = Held("old")
    filling = asyncio.create_task(first.get_or_set("k", held, ttl=30))
    await held.started.wait()
    await second.delete("k")  # another instance: reaches the first by its announcement

    async def announced() -> bool:  # the first's listener has marked its fill stale
        return "k" not in first.memory._fills.tickets

    await eventually(announced)
    held.release.set()
    assert await filling == "old"
    assert await first.memory.get("k") is None  # no local copy of the older value
    assert await first.get("k") is None  # nor a Redis one (its lock was removed)
    stats = first.get_stats()
    assert (stats.stale_fills_discarded, first.memory.get_stats().stale_fills_discarded) == (2, 1)


async def test_a_local_write_during_a_fill_keeps_the_older_local_copy_out(
    pair: tuple[Any, Any],
) -> None:
    first, second = pair
    held = Held("old")
    filling = asyncio.create_task(first.get_or_set("k", held, ttl=30))
    await held.started.wait()
    await first.set("k", "new", ttl=30)
    held.release.set()
    assert await filling == "old"
    assert await first.memory.get("k") == "new"
    assert await second.get("k") == "new"
