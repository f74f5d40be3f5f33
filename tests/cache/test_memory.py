"""MemoryCache specifics: the LRU bound, stored objects, options."""

from __future__ import annotations

import asyncio

import pytest

from infrakit.cache import Cache, CacheError, MemoryCache, memoize


async def test_least_recently_used_entries_are_evicted() -> None:
    cache = MemoryCache(max_size=3)
    await cache.set_multiple({"a": 1, "b": 2, "c": 3})
    await cache.get("a")
    await cache.set("d", 4)
    assert await cache.get_multiple(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}
    assert (await cache.get_stats()).size == 3


async def test_default_ttl_and_forever() -> None:
    cache = MemoryCache(default_ttl=0.2)
    forever = MemoryCache(default_ttl=None)
    await cache.set("k", 1)
    await forever.set("k", 1)
    await asyncio.sleep(0.3)
    assert await cache.get("k") is None
    assert await forever.get("k") == 1


async def test_values_are_stored_as_objects() -> None:
    cache = MemoryCache()
    value = {"list": [1]}
    await cache.set("k", value)
    assert await cache.get("k") is value


def test_bad_options_are_refused() -> None:
    with pytest.raises(CacheError):
        MemoryCache(max_size=0)
    with pytest.raises(CacheError):
        MemoryCache(default_ttl=-1)


async def test_module_level_memoize_and_protocol() -> None:
    cache = MemoryCache()
    assert isinstance(cache, Cache)
    calls = []

    @memoize(cache=cache, ttl=10)
    async def double(value: int) -> int:
        calls.append(value)
        return value * 2

    async def triple(value: int) -> int:
        return value * 3

    cached_triple = memoize(triple, cache=cache)
    assert [await double(2), await double(2), await cached_triple(2)] == [4, 4, 6]
    assert calls == [2]
    assert double.__name__ == "double"  # type: ignore[attr-defined]


async def test_async_context_manager_closes() -> None:
    async with MemoryCache() as cache:
        await cache.set("k", 1)
        assert await cache.get("k") == 1


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    cache = MemoryCache()
    calls = []

    @cache.memoize
    async def slow() -> str:
        calls.append(1)
        await asyncio.sleep(0.1)
        return "done"

    first = asyncio.create_task(slow())
    second = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == "done"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await slow() == "done"
    assert calls == [1]


async def test_expired_entries_are_dropped_without_a_timer_per_key() -> None:
    cache = MemoryCache(max_size=5_000)
    tasks_before = len(asyncio.all_tasks())
    await cache.set_multiple({f"key{index}": index for index in range(2_000)}, ttl=0.1)
    await cache.set("kept", "yes", ttl=30)
    assert len(asyncio.all_tasks()) == tasks_before  # nothing scheduled per entry
    assert (await cache.get_stats()).size == 2_001
    await asyncio.sleep(0.2)
    await cache.set("trigger", 1)  # a write sweeps what has expired
    assert len(cache._data) == 2  # the expired entries are gone, not merely hidden
    assert await cache.get_multiple(["kept", "key7"]) == {"kept": "yes"}


def test_the_free_memoize_needs_an_infrakit_cache() -> None:
    async def double(value: int) -> int:
        return value * 2

    with pytest.raises(TypeError, match="infrakit cache"):
        memoize(double, cache=object())  # type: ignore[arg-type]
