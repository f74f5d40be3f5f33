"""Cache benchmark: infrakit against cachetools, cashews and aiocache, in memory and on Redis.

Run: `.venv/bin/python benchmarks/cache.py` (`--quick` for a smoke run). Redis at
INFRAKIT_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); the Redis half is skipped
when it is down.

Method: one coroutine awaits calls one after another (so a Redis figure is a round
trip). Each contender's batch of calls is timed in rounds, the contenders taking turns
within each round (interleaved), so load on the machine hits all of them alike. Every
cell is the median per-call time over the rounds, with the spread [fastest-slowest
round]. Ratios compare medians. Each peer runs in its fastest honest configuration,
labelled: the raw Redis client both without a socket timeout (the fastest, and what
infrakit aims at: one `asyncio.timeout` per command) and with `socket_timeout=1.0`
(redis-py wraps every send in `asyncio.wait_for`); cashews in its default mode
(`lock=False, protected=True`), with `protected=False`, and with `lock=True`.
"memoized miss" calls the memoised function with a new argument each time: a lookup,
the computation and the store (on Redis, infrakit's lock and fenced store too).

A last section times the blocking forms (`infrakit.cache.sync`) from plain code, the
same way: `sync.RedisCache` against raw redis-py (`redis.Redis`, JSON values like
ours) without a socket timeout and with `socket_timeout=1.0` (what `sync.RedisCache`
sets by default), and `sync.MemoryCache` against a cachetools `TTLCache` behind a
`threading.Lock` (the thread-safe use both need), with memoised hits and misses.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cachetools
import cachetools.keys
from _order import turn_orders  # benchmarks/, the script's directory
from aiocache import RedisCache as AiocacheRedis
from aiocache import SimpleMemoryCache, cached
from cashews import Cache as CashewsCache

from infrakit.cache import MemoryCache, RedisCache
from infrakit.cache import sync as blocking
from infrakit.cache._keys import default_key_builder

REDIS_URL = os.environ.get("INFRAKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = f"infrakit-bench:{uuid.uuid4().hex}:"
VALUE = {"id": 1, "name": "Ada", "roles": ["admin", "dev"]}
OPERATIONS = (
    "get-hit",
    "get-miss",
    "set",
    "memoized hit (default key)",
    "memoized hit (key_fn)",
    "memoized miss (key_fn)",
)

Memoizer = Callable[[Callable[[int], Awaitable[Any]], str, bool], Callable[[int], Awaitable[Any]]]


@dataclass
class Contender:
    """One library: timed operations, and a memoise factory `(fn, tag, default_key)`."""

    name: str
    get: Callable[[str], Awaitable[Any]]
    set: Callable[[str, Any], Awaitable[Any]]
    memoize: Memoizer
    rounds: dict[str, list[float]] = field(default_factory=dict)
    stampede: int = 0


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

    memoized = contender.memoize(slow, f"{contender.name}-stampede", False)
    # open the connections first, so that a cold pool does not stagger the callers
    await asyncio.gather(*(contender.get(PREFIX + "warm-up") for _ in range(100)))
    await asyncio.gather(*(memoized(7) for _ in range(100)))
    return calls


async def operations(contender: Contender) -> dict[str, Callable[[], Awaitable[Any]]]:
    await contender.set(PREFIX + "hit", VALUE)

    async def compute(value: int) -> dict[str, Any]:
        return VALUE

    by_default_key = contender.memoize(compute, contender.name + "-default", True)
    by_key_fn = contender.memoize(compute, contender.name + "-keyfn", False)
    await by_default_key(1)
    await by_key_fn(1)
    fresh = itertools.count(2)  # a new argument per call: a miss, computed and stored
    return {
        "get-hit": lambda: contender.get(PREFIX + "hit"),
        "get-miss": lambda: contender.get(PREFIX + "missing"),
        "set": lambda: contender.set(PREFIX + "set", VALUE),
        "memoized hit (default key)": lambda: by_default_key(1),
        "memoized hit (key_fn)": lambda: by_key_fn(1),
        "memoized miss (key_fn)": lambda: by_key_fn(next(fresh)),
    }


async def measure(contenders: list[Contender], rounds: int, budget: float) -> None:
    """`rounds` timed batches per cell, the contenders interleaved within each round."""
    calls = {contender.name: await operations(contender) for contender in contenders}
    counts = {
        (name, op): await calibrate(budget, call)
        for name, ops in calls.items()
        for op, call in ops.items()
    }
    for contender in contenders:
        contender.rounds = {op: [] for op in OPERATIONS}
    for _ in range(rounds):
        for op in OPERATIONS:
            for contender in contenders:
                seconds = await timed(counts[contender.name, op], calls[contender.name][op])
                contender.rounds[op].append(seconds)
    for contender in contenders:
        contender.stampede = await stampede(contender)


def cell(samples: list[float]) -> str:
    return (
        f"{statistics.median(samples) * 1e6:.2f} "
        f"[{min(samples) * 1e6:.2f}-{max(samples) * 1e6:.2f}]"
    )


def table(contenders: list[Contender]) -> str:
    lines = [
        "| library | " + " | ".join(f"{op} us" for op in OPERATIONS) + " | stampede calls |",
        "|---|" + "---:|" * (len(OPERATIONS) + 1),
    ]
    for contender in contenders:
        cells = [cell(contender.rounds[op]) for op in OPERATIONS]
        lines.append(f"| {contender.name} | " + " | ".join(cells) + f" | {contender.stampede} |")
    return "\n".join(lines)


def ratios(contenders: list[Contender], baseline: Contender) -> str:
    """Each contender's throughput over the baseline's (medians): above 1 is faster."""
    lines = [
        f"| ops/s relative to {baseline.name} | " + " | ".join(OPERATIONS) + " |",
        "|---|" + "---:|" * len(OPERATIONS),
    ]
    for contender in contenders:
        if contender is baseline:
            continue
        cells = [f"{speedup(baseline.rounds[op], contender.rounds[op]):.2f}x" for op in OPERATIONS]
        lines.append(f"| {contender.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speedup(baseline: list[float], samples: list[float]) -> float:
    return statistics.median(baseline) / statistics.median(samples)


def hand_written_memoize(
    get: Callable[[str], Awaitable[Any]], put: Callable[[str, Any], Awaitable[Any]]
) -> Memoizer:
    """The memoiser one writes by hand over a raw client: an f-string key, no single-flight."""

    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str, _: bool) -> Any:
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
    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str, default_key: bool) -> Any:
        if default_key:
            fn.__qualname__ = tag  # a distinct default key per memoised copy
            return cache.memoize(fn, ttl=60)
        return cache.memoize(fn, key_fn=lambda value: f"{PREFIX}{tag}:{value}", ttl=60)

    return Contender(name, cache.get, lambda key, value: cache.set(key, value, 60), memoize)


def cashews_contender(name: str, cache: CashewsCache, **mode: bool) -> Contender:
    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str, default_key: bool) -> Any:
        key = None if default_key else PREFIX + tag + ":{value}"
        return cache(ttl=60, key=key, prefix=PREFIX + tag, **mode)(fn)

    return Contender(name, cache.get, lambda key, value: cache.set(key, value, 60), memoize)


def aiocache_contender(name: str, client: Any, **cache_options: Any) -> Contender:
    def memoize(fn: Callable[[int], Awaitable[Any]], tag: str, default_key: bool) -> Any:
        options: dict[str, Any] = {} if default_key else {"key_builder": _aiocache_key(tag)}
        return cached(ttl=60, namespace=f"{PREFIX}{tag}", **options, **cache_options)(fn)

    return Contender(name, client.get, lambda key, value: client.set(key, value, ttl=60), memoize)


def _aiocache_key(tag: str) -> Callable[..., str]:
    def build(fn: Any, value: int) -> str:
        return f"{tag}:{value}"

    return build


CASHEWS_MODES: list[tuple[str, dict[str, bool]]] = [
    ("default: lock=False, protected=True", {}),
    ("protected=False", {"protected": False}),
    ("lock=True", {"lock": True}),
]


def memory_contenders() -> list[Contender]:
    raw = cachetools.TTLCache(maxsize=10_000, ttl=60)

    async def raw_get(key: str) -> Any:
        try:  # the fastest idiom: one lookup on a hit (raw.get() does two)
            return raw[key]
        except KeyError:
            return None

    async def raw_set(key: str, value: Any) -> None:
        raw[key] = value

    cashews = CashewsCache()
    cashews.setup("mem://")
    return [
        infrakit_contender("infrakit MemoryCache", MemoryCache(max_size=10_000, default_ttl=60)),
        Contender(
            "cachetools TTLCache (raw)", raw_get, raw_set, hand_written_memoize(raw_get, raw_set)
        ),
        *(
            cashews_contender(f"cashews mem:// ({label})", cashews, **mode)
            for label, mode in CASHEWS_MODES
        ),
        aiocache_contender("aiocache SimpleMemoryCache", SimpleMemoryCache()),
    ]


def raw_redis_contender(name: str, client: Any) -> Contender:
    async def raw_get(key: str) -> Any:
        data = await client.get(key)
        return None if data is None else json.loads(data)

    async def raw_set(key: str, value: Any) -> None:
        await client.set(key, json.dumps(value), ex=60)

    return Contender(name, raw_get, raw_set, hand_written_memoize(raw_get, raw_set))


def redis_contenders() -> tuple[list[Contender], list[Any]]:
    from urllib.parse import urlsplit

    import redis.asyncio

    raw = redis.asyncio.Redis.from_url(REDIS_URL)  # redis-py's default: no socket timeout
    raw_timeout = redis.asyncio.Redis.from_url(REDIS_URL, socket_timeout=1.0)
    infrakit = RedisCache(REDIS_URL, prefix="", client_name="infrakit-bench")
    cashews = CashewsCache()
    cashews.setup(REDIS_URL, client_name="infrakit-bench-cashews")
    parts = urlsplit(REDIS_URL)
    options = {"endpoint": parts.hostname, "port": parts.port or 6379, "db": 0}
    aiocache = AiocacheRedis(**options)
    contenders = [
        infrakit_contender("infrakit RedisCache (defaults: timeout=1.0)", infrakit),
        raw_redis_contender("redis.asyncio raw, no socket timeout", raw),
        raw_redis_contender("redis.asyncio raw, socket_timeout=1.0", raw_timeout),
        *(
            cashews_contender(f"cashews redis:// ({label})", cashews, **mode)
            for label, mode in CASHEWS_MODES
        ),
        aiocache_contender("aiocache RedisCache", aiocache, cache=AiocacheRedis, **options),
    ]
    return contenders, [infrakit, cashews, aiocache, raw_timeout, raw]


def key_builders(rounds: int, count: int) -> str:
    """The default memoize key against cachetools' hashkey, interleaved, per call."""

    async def target(*args: Any) -> None:
        return None

    infrakit_key = default_key_builder(target)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("infrakit default key, f(42)", lambda: infrakit_key((42,), {})),
        ("cachetools.keys.hashkey(42)", lambda: cachetools.keys.hashkey(42)),
        ("infrakit default key, f(42, 'ada')", lambda: infrakit_key((42, "ada"), {})),
        ("cachetools.keys.hashkey(42, 'ada')", lambda: cachetools.keys.hashkey(42, "ada")),
        ("infrakit default key, f(42, flag=True)", lambda: infrakit_key((42,), {"flag": True})),
        ("cachetools.keys.hashkey(42, flag=True)", lambda: cachetools.keys.hashkey(42, flag=True)),
    ]
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):
        for name, build in cases:
            started = time.perf_counter()
            for _ in range(count):
                build()
            samples[name].append((time.perf_counter() - started) / count)
    lines = ["| key builder | us per key [fastest-slowest round] |", "|---|---:|"]
    lines += [f"| {name} | {cell(values)} |" for name, values in samples.items()]
    return "\n".join(lines)


async def run_group(title: str, contenders: list[Contender], rounds: int, budget: float) -> None:
    await measure(contenders, rounds, budget)
    print(f"\n### {title} (sequential calls; median us [fastest-slowest] of {rounds} rounds)\n")
    print(table(contenders))
    print()
    print(ratios(contenders, contenders[1]))  # the raw client is the baseline


async def cleanup(clients: list[Any]) -> None:
    raw = clients[-1]
    names = [name async for name in raw.scan_iter(match=PREFIX + "*", count=1000)]
    names += [name async for name in raw.scan_iter(match=f"*{PREFIX}*", count=1000)]
    if names:
        await raw.unlink(*set(names))
    await clients[0].close()
    await clients[1].close()
    await clients[2].close()
    await clients[3].aclose()
    await raw.aclose()


async def main(quick: bool) -> None:
    started = time.perf_counter()
    rounds, budget = (3, 0.005) if quick else (15, 0.03)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs{' (quick mode)' if quick else ''}"
    )
    print("\n### Default memoize keys\n")
    print(key_builders(rounds, 2_000 if quick else 50_000))
    await run_group("In memory", memory_contenders(), rounds, budget)
    try:
        contenders, clients = redis_contenders()
        await clients[-1].ping()
    except Exception as error:  # the Redis half is optional
        print(f"\nRedis half skipped: {REDIS_URL} unreachable ({type(error).__name__})")
    else:
        try:
            await run_group("Redis (localhost)", contenders, rounds, budget * 2)
        finally:
            await cleanup(clients)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


BLOCKING_OPERATIONS = ("get-hit", "get-miss", "set", "memoized hit", "memoized miss")
BlockingCalls = dict[str, Callable[[], Any]]


def blocking_batch(count: int, call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count


def blocking_calls(get: Callable[[str], Any], put: Callable[[str, Any], Any], memo: Any) -> Any:
    put("bench:hit", VALUE)
    memo(7)
    fresh = itertools.count(8)  # a new argument per call: a miss, computed and stored
    return {
        "get-hit": lambda: get("bench:hit"),
        "get-miss": lambda: get("bench:absent"),
        "set": lambda: put("bench:set", VALUE),
        "memoized hit": lambda: memo(7),
        "memoized miss": lambda: memo(next(fresh)),
    }


def hand_memo(get: Callable[[str], Any], put: Callable[[str, Any], Any], tag: str) -> Any:
    def memo(value: int) -> Any:
        key = f"{tag}:{value}"
        found = get(key)
        if found is None:
            found = dict(VALUE, id=value)
            put(key, found)
        return found

    return memo


def blocking_memory() -> dict[str, BlockingCalls]:
    import threading

    raw, lock = cachetools.TTLCache(maxsize=10_000, ttl=60), threading.Lock()

    def raw_get(key: str) -> Any:
        with lock:
            try:
                return raw[key]
            except KeyError:
                return None

    def raw_set(key: str, value: Any) -> None:
        with lock:
            raw[key] = value

    ours = blocking.MemoryCache(max_size=10_000, default_ttl=60)
    memo = ours.memoize(lambda value: dict(VALUE, id=value), key_fn=lambda value: f"m:{value}")
    return {
        "infrakit.cache.sync MemoryCache": blocking_calls(ours.get, ours.set, memo),
        "cachetools TTLCache + threading.Lock (raw)": blocking_calls(
            raw_get, raw_set, hand_memo(raw_get, raw_set, "raw")
        ),
    }


def blocking_redis() -> tuple[dict[str, BlockingCalls], list[Any]]:
    import redis

    def raw_pair(client: Any) -> tuple[Callable[[str], Any], Callable[[str, Any], Any]]:
        def raw_get(key: str) -> Any:
            data = client.get(PREFIX + key)
            return None if data is None else json.loads(data)

        def raw_set(key: str, value: Any) -> None:
            client.set(PREFIX + key, json.dumps(value), px=60_000)

        return raw_get, raw_set

    ours = blocking.RedisCache(REDIS_URL, prefix=PREFIX, client_name="infrakit-bench-sync")
    memo = ours.memoize(lambda value: dict(VALUE, id=value), key_fn=lambda value: f"m:{value}")
    plain = redis.Redis.from_url(REDIS_URL)
    timed_out = redis.Redis.from_url(REDIS_URL, socket_timeout=1.0)
    contenders = {
        "infrakit.cache.sync RedisCache (timeout=1.0)": blocking_calls(ours.get, ours.set, memo)
    }
    for label, client in (("no socket timeout", plain), ("socket_timeout=1.0", timed_out)):
        get, put = raw_pair(client)
        memoized = hand_memo(get, put, label)
        contenders[f"redis.Redis raw, {label}"] = blocking_calls(get, put, memoized)
    return contenders, [ours, plain, timed_out]


def blocking_group(
    title: str, contenders: dict[str, BlockingCalls], rounds: int, count: int
) -> str:
    samples = {name: {op: [] for op in BLOCKING_OPERATIONS} for name in contenders}
    names = list(contenders)
    for order in turn_orders(names, rounds):
        for op in BLOCKING_OPERATIONS:
            for name in order:
                samples[name][op].append(blocking_batch(count, contenders[name][op]))
    baseline = names[1]
    lines = [
        f"\n### {title} (blocking calls; median us [fastest-slowest] of {rounds} rounds)\n",
        "| library | " + " | ".join(f"{op} us" for op in BLOCKING_OPERATIONS) + " |",
        "|---|" + "---:|" * len(BLOCKING_OPERATIONS),
    ]
    for name in names:
        cells = [cell(samples[name][op]) for op in BLOCKING_OPERATIONS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"| ops/s relative to {baseline} | " + " | ".join(BLOCKING_OPERATIONS) + " |",
        "|---|" + "---:|" * len(BLOCKING_OPERATIONS),
    ]
    for name in names:
        if name != baseline:
            cells = [
                f"{speedup(samples[baseline][op], samples[name][op]):.2f}x"
                for op in BLOCKING_OPERATIONS
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def blocking_section(quick: bool) -> None:
    rounds, memory_count, redis_count = (3, 500, 50) if quick else (15, 20_000, 500)
    print(blocking_group("In memory, blocking", blocking_memory(), rounds, memory_count))
    try:
        contenders, clients = blocking_redis()
        clients[1].ping()
    except Exception as error:  # the Redis half is optional
        print(f"\nBlocking Redis half skipped: {REDIS_URL} unreachable ({type(error).__name__})")
        return
    try:
        print(blocking_group("Redis (localhost), blocking", contenders, rounds, redis_count))
    finally:
        clients[0].clear()
        for client in clients:
            client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    quick_run = parser.parse_args().quick
    asyncio.run(main(quick_run))
    blocking_section(quick_run)
