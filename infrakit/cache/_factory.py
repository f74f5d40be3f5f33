"""`cache_from_url`: the one place a URL becomes a backend (used by the builder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infrakit._internal.secrets import mask_dsn
from infrakit.cache._protocol import Cache
from infrakit.errors import ConfigurationError

__all__ = ["build_from_url", "cache_from_url"]

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
_MEMORY_OPTIONS: dict[str, Callable[[str], float]] = {"max_size": int, "default_ttl": float}


def cache_from_url(url: str | None, *, prefix: str | None = None, **options: Any) -> Cache:
    """Build the cache a URL names: memory when None/empty or `memory://`, else Redis.

    `memory://?max_size=1000&default_ttl=60` sets the memory options from the URL;
    `redis://`, `rediss://` and `unix://` URLs give a `RedisCache` (needs the `redis`
    extra). `prefix` is the Redis key prefix (an in-process cache has no shared
    namespace, so it is ignored there); `options` go to the constructor (`logger`,
    `default_ttl`...).

    Raises:
        ConfigurationError: the scheme is not one of those, a memory option is unknown
            or not a number, or a Redis URL has an unknown option.
        MissingDependencyError: a Redis URL without the `redis` extra installed.
    """
    from infrakit.cache.memory import MemoryCache

    def redis(redis_url: str, **redis_options: Any) -> Any:
        from infrakit.cache.redis import RedisCache

        return RedisCache(redis_url, **redis_options)

    return build_from_url(url, prefix, options, MemoryCache, redis)  # type: ignore[no-any-return]


def build_from_url(
    url: str | None,
    prefix: str | None,
    options: dict[str, Any],
    memory: Callable[..., Any],
    redis: Callable[..., Any],
) -> Any:
    """The URL rules of `cache_from_url`, for either form's classes (`memory`, `redis`)."""
    try:
        parts = urlsplit(url or "")
    except ValueError as error:
        raise ConfigurationError(
            "CACHE_URL is not a valid URL", details={"url": mask_dsn(url or "")}
        ) from error
    scheme = parts.scheme if url else "memory"
    if scheme == "memory":
        for name, text in parse_qsl(parts.query, keep_blank_values=True):
            options.setdefault(name, _memory_option(name, text))
        return memory(**options)
    if scheme in _REDIS_SCHEMES:
        if prefix is not None:
            options["prefix"] = prefix
        return redis(url or "", **options)
    raise ConfigurationError(
        "CACHE_URL must start with memory://, redis://, rediss:// or unix://",
        details={"scheme": scheme},
    )


def _memory_option(name: str, text: str) -> float:
    convert = _MEMORY_OPTIONS.get(name)
    if convert is None:
        raise ConfigurationError(
            f"CACHE_URL has an unknown memory option {name!r}; known: max_size, default_ttl",
            details={"option": name},
        )
    try:
        return convert(text)
    except ValueError as error:
        raise ConfigurationError(
            f"CACHE_URL option {name} must be a number", details={"option": name}
        ) from error
