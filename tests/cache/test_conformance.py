"""One suite, every backend: MemoryCache, RedisCache and TieredCache must agree."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from infrakit.cache import MAX_KEY_LENGTH, MAX_TTL, Cache, CacheError, CacheStats
from tests.cache.conftest import Backend


async def test_set_get_delete_round_trip(cache: Cache) -> None:
    assert await cache.set("user:1", {"name": "Ada", "tags": ["x"]}) is True
    assert await cache.get("user:1") == {"name": "Ada", "tags": ["x"]}
    assert await cache.exists("user:1") is True
    assert await cache.delete("user:1") is True
    assert await cache.get("user:1") is None
    assert await cache.exists("user:1") is False
    assert await cache.delete("user:1") is False


async def _absent(cache: Cache, key: str) -> bool:
    return await cache.get(key) is None


async def test_entries_expire_after_their_ttl(backend: Backend) -> None:
    cache = backend.cache
    await cache.set("short", 1, ttl=0.3)
    await cache.set("long", 2, ttl=30)
    assert await cache.get("short") == 1
    await backend.elapse(0.4, lambda: _absent(cache, "short"))
    assert await cache.exists("short") is False
    assert await cache.get("long") == 2


BAD_TTLS = [
    0,
    0.0,
    -1,
    -0.001,
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    False,
    "60",
    b"60",
    [60],
    MAX_TTL + 1,
    10**30,
    2**63,
]


@pytest.mark.parametrize("ttl", BAD_TTLS, ids=repr)
async def test_every_backend_refuses_a_bad_ttl_the_same_way(cache: Cache, ttl: object) -> None:
    for write in (
        lambda: cache.set("key", 1, ttl=ttl),  # type: ignore[arg-type]
        lambda: cache.set_multiple({"key": 1, "other": 2}, ttl=ttl),  # type: ignore[arg-type]
    ):
        with pytest.raises(CacheError) as raised:
            await write()
        assert raised.value.code == "CACHE_INVALID_TTL"
        assert "ttl" in raised.value.message
        assert raised.value.details == {"field": "ttl"}
    assert await cache.get_multiple(["key", "other"]) == {}  # nothing half-written


@pytest.mark.parametrize("ttl", [None, 1, 0.5, 1e-3, MAX_TTL, 86_400 * 365])
async def test_every_backend_accepts_the_ttls_the_rule_allows(cache: Cache, ttl: object) -> None:
    assert await cache.set("key", "kept", ttl=ttl) is True  # type: ignore[arg-type]
    if ttl is None or ttl >= 1:  # type: ignore[operator]
        assert await cache.get("key") == "kept"


@pytest.mark.parametrize("key", ["\ud800", "a\udfffb", "x" * 300 + "\ud800"])
async def test_keys_that_cannot_be_encoded_are_a_key_error(cache: Cache, key: str) -> None:
    for call in (
        lambda: cache.set(key, 1),
        lambda: cache.get(key),
        lambda: cache.delete(key),
        lambda: cache.get_multiple([key]),
        lambda: cache.set_multiple({key: 1}),
    ):
        with pytest.raises(CacheError) as raised:
            await call()
        assert raised.value.code == "CACHE_KEY_ERROR"
        assert key not in raised.value.message


async def test_non_ascii_keys_work_everywhere(cache: Cache) -> None:
    await cache.set("clé:日本", "ok")
    assert await cache.get("clé:日本") == "ok"
    assert await cache.get_multiple(["clé:日本"]) == {"clé:日本": "ok"}


async def test_get_returns_the_default_for_a_miss_and_a_stored_none_otherwise(
    cache: Cache,
) -> None:
    marker = object()
    assert await cache.get("absent", default=marker) is marker
    await cache.set("stored-none", None)
    assert await cache.get("stored-none", default=marker) is None


async def test_batch_calls(cache: Cache) -> None:
    entries = {"a": 1, "b": [2, 3], "c": "three"}
    assert await cache.set_multiple(entries, ttl=30) is True
    assert await cache.get_multiple(["a", "b", "c", "missing"]) == entries
    assert await cache.get_multiple([]) == {}
    assert await cache.delete_multiple(["a", "b", "missing"]) is True
    assert await cache.get_multiple(["a", "b", "c"]) == {"c": "three"}
    assert await cache.delete_multiple(["a", "b"]) is False


async def test_batch_ttl_expires(backend: Backend) -> None:
    cache = backend.cache

    async def both_gone() -> bool:
        return await cache.get_multiple(["x", "y"]) == {}

    await cache.set_multiple({"x": 1, "y": 2}, ttl=0.3)
    await backend.elapse(0.4, both_gone)


async def test_stats_are_synchronous_counters(cache: Cache) -> None:
    await cache.set_multiple({"a": 1, "b": 2, "c": 3})
    await cache.get("a")
    await cache.get("b")
    await cache.get("nope")
    stats = cache.get_stats()
    assert isinstance(stats, CacheStats)
    assert (stats.hits, stats.misses) == (2, 1)
    assert stats.hit_ratio == pytest.approx(2 / 3)
    assert stats.circuit == "closed"
    assert await cache.count() == 3  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.hits = 0  # type: ignore[misc]


async def test_clear_removes_everything(cache: Cache) -> None:
    await cache.set_multiple({"a": 1, "b": 2})
    assert await cache.clear() is True
    assert await cache.get_multiple(["a", "b"]) == {}
    assert await cache.count() == 0  # type: ignore[attr-defined]


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


async def test_memoize_with_result_based_ttl(backend: Backend) -> None:
    cache = backend.cache
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

    async def short_recomputed() -> bool:
        await lookup("short")
        return len(calls) == 3

    await backend.elapse(0.4, short_recomputed)
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
        # Finish only once the 99 others wait (bounded): a caller arriving after the
        # store would be a hit, not a suppressed stampede, on a loaded machine.
        for _ in range(1000):
            if cache.get_stats().stampedes_suppressed >= 99:
                break
            await asyncio.sleep(0.01)
        return value + 1

    results = await asyncio.gather(*(slow(41) for _ in range(100)))
    assert results == [42] * 100
    assert calls == [41]
    assert cache.get_stats().stampedes_suppressed == 99


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
    assert await load_user.invalidate(7) is True
    assert await load_user(7) == {"id": 7}
    assert calls == ["load", "load"]


@pytest.mark.parametrize("bad", [-5, float("nan"), float("inf"), "10", True, 10**30])
async def test_a_ttl_policy_returning_a_bad_value_is_logged_and_the_default_applies(
    backend: Backend, bad: object
) -> None:
    cache, recording_logger = backend.cache, backend.logger
    calls: list[int] = []

    @cache.memoize(ttl=lambda result, elapsed: bad)  # type: ignore[arg-type, return-value]
    async def compute(value: int) -> int:
        calls.append(value)
        return value

    assert [await compute(1), await compute(1)] == [1, 1]
    assert calls == [1]  # stored with the default TTL
    assert "cache ttl policy gave no valid ttl; the default ttl applies" in (
        recording_logger.messages("warning")
    )


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), True, "60"])
def test_memoize_refuses_a_bad_static_ttl_at_decoration(cache: Cache, ttl: object) -> None:
    async def compute() -> int:
        return 1

    with pytest.raises(CacheError) as raised:
        cache.memoize(compute, ttl=ttl)  # type: ignore[arg-type]
    assert raised.value.code == "CACHE_INVALID_TTL"
    with pytest.raises(CacheError) as raised:
        cache.memoize(compute, timeout=0)
    assert raised.value.details == {"field": "timeout"}


async def test_a_hung_computation_does_not_trap_later_callers(cache: Cache) -> None:
    release = asyncio.Event()
    calls: list[str] = []

    @cache.memoize(timeout=0.2, key_fn=lambda mode: "hung-or-not")
    async def compute(mode: str) -> str:
        calls.append(mode)
        if mode == "hang":
            await release.wait()  # never set: a computation that hangs
        return mode

    async with asyncio.timeout(5):
        outcomes = await asyncio.gather(
            *(compute("hang") for _ in range(5)), return_exceptions=True
        )
    assert all(isinstance(outcome, CacheError) for outcome in outcomes)
    assert {outcome.code for outcome in outcomes} == {"CACHE_TIMEOUT"}  # type: ignore[union-attr]
    async with asyncio.timeout(5):
        assert await compute("fine") == "fine"  # a later caller is not stuck behind it
    assert calls == ["hang", "fine"]
    assert cache.get_stats().compute_timeouts == 1


async def test_get_or_set_computes_once_and_then_reads(cache: Cache) -> None:
    calls: list[int] = []

    async def compute() -> dict[str, int]:
        calls.append(1)
        await asyncio.sleep(0.01)
        return {"value": 1}

    results = await asyncio.gather(
        *(cache.get_or_set("shared", compute, ttl=30) for _ in range(10))
    )
    assert results == [{"value": 1}] * 10
    assert await cache.get_or_set("shared", compute) == {"value": 1}
    assert calls == [1]
