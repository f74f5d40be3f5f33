"""Memoise a slow lookup in the in-process cache: stampede protection and result-based TTL.

Runs with no server: `cd examples && python cache_memoize.py`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from infrakit.cache import MemoryCache


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: float
    stale: bool


def ttl_for(quote: Quote, execution_time: float) -> float:
    """Keep fresh quotes a while, retry stale ones soon; slow sources earn a longer TTL."""
    if quote.stale:
        return 0.2
    return 5.0 + 10 * execution_time


async def main() -> None:
    calls: list[str] = []
    async with MemoryCache(max_size=1_000, default_ttl=60) as cache:

        @cache.memoize(ttl=ttl_for)
        async def fetch_quote(symbol: str) -> Quote:
            calls.append(symbol)
            await asyncio.sleep(0.05)  # a slow upstream service
            return Quote(symbol, 101.5, stale=symbol.startswith("OLD"))

        started = time.perf_counter()
        quotes = await asyncio.gather(*(fetch_quote("ACME") for _ in range(100)))
        elapsed = time.perf_counter() - started
        print(f"100 concurrent callers -> upstream called {calls.count('ACME')} time(s)")
        print(f"   every caller got {quotes[0]} in {elapsed * 1000:.0f} ms")

        started = time.perf_counter()
        for _ in range(10_000):
            await fetch_quote("ACME")
        per_call = (time.perf_counter() - started) / 10_000 * 1e6
        print(f"warm memoised call: {per_call:.2f} us")

        await fetch_quote("OLDCO")
        await asyncio.sleep(0.3)  # the stale quote's short TTL has run out
        await fetch_quote("OLDCO")
        print(f"stale quote re-fetched after its short TTL: {calls.count('OLDCO')} calls")

        stats = cache.get_stats()  # synchronous: its own counters, no I/O
        print(
            f"stats: hits={stats.hits} misses={stats.misses} size={stats.size} "
            f"hit_ratio={stats.hit_ratio:.3f} stampedes_suppressed={stats.stampedes_suppressed}"
        )
        assert calls.count("ACME") == 1
        assert calls.count("OLDCO") == 2


if __name__ == "__main__":
    asyncio.run(main())
