"""`cache_from_url`: the one place a URL becomes a backend (used by the builder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infrakit.cache._protocol import Cache
from infrakit.errors import ConfigurationError

__all__ = ["cache_from_url"]

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def cache_from_url(url: str | None, **options: Any) -> Cache:
    """Build the cache a URL names: memory when None/empty or `memory://`, else Redis.

    `memory://?max_size=1000&default_ttl=60` sets the memory options from the URL;
    `redis://`, `rediss://` and `unix://` URLs give a `RedisCache` (needs the `redis`
    extra). `options` go to the constructor (`logger`, `prefix`, `default_ttl`...).

    Raises:
        ConfigurationError: the scheme is not one of those, or a memory option is not a number.
        MissingDependencyError: a Redis URL without the `redis` extra installed.
    """
    scheme = urlsplit(url).scheme if url else "memory"
    if scheme == "memory":
        from infrakit.cache.memory import MemoryCache

        query = dict(parse_qsl(urlsplit(url or "").query))
        for name, convert in (("max_size", int), ("default_ttl", float)):
            if name in query:
                options.setdefault(name, _number(query[name], name, convert))
        return MemoryCache(**options)
    if scheme in _REDIS_SCHEMES:
        from infrakit.cache.redis import RedisCache

        return RedisCache(url or "", **options)
    raise ConfigurationError(
        "CACHE_URL must start with memory://, redis://, rediss:// or unix://",
        details={"scheme": scheme},
    )


def _number(text: str, name: str, convert: Callable[[str], float]) -> float:
    try:
        return convert(text)
    except ValueError as error:
        raise ConfigurationError(
            f"CACHE_URL option {name} must be a number", details={"option": name}
        ) from error
