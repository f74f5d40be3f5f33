"""One suite, every backend: MemoryCache, RedisCache and TieredCache must agree."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from infrakit.cache import MAX_KEY_LENGTH, Cache, CacheError, CacheStats


async def test_set_get_delete_round_trip(cache: Cache) -> None:
    assert await cache.set("user:1", {"name": "Ada", "tags": ["x"]}) is True
    assert await cache.get("user:1") == {"name": "Ada", "tags": ["x"]}
    assert await cache.exists("user:1") is True
    assert await cache.delete("user:1") is True
    assert await cache.get("user:1") is None
    assert await cache.exists("user:1") is False
    assert await cache.delete("user:1") is False


async def test_entries_expire_after_their_ttl(cache: Cache) -> None:
    await cache.set("short", 1, ttl=0.3)
    await cache.set("long", 2, ttl=30)
    assert await cache.get("short") == 1
    await asyncio.sleep(0.5)
    assert await cache.get("short") is None
    assert await cache.exists("short") is False
    assert await cache.get("long") == 2


async def test_invalid_ttl_is_refused(cache: Cache) -> None:
    with pytest.raises(CacheError) as raised:
        await cache.set("key", 1, ttl=0)
    assert raised.value.code == "CACHE_INVALID_TTL"


async def test_batch_calls(cache: Cache) -> None:
    entries = {"a": 1, "b": [2, 3], "c": "three"}
    assert await cache.set_multiple(entries, ttl=30) is True
    assert await cache.get_multiple(["a", "b", "c", "missing"]) == entries
    assert await cache.get_multiple([]) == {}
    assert await cache.delete_multiple(["a", "b", "missing"]) is True
    assert await cache.get_multiple(["a", "b", "c"]) == {"c": "three"}
    assert await cache.delete_multiple(["a", "b"]) is False


async def test_batch_ttl_expires(cache: Cache) -> None:
    await cache.set_multiple({"x": 1, "y": 2}, ttl=0.3)
    await asyncio.sleep(0.5)
    assert await cache.get_multiple(["x", "y"]) == {}


async def test_stats_count_hits_misses_and_size(cache: Cache) -> None:
    await cache.set_multiple({"a": 1, "b": 2, "c": 3})
    await cache.get("a")
    await cache.get("b")
    await cache.get("nope")
    stats = await cache.get_stats()
    assert isinstance(stats, CacheStats)
    assert (stats.hits, stats.misses, stats.size) == (2, 1, 3)
    assert stats.hit_ratio == pytest.approx(2 / 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.hits = 0  # type: ignore[misc]


async def test_clear_removes_everything(cache: Cache) -> None:
    await cache.set_multiple({"a": 1, "b": 2})
    assert await cache.clear() is True
    assert await cache.get_multiple(["a", "b"]) == {}
    assert (await cache.get_stats()).size == 0


async def test_long_keys_are_hashed_and_still_work(cache: Cache) -> None:
    long_key = "k" * (MAX_KEY_LENGTH * 4)
    other = "k" * (MAX_KEY_LENGTH * 4 - 1) + "j"
    await cache.set(long_key, "long")
    await cache.set(other, "other")
    assert await cache.get(long_key) == "long"
    assert await cache.get_multiple([long_key, other]) == {long_key: "long", other: "other"}
    assert await cache.delete(long_key) is True
    assert await cache.get(long_key) is None


async def test_none_values_and_health(cache: Cache) -> None:
    assert await cache.health() is True
    await cache.set("nothing", None)
    assert await cache.get("nothing") is None
    assert await cache.exists("nothing") is True  # stored, not dropped


async def test_memoize_with_result_based_ttl(cache: Cache) -> None:
    calls: list[int] = []
    seen: list[tuple[object, float]] = []

    def ttl_of(result: object, execution_time: float) -> float:
        seen.append((result, execution_time))
        return 0.3 if result == "short" else 30

    @cache.memoize(ttl=ttl_of)
    async def lookup(name: str) -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        return name

    assert await lookup("short") == "short"
    assert await lookup("long") == "long"
    assert await lookup("short") == "short"
    assert len(calls) == 2
    assert [result for result, _ in seen] == ["short", "long"]
    assert all(elapsed >= 0.005 for _, elapsed in seen)
    await asyncio.sleep(0.5)
    assert await lookup("short") == "short"
    assert await lookup("long") == "long"
    assert len(calls) == 3


async def test_memoize_ttl_of_zero_skips_caching(cache: Cache) -> None:
    calls: list[int] = []

    @cache.memoize(ttl=lambda result, elapsed: 0 if result < 0 else 30)
    async def compute(value: int) -> int:
        calls.append(value)
        return value

    await compute(-1)
    await compute(-1)
    await compute(1)
    await compute(1)
    assert calls == [-1, -1, 1]


async def test_memoize_does_not_cache_exceptions(cache: Cache) -> None:
    attempts: list[int] = []

    @cache.memoize
    async def flaky(value: int) -> int:
        attempts.append(value)
        if len(attempts) == 1:
            raise RuntimeError("first call fails")
        return value * 10

    with pytest.raises(RuntimeError):
        await flaky(4)
    assert await flaky(4) == 40
    assert await flaky(4) == 40
    assert attempts == [4, 4]


async def test_memoize_none_only_when_asked(cache: Cache) -> None:
    calls = {"plain": 0, "kept": 0}

    @cache.memoize
    async def plain(key: str) -> None:
        calls["plain"] += 1

    @cache.memoize(cache_none=True)
    async def kept(key: str) -> None:
        calls["kept"] += 1

    for _ in range(3):
        assert await plain("k") is None
        assert await kept("k") is None
    assert calls == {"plain": 3, "kept": 1}


async def test_hundred_concurrent_callers_run_a_cold_function_once(cache: Cache) -> None:
    calls: list[int] = []

    @cache.memoize(ttl=30)
    async def slow(value: int) -> int:
        calls.append(value)
        await asyncio.sleep(0.1)
        return value + 1

    results = await asyncio.gather(*(slow(41) for _ in range(100)))
    assert results == [42] * 100
    assert calls == [41]
    assert (await cache.get_stats()).stampedes_suppressed == 99


async def test_an_exception_reaches_every_waiter_and_is_not_cached(cache: Cache) -> None:
    calls: list[int] = []

    @cache.memoize
    async def broken(value: int) -> int:
        calls.append(value)
        await asyncio.sleep(0.05)
        raise ValueError("boom")

    outcomes = await asyncio.gather(*(broken(1) for _ in range(20)), return_exceptions=True)
    assert all(isinstance(outcome, ValueError) for outcome in outcomes)
    assert calls == [1]
    with pytest.raises(ValueError, match="boom"):
        await broken(1)
    assert calls == [1, 1]


async def test_memoize_invalidate_and_key_fn(cache: Cache) -> None:
    calls: list[str] = []

    @cache.memoize(key_fn=lambda user_id, **_: f"user:{user_id}")
    async def load_user(user_id: int, *, verbose: bool = False) -> dict[str, int]:
        calls.append("load")
        return {"id": user_id}

    assert await load_user(7) == {"id": 7}
    assert await load_user(7, verbose=True) == {"id": 7}
    assert await cache.get("user:7") == {"id": 7}
    assert await load_user.invalidate(7) is True  # type: ignore[attr-defined]
    assert await load_user(7) == {"id": 7}
    assert calls == ["load", "load"]
