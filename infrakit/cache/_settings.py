"""`CacheSettings`: the `CACHE_*` keys, the cache they make, and the required-cache check."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from infrakit._internal.secrets import mask_dsn
from infrakit.errors import InitializationError

if TYPE_CHECKING:
    from infrakit.cache._blocking import BlockingCache
    from infrakit.cache._protocol import Cache
    from infrakit.config import ConfigReader
    from infrakit.log import Logger

__all__ = ["CacheSettings"]


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Which cache to build (`cache_from_url`) and whether it must be reachable at start.

    Attributes:
        url: `CACHE_URL`; None is the in-process cache, `redis://...` a `RedisCache`.
        prefix: `CACHE_PREFIX`, the Redis key prefix (None: the backend's default).
        require: `CACHE_REQUIRED` (true/false, 1/0, yes/no, on/off): an unreachable cache
            fails the start instead of running on misses.
    """

    url: str | None = None
    prefix: str | None = None
    require: bool = False

    def __repr__(self) -> str:
        url = None if self.url is None else mask_dsn(self.url)
        return f"CacheSettings(url={url!r}, prefix={self.prefix!r}, require={self.require!r})"

    @classmethod
    def from_config(
        cls,
        config: ConfigReader,
        *,
        url: str | None = None,
        prefix: str | None = None,
        require: bool | None = None,
    ) -> CacheSettings:
        """Read `CACHE_URL`, `CACHE_PREFIX`, `CACHE_REQUIRED`; an override not None wins.

        Raises:
            ConfigurationError: `CACHE_REQUIRED` is not a boolean (the error names the key).
        """
        return cls(
            url=url or config.get_str("CACHE_URL", "") or None,
            prefix=prefix or config.get_str("CACHE_PREFIX", "") or None,
            require=require if require is not None else config.get_bool("CACHE_REQUIRED", False),
        )

    @overload
    def create(self, *, logger: Logger | None = None, sync: Literal[False] = False) -> Cache: ...
    @overload
    def create(self, *, logger: Logger | None = None, sync: Literal[True]) -> BlockingCache: ...
    @overload
    def create(self, *, logger: Logger | None = None, sync: bool) -> Cache | BlockingCache: ...

    def create(self, *, logger: Logger | None = None, sync: bool = False) -> Cache | BlockingCache:
        """The cache `url` names (`cache_from_url`); `sync=True` gives the blocking form.

        Raises:
            ConfigurationError: the URL's scheme or an option is unknown (`cache_from_url`).
        """
        if sync:
            from infrakit.cache.sync import cache_from_url as blocking_cache_from_url

            return blocking_cache_from_url(self.url, prefix=self.prefix, logger=logger)
        from infrakit.cache._factory import cache_from_url

        return cache_from_url(self.url, prefix=self.prefix, logger=logger)

    async def start(self, cache: Any) -> None:
        """Subscribe a tiered cache; with `require`, refuse to start on an unreachable one.

        `cache` is either form (the blocking one's methods return their result).

        Raises:
            InitializationError: `require` is set and the cache does not answer; the
                message names its masked URL.
        """
        start = getattr(cache, "start", None)
        if start is not None:
            await _settled(start())
        if self.require and not await _settled(cache.health()):
            url = getattr(cache, "url", None) or "(a client passed in)"
            raise InitializationError(
                f"the cache at {url} is unreachable and CACHE_REQUIRED is set",
                details={"component": "cache", "url": url},
            )


async def _settled(outcome: Any) -> Any:
    """The result of a call to a cache of either form (awaited when it is a coroutine)."""
    return await outcome if inspect.isawaitable(outcome) else outcome
