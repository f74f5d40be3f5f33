"""cache_from_url and the path without the `redis` extra."""

from __future__ import annotations

import gc
import importlib
import sys

import pytest

import infrakit
from infrakit.cache import MemoryCache, cache_from_url
from infrakit.errors import ConfigurationError, MissingDependencyError


async def test_memory_by_default_and_from_url() -> None:
    assert isinstance(cache_from_url(None), MemoryCache)
    assert isinstance(cache_from_url(""), MemoryCache)
    cache = cache_from_url("memory://?max_size=5&default_ttl=2.5")
    assert isinstance(cache, MemoryCache)
    assert (cache.max_size, cache.default_ttl) == (5, 2.5)
    await cache.close()


@pytest.mark.redis
async def test_redis_url_gives_a_working_redis_cache(redis_url: str) -> None:
    from infrakit.cache import RedisCache

    cache = cache_from_url(redis_url, prefix="infrakit-test:factory:")
    try:
        assert isinstance(cache, RedisCache)
        assert await cache.health() is True
    finally:
        await cache.close()


def test_unknown_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        cache_from_url("memcached://localhost")


def test_a_memory_option_that_is_not_a_number_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="max_size") as raised:
        cache_from_url("memory://?max_size=lots")
    assert "lots" not in raised.value.message
    assert isinstance(raised.value.__cause__, ValueError)


def test_missing_redis_extra_is_reported_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "redis" is blocked first: dropping the modules below can run finalizers of objects
    # from earlier tests (when the collector runs depends on the whole session), and one
    # that imports would otherwise bring redis and `infrakit.cache.redis` straight back.
    monkeypatch.setitem(sys.modules, "redis", None)
    for _ in range(2):  # again after the collection, for what a finalizer imported
        for name in list(sys.modules):
            if name.startswith(("redis.", "infrakit.cache")):
                monkeypatch.delitem(sys.modules, name)
        gc.collect()
    monkeypatch.delattr(infrakit, "cache")  # restored afterwards, with sys.modules
    cache_module = importlib.import_module("infrakit.cache")
    assert cache_module.MemoryCache is not None
    with pytest.raises(MissingDependencyError, match=r"infrakit\[redis\]"):
        cache_module.cache_from_url("redis://localhost:6379/0")
    with pytest.raises(MissingDependencyError):
        _ = cache_module.RedisCache
