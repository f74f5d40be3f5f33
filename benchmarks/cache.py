"""Cache benchmark: infrakit against cachetools, cashews and aiocache, in memory and on Redis.

Run: `.venv/bin/python benchmarks/cache.py` (Redis at INFRAKIT_TEST_REDIS_URL, default
redis://127.0.0.1:6379/0; the Redis half is skipped when it is down). Every figure is
the best of several repeats, one coroutine awaiting calls one after another, so a
Redis figure is a round trip. The stampede column counts how often a cold memoised
coroutine ran when 100 callers asked for it at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cachetools
from aiocache import RedisCache as AiocacheRedis
from aiocache import SimpleMemoryCache, cached
from cashews import Cache as CashewsCache

from infrakit.cache import MemoryCache, RedisCache

REDIS_URL = os.environ.get("INFRAKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = f"infrakit-bench:{uuid.uuid4().hex}:"
VALUE = {"id": 1, "name": "Ada", "roles": ["admin", "dev"]}
OPERATIONS = ("get-hit", "get-miss", "set", "memoized hit")


@dataclass
class Contender:
    """One library: four timed operations and a memoise factory for the stampede test."""

    name: str
    get: Callable[[str], Awaitable[Any]]
    set: Callable[[str, Any], Awaitable[Any]]
    memoize: Callable[[Callable[[int], Awaitable[Any]], str], Callable[[int], Awaitable[Any]]]


async def calibrate(budget: float, call: Callable[[], Awaitable[Any]]) -> int:
    """How many calls take about `budget` seconds."""
    started = time.perf_counter()
    for _ in range(50):
        await call()
    return max(50, int(budget / ((time.perf_counter() - started) / 50)))


async def timed(count: int, call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - started) / count


async def stampede(contender: Contender) -> int:
    calls = 0

    async def slow(value: int) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return VALUE

    memoized = contender.memoize(slow, f"{contender.name}-stampede")
    # open the connections first, so that a cold pool does not stagger the callers
    await asyncio.gather(*(contender.get(PREFIX + "warm-up") for _ in range(100)))
    await asyncio.gather(*(memoized(7) for _ in range(100)))
    return calls


async def operations(contender: Contender) -> dict[str, Callable[[], Awaitable[Any]]]:
    await contender.set(PREFIX + "hit", VALUE)

    async def compute(value: int) -> dict[str, Any]:
        return VALUE

    memoized = contender.memoize(compute, contender.name)
    await memoized(1)
    return {
        "get-hit": lambda: contender.get(PREFIX + "hit"),
        "get-miss": lambda: contender.get(PREFIX + "missing"),
        "set": lambda: contender.set(PREFIX + "set", VALUE),
        "memoized hit": lambda: memoized(1),
    }


async def measure(
    contenders: list[Contender], repeats: int, budget: float
) -> list[tuple[str, dict[str, Any]]]:
    """Best of `repeats`, the contenders taking turns so that load on the machine hits all."""
    calls = {contender.name: await operations(contender) for contender in contenders}
    counts = {
        (name, op): await calibrate(budget, call)
        for name, ops in calls.items()
        for op, call in ops.items()
    }
    best: dict[str, dict[str, Any]] = {name: dict.fromkeys(OPERATIONS, 1e9) for name in calls}
    for _ in range(repeats):
        for op in OPERATIONS:
            for name, ops in calls.items():
                seconds = await timed(counts[name, op], ops[op])
                best[name][op] = min(best[name][op], seconds)
    for contender in contenders:
        best[contender.name]["stampede"] = await stampede(contender)
    return list(best.items())


def hand_written_memoize(
    get: Callable[[str], Awaitable[Any]], put: Callable[[str, Any], Awaitable[Any]]
) -> Callable[[Callable[[int], Awaitable[Any]], str], Callable[[int], Awaitable[Any]]]:
    """The memoiser one writes by hand over a raw client: no single-flight."""

    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str) -> Callable[[int], Awaitable[Any]]:
        async def wrapper(value: int) -> Any:
            key = f"{PREFIX}{tag}:{value}"
            found = await get(key)
            if found is not None:
                return found
            result = await fn(value)
            await put(key, result)
            return result

        return wrapper

    return memoize


def infrakit_contender(name: str, cache: Any) -> Contender:
    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str) -> Any:
        return cache.memoize(fn, key_fn=lambda value: f"{PREFIX}{tag}:{value}", ttl=60)

    return Contender(name, cache.get, lambda key, value: cache.set(key, value, 60), memoize)


def cashews_contender(name: str, cache: CashewsCache, *, lock: bool = True) -> Contender:
    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str) -> Any:
        return cache(ttl=60, key=PREFIX + tag + ":{value}", lock=lock)(fn)

    return Contender(name, cache.get, lambda key, value: cache.set(key, value, 60), memoize)


def aiocache_contender(name: str, client: Any, **cache_options: Any) -> Contender:
    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str) -> Any:
        return cached(ttl=60, namespace=f"{PREFIX}{tag}", **cache_options)(fn)

    return Contender(name, client.get, lambda key, value: client.set(key, value, ttl=60), memoize)


def memory_contenders() -> list[Contender]:
    raw = cachetools.TTLCache(maxsize=10_000, ttl=60)

    async def raw_get(key: str) -> Any:
        try:  # the fastest idiom: one lookup on a hit (raw.get() does two)
            return raw[key]
        except KeyError:
            return None

    async def raw_set(key: str, value: Any) -> None:
        raw[key] = value

    raw_memoize = hand_written_memoize(raw_get, raw_set)
    cashews = CashewsCache()
    cashews.setup("mem://")
    return [
        infrakit_contender("infrakit MemoryCache", MemoryCache(max_size=10_000, default_ttl=60)),
        Contender("cachetools TTLCache (raw)", raw_get, raw_set, raw_memoize),
        cashews_contender("cashews mem://", cashews),
        cashews_contender("cashews mem://, memoize lock=False", cashews, lock=False),
        aiocache_contender("aiocache SimpleMemoryCache", SimpleMemoryCache()),
    ]


def redis_contenders() -> tuple[list[Contender], list[Any]]:
    from urllib.parse import urlsplit

    import redis.asyncio

    raw = redis.asyncio.Redis.from_url(REDIS_URL)

    async def raw_get(key: str) -> Any:
        data = await raw.get(key)
        return None if data is None else json.loads(data)

    async def raw_set(key: str, value: Any) -> None:
        await raw.set(key, json.dumps(value), ex=60)

    infrakit = RedisCache(REDIS_URL, prefix="", client_name="infrakit-bench")
    cashews = CashewsCache()
    cashews.setup(REDIS_URL, client_name="infrakit-bench-cashews")
    parts = urlsplit(REDIS_URL)
    options = {"endpoint": parts.hostname, "port": parts.port or 6379, "db": 0}
    aiocache = AiocacheRedis(**options)
    contenders = [
        infrakit_contender("infrakit RedisCache", infrakit),
        Contender("redis.asyncio (raw)", raw_get, raw_set, hand_written_memoize(raw_get, raw_set)),
        cashews_contender("cashews redis://", cashews),
        cashews_contender("cashews redis://, memoize lock=False", cashews, lock=False),
        aiocache_contender("aiocache RedisCache", aiocache, cache=AiocacheRedis, **options),
    ]
    return contenders, [infrakit, cashews, aiocache, raw]


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| library | "
        + " | ".join(f"{op} ops/s (us)" for op in OPERATIONS)
        + " | stampede calls |",
        "|---|" + "---:|" * (len(OPERATIONS) + 1),
    ]
    for name, result in rows:
        cells = [f"{1 / result[op]:,.0f} ({result[op] * 1e6:.2f})" for op in OPERATIONS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {result['stampede']} |")
    return "\n".join(lines)


def ratios(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """infrakit's ops/s divided by each peer's: above 1 means infrakit is faster."""
    ours = rows[0][1]
    lines = ["| infrakit ops/s ÷ | " + " | ".join(OPERATIONS) + " |", "|---|" + "---:|" * 4]
    for name, result in rows[1:]:
        cells = [f"{result[op] / ours[op]:.2f}x" for op in OPERATIONS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run_group(title: str, contenders: list[Contender], repeats: int, budget: float) -> None:
    rows = await measure(contenders, repeats, budget)
    print(f"\n### {title} (sequential calls, best of {repeats} runs of ~{budget} s each)\n")
    print(table(rows))
    print()
    print(ratios(rows))


async def cleanup(clients: list[Any]) -> None:
    raw = clients[-1]
    names = [name async for name in raw.scan_iter(match=PREFIX + "*", count=1000)]
    names += [name async for name in raw.scan_iter(match=f"*{PREFIX}*", count=1000)]
    if names:
        await raw.unlink(*set(names))
    await clients[0].close()
    await clients[1].close()
    await clients[2].close()
    await raw.aclose()


async def main() -> None:
    started = time.perf_counter()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    await run_group("In memory", memory_contenders(), repeats=15, budget=0.02)
    try:
        contenders, clients = redis_contenders()
        await clients[-1].ping()
    except Exception as error:  # the Redis half is optional
        print(f"\nRedis half skipped: {REDIS_URL} unreachable ({type(error).__name__})")
    else:
        try:
            await run_group("Redis (localhost)", contenders, repeats=11, budget=0.05)
        finally:
            await cleanup(clients)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
