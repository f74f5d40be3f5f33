"""MemoryCache specifics: the LRU bound, stored objects, options, the injected clock."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from infrakit.cache import Cache, CacheError, MemoryCache, memoize
from tests.cache.conftest import FakeClock, eventually


async def test_least_recently_used_entries_are_evicted() -> None:
    cache = MemoryCache(max_size=3)
    await cache.set_multiple({"a": 1, "b": 2, "c": 3})
    await cache.get("a")
    await cache.set("d", 4)
    assert await cache.get_multiple(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}
    assert cache.get_stats().size == 3


async def test_default_ttl_and_forever_on_the_injected_clock() -> None:
    clock = FakeClock()
    cache = MemoryCache(default_ttl=0.2, clock=clock)
    forever = MemoryCache(default_ttl=None, clock=clock)
    await cache.set("k", 1)
    await forever.set("k", 1)
    clock.advance(0.19)
    assert await cache.get("k") == 1
    clock.advance(0.02)
    assert await cache.get("k") is None
    clock.advance(10**9)
    assert await forever.get("k") == 1


async def test_values_are_stored_as_objects() -> None:
    cache = MemoryCache()
    value = {"list": [1]}
    await cache.set("k", value)
    assert await cache.get("k") is value


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_size": 0}, "max_size"),
        ({"max_size": True}, "max_size"),
        ({"max_size": 2.5}, "max_size"),
        ({"default_ttl": -1}, "default_ttl"),
        ({"default_ttl": float("nan")}, "default_ttl"),
        ({"default_ttl": 0}, "default_ttl"),
    ],
)
def test_bad_options_are_refused_naming_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(CacheError) as raised:
        MemoryCache(**options)  # type: ignore[arg-type]
    assert raised.value.details["field"] == field
    assert field in raised.value.message


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
    assert double.__name__ == "double"
    assert inspect.iscoroutinefunction(double)
    assert inspect.iscoroutinefunction(cached_triple)
    assert inspect.signature(double) == inspect.signature(double.__wrapped__)  # type: ignore[attr-defined]


async def test_async_context_manager_closes() -> None:
    async with MemoryCache() as cache:
        await cache.set("k", 1)
        assert await cache.get("k") == 1


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    cache = MemoryCache()
    calls = []
    release = asyncio.Event()

    @cache.memoize
    async def slow() -> str:
        calls.append(1)
        await release.wait()
        return "done"

    first = asyncio.create_task(slow())
    second = asyncio.create_task(slow())

    async def started() -> bool:
        return bool(calls)

    await eventually(started)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await second == "done"
    assert await slow() == "done"
    assert calls == [1]


async def test_expired_entries_are_dropped_without_a_timer_per_key() -> None:
    clock = FakeClock()
    cache = MemoryCache(max_size=5_000, clock=clock)
    tasks_before = len(asyncio.all_tasks())
    await cache.set_multiple({f"key{index}": index for index in range(2_000)}, ttl=0.1)
    await cache.set("kept", "yes", ttl=30)
    assert len(asyncio.all_tasks()) == tasks_before  # nothing scheduled per entry
    assert cache.get_stats().size == 2_001
    clock.advance(0.2)
    await cache.set("trigger", 1)  # a write sweeps what has expired
    assert len(cache._data) == 2  # the expired entries are gone, not merely hidden
    assert await cache.get_multiple(["kept", "key7"]) == {"kept": "yes"}


def test_the_free_memoize_needs_a_cache() -> None:
    async def double(value: int) -> int:
        return value * 2

    with pytest.raises(TypeError, match="needs a Cache"):
        memoize(double, cache=object())  # type: ignore[arg-type]


class DictCache(Cache):
    """A third-party cache: the public Protocol only, no infrakit internals."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}
        self.computed = 0

    async def get(self, key, *, type=None, default=None):  # type: ignore[no-untyped-def, override]
        return self.data.get(key, default)

    async def set(self, key, value, ttl=None):  # type: ignore[no-untyped-def, override]
        self.data[key] = value
        return True

    async def delete(self, key):  # type: ignore[no-untyped-def, override]
        return self.data.pop(key, None) is not None

    async def exists(self, key):  # type: ignore[no-untyped-def, override]
        return key in self.data

    async def get_multiple(self, keys, *, type=None):  # type: ignore[no-untyped-def, override]
        return {key: self.data[key] for key in keys if key in self.data}

    async def set_multiple(self, entries, ttl=None):  # type: ignore[no-untyped-def, override]
        self.data.update(entries)
        return True

    async def delete_multiple(self, keys):  # type: ignore[no-untyped-def, override]
        removed = [self.data.pop(key, None) is not None for key in keys]
        return any(removed)

    async def clear(self):  # type: ignore[no-untyped-def, override]
        self.data.clear()
        return True

    async def get_or_set(
        self, key, compute, *, ttl=None, type=None, cache_none=False, compute_timeout=None
    ):  # type: ignore[no-untyped-def, override]
        if key not in self.data:
            self.computed += 1
            self.data[key] = await compute()
        return self.data[key]

    def get_stats(self):  # type: ignore[no-untyped-def, override]
        raise NotImplementedError

    async def health(self):  # type: ignore[no-untyped-def, override]
        return True

    async def close(self):  # type: ignore[no-untyped-def, override]
        return None


async def test_memoize_works_on_any_cache_through_the_public_protocol() -> None:
    cache = DictCache()

    @memoize(cache=cache)
    async def square(value: int) -> int:
        return value * value

    assert [await square(3), await square(3), await square(4)] == [9, 9, 16]
    assert cache.computed == 2
    assert await square.invalidate(3) is True
    assert await square(3) == 9
    assert cache.computed == 3


async def test_only_fills_in_flight_hold_a_ticket() -> None:
    cache = MemoryCache()
    release = asyncio.Event()

    async def held() -> int:
        await release.wait()
        return 1

    async def failing() -> int:
        raise ValueError("no")

    filling = asyncio.create_task(cache.get_or_set("held", held))
    await eventually(lambda: _has_ticket(cache, "held"))
    await cache.set("other", 2)  # a write to another key leaves the fill alone
    await cache.delete("unrelated")
    assert list(cache._fills.tickets) == ["held"]
    release.set()
    assert await filling == 1
    with pytest.raises(ValueError, match="no"):
        await cache.get_or_set("failing", failing)
    with pytest.raises(CacheError):
        await cache.get_or_set("hung", asyncio.Event().wait, compute_timeout=0.01)
    assert cache._fills.tickets == {}  # done, failed or timed out: nothing kept
    assert await cache.get("held") == 1
    assert cache.get_stats().stale_fills_discarded == 0


async def _has_ticket(cache: MemoryCache, key: str) -> bool:
    return key in cache._fills.tickets
