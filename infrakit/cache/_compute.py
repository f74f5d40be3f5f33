"""What happens on a miss, written once for every backend: compute, decide the TTL, store.

A backend's `get_or_set` looks the key up, then runs `fill` inside its single-flight
(and, on Redis, under its cross-process lock), giving it its own `store` coroutine.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from infrakit.cache._protocol import CacheError, TtlPolicy
from infrakit.cache._rules import check_ttl, skips_storing

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = [
    "check_policy",
    "check_timeout",
    "default_logger",
    "fill",
    "fill_blocking",
    "storing_ttl",
]


def check_policy(ttl: TtlPolicy) -> TtlPolicy:
    """Validate a static TTL now (a callable policy is checked per result).

    Raises:
        CacheError: `CACHE_INVALID_TTL` for a static value the TTL rule refuses.
    """
    return ttl if callable(ttl) else check_ttl(ttl)


def check_timeout(timeout: Any) -> float | None:
    """A computation timeout follows the TTL rule: None or finite positive seconds."""
    return check_ttl(timeout, "timeout")


async def fill(
    compute: Callable[[], Awaitable[Any]],
    store: Callable[[Any, float | None], Awaitable[object]],
    *,
    ttl: TtlPolicy,
    cache_none: bool,
    logger: Callable[[], Logger],
) -> Any:
    """Run `compute()`, then `store(result, ttl)` unless the result is not to be kept."""
    started = time.perf_counter()
    result = await compute()
    seconds = storing_ttl(result, started, ttl=ttl, cache_none=cache_none, logger=logger)
    if seconds is not False:
        await store(result, seconds)
    return result


def fill_blocking(
    compute: Callable[[], Any],
    store: Callable[[Any, float | None], object],
    *,
    ttl: TtlPolicy,
    cache_none: bool,
    logger: Callable[[], Logger],
) -> Any:
    """`fill` for the blocking caches of `infrakit.cache.sync`: the same decisions."""
    started = time.perf_counter()
    result = compute()
    seconds = storing_ttl(result, started, ttl=ttl, cache_none=cache_none, logger=logger)
    if seconds is not False:
        store(result, seconds)
    return result


def storing_ttl(
    result: Any,
    started: float,
    *,
    ttl: TtlPolicy,
    cache_none: bool,
    logger: Callable[[], Logger],
) -> float | bool | None:
    """The TTL to store `result` with, or False when it is not to be kept."""
    if result is None and not cache_none:
        return False
    if callable(ttl):
        return _apply_policy(ttl, result, time.perf_counter() - started, logger)
    return ttl


def _apply_policy(
    policy: Callable[[Any, float], float | None],
    result: Any,
    elapsed: float,
    logger: Callable[[], Logger],
) -> float | bool | None:
    """The policy's TTL; False to skip storing; a bad answer is logged and gives None."""
    try:
        chosen = policy(result, elapsed)
        if skips_storing(chosen):
            return False
        return check_ttl(chosen)
    except Exception as error:
        code = error.code if isinstance(error, CacheError) else type(error).__name__
        logger().warning(
            "cache ttl policy gave no valid ttl; the default ttl applies",
            policy=getattr(policy, "__qualname__", type(policy).__name__),
            error=code,
        )
        return None


def default_logger() -> Logger:
    """The cache's logger when none was given (imported late: log is a sibling module)."""
    from infrakit.log import get_logger

    return get_logger("infrakit.cache")
