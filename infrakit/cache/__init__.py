"""An async cache: in memory (cachetools) or Redis, two-level, with stampede-safe memoize.

Only the names in `__all__` are public. `RedisCache` and `TieredCache` are imported
on first use, so `import infrakit.cache` works without the `redis` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infrakit.cache._factory import cache_from_url
from infrakit.cache._memoize import memoize
from infrakit.cache._protocol import (
    Cache,
    CacheError,
    CacheStats,
    CircuitState,
    Memoized,
    TtlPolicy,
)
from infrakit.cache._rules import MAX_KEY_LENGTH, MAX_TTL
from infrakit.cache._serializer import JsonSerializer, Serializer, SignedPickleSerializer
from infrakit.cache._settings import CacheSettings
from infrakit.cache.memory import MemoryCache

if TYPE_CHECKING:
    from infrakit.cache.redis import RedisCache
    from infrakit.cache.tiered import TieredCache

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_TTL",
    "Cache",
    "CacheError",
    "CacheSettings",
    "CacheStats",
    "CircuitState",
    "JsonSerializer",
    "Memoized",
    "MemoryCache",
    "RedisCache",
    "Serializer",
    "SignedPickleSerializer",
    "TieredCache",
    "TtlPolicy",
    "cache_from_url",
    "memoize",
]

_LAZY = {"RedisCache": "infrakit.cache.redis", "TieredCache": "infrakit.cache.tiered"}


def __getattr__(name: str) -> Any:
    """Import the Redis-backed classes when first asked for (they need the extra)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'infrakit.cache' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
