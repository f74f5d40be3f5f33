"""Backends for the conformance suite: each test gets a fresh cache under its own prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from infrakit.cache import Cache, MemoryCache

BACKENDS = [
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("tiered", marks=pytest.mark.redis),
]
CLIENT_NAME = "infrakit-cache-tests"


class RecordingLogger:
    """A Logger that keeps its records, to assert what the cache reported."""

    name = "test"

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, level: str, message: str, **metadata: Any) -> None:
        self.records.append((level, message, metadata))

    def debug(self, message: str, /, **metadata: Any) -> None:
        self._record("debug", message, **metadata)

    def info(self, message: str, /, **metadata: Any) -> None:
        self._record("info", message, **metadata)

    def warning(self, message: str, /, **metadata: Any) -> None:
        self._record("warning", message, **metadata)

    def error(self, message: str, /, **metadata: Any) -> None:
        self._record("error", message, **metadata)


def unique_prefix() -> str:
    return f"infrakit-test:{uuid.uuid4().hex}:"


def make_redis(url: str, prefix: str, **options: Any) -> Any:
    from infrakit.cache import RedisCache

    return RedisCache(url, prefix=prefix, client_name=CLIENT_NAME, **options)


def make_tiered(url: str, prefix: str, **options: Any) -> Any:
    from infrakit.cache import TieredCache

    return TieredCache(MemoryCache(default_ttl=60), make_redis(url, prefix, **options))


async def dispose(cache: Any) -> None:
    if hasattr(cache, "redis") or hasattr(cache, "client"):
        await cache.clear()
    await cache.close()


@pytest.fixture(params=BACKENDS)
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    """A fresh, empty cache of each backend, its keys deleted afterwards."""
    if request.param == "memory":
        created: Any = MemoryCache(max_size=1000, default_ttl=60)
    else:
        url = request.getfixturevalue("redis_url")
        factory = make_redis if request.param == "redis" else make_tiered
        created = factory(url, unique_prefix(), default_ttl=60)
    try:
        yield created
    finally:
        await dispose(created)
