"""Backends for the conformance suite: each test gets a fresh cache under its own prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from infrakit.cache import Cache, MemoryCache
from tests.cache.sync_view import AsyncCacheView
from tests.recording import RecordingLogger

BACKENDS = [
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("tiered", marks=pytest.mark.redis),
    "sync-memory",  # infrakit.cache.sync, seen through AsyncCacheView (threads)
    pytest.param("sync-redis", marks=pytest.mark.redis),
    pytest.param("sync-tiered", marks=pytest.mark.redis),
]
CLIENT_NAME = "infrakit-cache-tests"
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


class FakeClock:
    """A monotonic clock that moves only when told, for `MemoryCache(clock=...)`."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll `check` until it holds (bounded): pub/sub delivery and Redis expiry take time."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


class Backend:
    """A cache under test, and how to let time pass for it."""

    def __init__(
        self, name: str, cache: Any, logger: RecordingLogger, clock: FakeClock | None = None
    ) -> None:
        self.name = name
        self.cache = cache
        self.logger = logger
        self.clock = clock

    async def elapse(self, seconds: float, until: Callable[[], Awaitable[bool]]) -> None:
        """Let `seconds` pass (at once on the fake clock), then require `until` to hold."""
        if self.clock is not None:
            self.clock.advance(seconds)
            assert await until()
        else:
            await eventually(until, within=seconds + 5.0)


def unique_prefix() -> str:
    return f"infrakit-test:{uuid.uuid4().hex}:"


def make_redis(url: str, prefix: str, **options: Any) -> Any:
    from infrakit.cache import RedisCache

    return RedisCache(url, prefix=prefix, client_name=CLIENT_NAME, **options)


def make_tiered(url: str, prefix: str, **options: Any) -> Any:
    from infrakit.cache import TieredCache

    logger = options.get("logger")
    return TieredCache(
        MemoryCache(default_ttl=60), make_redis(url, prefix, **options), logger=logger
    )


async def dispose(cache: Any) -> None:
    if hasattr(cache, "redis") or hasattr(cache, "client"):
        await cache.clear()
    await cache.close()


async def kill_connections(admin: Any, *, subscribers_only: bool = False) -> int:
    """`CLIENT KILL` this suite's connections (only the pub/sub ones when asked)."""
    killed = 0
    for client in await admin.client_list():
        if client.get("name") != CLIENT_NAME:
            continue
        if subscribers_only and int(client.get("sub", 0)) == 0:
            continue
        await admin.client_kill_filter(_id=client["id"])
        killed += 1
    return killed


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """A fresh, empty cache of each backend, its keys deleted afterwards."""
    logger = RecordingLogger()
    if request.param.startswith("sync-"):
        chosen = _sync_backend(request, logger)
    elif request.param == "memory":
        clock = FakeClock()
        created = MemoryCache(max_size=1000, default_ttl=60, clock=clock, logger=logger)
        chosen = Backend("memory", created, logger, clock)
    else:
        url = request.getfixturevalue("redis_url")
        factory = make_redis if request.param == "redis" else make_tiered
        chosen = Backend(
            request.param, factory(url, unique_prefix(), default_ttl=60, logger=logger), logger
        )
    try:
        yield chosen
    finally:
        await dispose(chosen.cache)


def _sync_backend(request: pytest.FixtureRequest, logger: RecordingLogger) -> Backend:
    from infrakit.cache import sync

    loop = asyncio.get_running_loop()
    if request.param == "sync-memory":
        clock = FakeClock()
        memory = sync.MemoryCache(max_size=1000, default_ttl=60, clock=clock, logger=logger)
        return Backend(request.param, AsyncCacheView(memory, loop), logger, clock)
    url = request.getfixturevalue("redis_url")
    redis = sync.RedisCache(
        url, prefix=unique_prefix(), client_name=CLIENT_NAME, default_ttl=60, logger=logger
    )
    if request.param == "sync-tiered":
        memory = sync.MemoryCache(default_ttl=60)
        tiered = sync.TieredCache(memory, redis, logger=logger)
        return Backend(request.param, AsyncCacheView(tiered, loop), logger)
    return Backend(request.param, AsyncCacheView(redis, loop), logger)


@pytest.fixture
def cache(backend: Backend) -> Cache:
    """The cache of `backend`, for tests that need no clock."""
    return backend.cache  # type: ignore[no-any-return]
