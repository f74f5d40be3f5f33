"""Several processes share one Redis: a cold memoised value is computed once among them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.cache.conftest import dispose, make_redis, unique_prefix

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import asyncio, sys
from infrakit.cache import MemoryCache, RedisCache, TieredCache

async def main(url, prefix, kind):
    redis = RedisCache(url, prefix=prefix, client_name="infrakit-cache-tests")
    cache = redis if kind == "redis" else TieredCache(MemoryCache(), redis)
    async with cache:
        @cache.memoize(key_fn=lambda: "cold", ttl=30)
        async def compute() -> int:
            await redis.client.incr(prefix + "calls")
            await asyncio.sleep(0.3)
            return 42

        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        results = await asyncio.gather(*(compute() for _ in range(50)))
        print("results", sum(results), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


async def _run_workers(url: str, prefix: str, kind: str, count: int) -> list[str]:
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            url,
            prefix,
            kind,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(count)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 30)).strip() == b"ready"
    outputs = []
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    for worker in workers:
        stdout, _ = await asyncio.wait_for(worker.communicate(), 30)
        assert worker.returncode == 0
        outputs.append(stdout.decode().strip())
    return outputs


@pytest.mark.parametrize("kind", ["redis", "tiered"])
async def test_two_processes_compute_a_cold_value_once(redis_url: str, kind: str) -> None:
    prefix = unique_prefix()
    observer = make_redis(redis_url, prefix)
    try:
        outputs = await _run_workers(redis_url, prefix, kind, 2)
        assert outputs == ["results 2100", "results 2100"]
        assert await observer.client.get(prefix + "calls") == b"1"
    finally:
        await dispose(observer)
