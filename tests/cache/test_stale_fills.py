"""Every backend: an invalidation during a `get_or_set` keeps the older result out.

The computation is held inside `compute` by an event while the invalidation runs, so
the race is forced, never timed. Runs on every backend of the conformance suite
(memory, Redis, tiered, and their blocking twins through `AsyncCacheView`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from infrakit.cache import Cache
from tests.cache.conftest import eventually


class HeldComputation:
    """A `compute` that returns `value` only once released, saying when it started."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return self.value


async def fresh() -> str:
    return "fresh"


INVALIDATIONS: dict[str, tuple[Callable[[Cache], Awaitable[object]], Any]] = {
    "delete": (lambda cache: cache.delete("k"), None),
    "set": (lambda cache: cache.set("k", "new", ttl=30), "new"),
    "delete_multiple": (lambda cache: cache.delete_multiple(["other", "k"]), None),
    "set_multiple": (lambda cache: cache.set_multiple({"k": "new", "other": 1}, ttl=30), "new"),
    "clear": (lambda cache: cache.clear(), None),
}


@pytest.mark.parametrize("invalidation", list(INVALIDATIONS))
async def test_an_invalidation_during_a_fill_keeps_the_older_result_out(
    cache: Cache, invalidation: str
) -> None:
    invalidate, left = INVALIDATIONS[invalidation]
    held = HeldComputation("old")
    filling = asyncio.create_task(cache.get_or_set("k", held, ttl=30))
    await held.started.wait()
    await invalidate(cache)
    held.release.set()
    assert await filling == "old"  # its caller still gets what it computed
    assert await cache.get("k") == left  # but the cache does not keep it
    assert cache.get_stats().stale_fills_discarded >= 1


async def test_a_caller_after_the_invalidation_computes_afresh(cache: Cache) -> None:
    held = HeldComputation("old")
    first = asyncio.create_task(cache.get_or_set("k", held, ttl=30))
    await held.started.wait()
    await cache.delete("k")
    # the stale fill is no longer joined: this call computes and stores its own value
    assert await cache.get_or_set("k", fresh, ttl=30) == "fresh"
    held.release.set()
    assert await first == "old"
    assert await cache.get("k") == "fresh"
    assert held.calls == 1


async def test_callers_joining_before_the_invalidation_share_the_stale_value(
    cache: Cache,
) -> None:
    held = HeldComputation("old")
    first = asyncio.create_task(cache.get_or_set("k", held, ttl=30))
    await held.started.wait()
    second = asyncio.create_task(cache.get_or_set("k", held, ttl=30))

    async def joined() -> bool:
        return cache.get_stats().stampedes_suppressed == 1

    await eventually(joined)
    await cache.delete("k")
    held.release.set()
    assert await asyncio.gather(first, second) == ["old", "old"]
    assert await cache.get("k") is None
    assert held.calls == 1


async def test_an_invalidation_after_the_fill_is_an_ordinary_delete(cache: Cache) -> None:
    assert await cache.get_or_set("k", fresh, ttl=30) == "fresh"
    assert await cache.get("k") == "fresh"
    assert await cache.delete("k") is True
    assert await cache.get("k") is None
    assert cache.get_stats().stale_fills_discarded == 0


async def test_memoize_invalidate_during_a_call_keeps_the_older_result_out(
    cache: Cache,
) -> None:
    releases = {1: asyncio.Event()}
    started = asyncio.Event()
    versions = iter(["v1", "v2"])

    @cache.memoize(ttl=30, key_fn=lambda item: f"item:{item}")
    async def load(item: int) -> str:
        version = next(versions)
        if version == "v1":
            started.set()
            await releases[1].wait()
        return version

    loading = asyncio.create_task(load(1))
    await started.wait()
    await load.invalidate(1)
    releases[1].set()
    assert await loading == "v1"
    assert await load(1) == "v2"  # computed again: v1 was not kept
    assert await load(1) == "v2"  # and v2 was
