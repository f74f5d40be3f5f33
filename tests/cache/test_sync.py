"""What only the blocking form has to show: threads, sharing with the async form, its listener."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infrakit.cache import MemoryCache as AsyncMemoryCache
from infrakit.cache import sync
from tests.cache.conftest import CLIENT_NAME, make_redis, make_tiered, unique_prefix

BOUND = 5.0  # seconds any wait below may take before the test fails


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_memory_cache_from_many_threads_keeps_every_write() -> None:
    cache = sync.MemoryCache(max_size=10_000)

    def work(thread: int) -> None:
        for index in range(200):
            cache.set(f"{thread}:{index}", index)
            assert cache.get(f"{thread}:{index}") == index

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    assert cache.count() == 1600
    stats = cache.get_stats()
    assert (stats.hits, stats.misses, stats.size) == (1600, 0, 1600)


def test_memoize_runs_a_cold_function_once_for_threads_at_once() -> None:
    cache = sync.MemoryCache()
    arrived, release = threading.Barrier(20), threading.Event()
    calls: list[int] = []

    @cache.memoize(ttl=30)
    def slow(value: int) -> int:
        calls.append(value)
        assert release.wait(BOUND)
        return value + 1

    def call() -> int:
        arrived.wait(BOUND)
        return slow(41)

    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(call) for _ in range(20)]
        wait_until(lambda: cache.get_stats().stampedes_suppressed == 19)
        release.set()
        assert [future.result(BOUND) for future in futures] == [42] * 20
    assert calls == [41]
    assert slow.key_for(41)
    assert slow.invalidate(41) is True


def test_memoize_refuses_a_coroutine_function() -> None:
    async def compute() -> int:
        return 1

    with pytest.raises(TypeError, match="plain functions"):
        sync.memoize(compute, cache=sync.MemoryCache())


def test_a_driven_call_that_would_wait_for_a_loop_is_an_error() -> None:
    from infrakit.cache._blocking import drive

    async def suspends() -> None:
        await asyncio.sleep(0)

    with pytest.raises(sync.CacheError, match="event loop"):
        drive(suspends())


@pytest.mark.redis
async def test_async_and_blocking_redis_caches_share_entries(redis_url: str) -> None:
    prefix = unique_prefix()
    async_cache = make_redis(redis_url, prefix)
    blocking = sync.RedisCache(redis_url, prefix=prefix, client_name=CLIENT_NAME)
    try:
        await async_cache.set("shared", {"from": "async"})
        assert blocking.get("shared") == {"from": "async"}
        blocking.set("other", [1, 2])
        assert await async_cache.get("other") == [1, 2]
        assert blocking.count() == 2
        assert "***" in repr(sync.RedisCache("redis://:s3cr3t@127.0.0.1:6379/0"))
    finally:
        blocking.clear()
        blocking.close()
        await async_cache.close()


@pytest.mark.redis
def test_an_unreachable_server_gives_misses_and_opens_the_circuit() -> None:
    cache = sync.RedisCache("redis://127.0.0.1:1/0", retries=0, timeout=0.5)
    for _ in range(3):
        assert cache.get("key") is None
        assert cache.set("key", 1) is False
    assert cache.circuit == "open"
    assert cache.get_stats().errors == 3
    assert cache.health() is False
    cache.close()


@pytest.mark.redis
async def test_blocking_tiered_caches_invalidate_each_other_and_async_ones(
    redis_url: str,
) -> None:
    prefix = unique_prefix()

    def blocking_tiered() -> Any:
        redis = sync.RedisCache(redis_url, prefix=prefix, client_name=CLIENT_NAME)
        return sync.TieredCache(sync.MemoryCache(default_ttl=60), redis)

    first, second = blocking_tiered(), blocking_tiered()
    async_tiered = make_tiered(redis_url, prefix)
    try:
        first.start()
        second.start()
        await async_tiered.start()
        first.set("k", 1)
        assert second.get("k") == 1
        assert await async_tiered.get("k") == 1
        first.set("k", 2)
        wait_until(lambda: second.memory.get("k") is None)
        assert second.get("k") == 2
        await async_tiered.set("k", 3)
        wait_until(lambda: first.memory.get("k") is None and second.memory.get("k") is None)
        assert first.get("k") == 3
        await asyncio.to_thread(first.delete, "k")
        deadline = time.monotonic() + BOUND
        while await async_tiered.memory.get("k") is not None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        first.clear()
        for cache in (first, second):
            cache.close()
        await async_tiered.close()
    assert not any(thread.name.startswith("cache:") for thread in threading.enumerate())


def test_blocking_memory_and_async_memory_agree_on_key_rules() -> None:
    blocking, long_key = sync.MemoryCache(), "x" * 5000
    blocking.set(long_key, 1)
    assert blocking.get(long_key) == 1
    assert blocking.exists(long_key)
    assert repr(blocking) == repr(AsyncMemoryCache())
    with pytest.raises(sync.CacheError) as raised:
        blocking.set("key", 1, ttl=0)
    assert raised.value.code == "CACHE_INVALID_TTL"


def held_fill(cache: Any, key: str, value: Any, **options: Any) -> tuple[Any, Any, Any]:
    """A `get_or_set` on a thread whose computation waits for `release`."""
    started, release, result = threading.Event(), threading.Event(), []

    def compute() -> Any:
        started.set()
        release.wait(BOUND)
        return value

    def call() -> None:
        try:
            result.append(cache.get_or_set(key, compute, ttl=30, **options))
        except Exception as error:
            result.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    assert started.wait(BOUND)
    return thread, release, result


@pytest.mark.parametrize("invalidation", ["delete", "set", "clear", "delete_multiple"])
def test_blocking_memory_cache_drops_a_fill_an_invalidation_made_stale(
    invalidation: str,
) -> None:
    cache = sync.MemoryCache()
    thread, release, result = held_fill(cache, "k", "old")
    invalidations = {
        "delete": lambda: cache.delete("k"),
        "set": lambda: cache.set("k", "new"),
        "clear": cache.clear,
        "delete_multiple": lambda: cache.delete_multiple(["k"]),
    }
    invalidations[invalidation]()
    release.set()
    thread.join(BOUND)
    assert result == ["old"]
    assert cache.get("k") == ("new" if invalidation == "set" else None)
    assert cache.get_stats().stale_fills_discarded == 1
    assert cache._fills.tickets == {}


def test_blocking_fill_abandoned_by_its_timeout_cannot_overwrite_a_newer_one() -> None:
    cache = sync.MemoryCache()
    thread, release, result = held_fill(cache, "k", "older", compute_timeout=0.05)
    thread.join(BOUND)  # its caller gave up; the computation runs on, held
    assert isinstance(result[0], sync.CacheError)
    assert result[0].code == "CACHE_TIMEOUT"
    assert cache.get_or_set("k", lambda: "newer", ttl=30) == "newer"  # supersedes it
    release.set()
    wait_until(lambda: cache.get_stats().stale_fills_discarded == 1)
    assert cache.get("k") == "newer"


def test_blocking_memoize_invalidate_during_a_call_keeps_the_older_result_out() -> None:
    cache = sync.MemoryCache()
    started, release, versions = threading.Event(), threading.Event(), iter(["v1", "v2"])

    @cache.memoize(ttl=30, key_fn=lambda item: f"item:{item}")
    def load(item: int) -> str:
        version = next(versions)
        if version == "v1":
            started.set()
            release.wait(BOUND)
        return version

    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(load, 1)
        assert started.wait(BOUND)
        assert load.invalidate(1) is False  # nothing stored yet, but the fill goes stale
        release.set()
        assert loading.result(BOUND) == "v1"
    assert load(1) == "v2"
    assert load(1) == "v2"
