"""The input rules every backend applies the same way: what a TTL and a key may be.

Written once so that `MemoryCache`, `RedisCache` and `TieredCache` refuse the same
values with the same error (the conformance suite checks it on each backend).
"""

from __future__ import annotations

import hashlib
from typing import Any

from infrakit.cache._protocol import CacheError

__all__ = [
    "DO_NOT_STORE",
    "MAX_KEY_LENGTH",
    "MAX_TTL",
    "check_ttl",
    "normalize_key",
    "skips_storing",
]

MAX_KEY_LENGTH = 250
"""Longer keys are replaced by `sha256:<hex digest>` (memcached's limit, safe everywhere)."""

MAX_TTL = 10**10
"""The longest TTL in seconds (about 317 years): far inside Redis' range; use None for ever."""

DO_NOT_STORE = 0
"""What a TTL policy returns to leave one result out of the cache."""


def check_ttl(ttl: Any, field: str = "ttl") -> float | None:
    """Return `ttl` if it is None or a finite number of seconds in (0, MAX_TTL].

    Booleans, strings, NaN, infinities, zero, negatives and values above `MAX_TTL`
    are refused; the message names the field, never the value.

    Raises:
        CacheError: `CACHE_INVALID_TTL`, with `details={"field": field}`.
    """
    if ttl is None:
        return None
    kind = type(ttl)
    if (kind is int or kind is float) and 0 < ttl <= MAX_TTL:
        return ttl  # type: ignore[no-any-return]
    if isinstance(ttl, int | float) and not isinstance(ttl, bool) and 0 < ttl <= MAX_TTL:
        return float(ttl)  # an int or float subclass (numpy.float64, IntEnum)
    raise CacheError(
        f"{field} must be None (no expiry) or a number of seconds greater than 0 "
        f"and at most {MAX_TTL}",
        code="CACHE_INVALID_TTL",
        details={"field": field},
    )


def skips_storing(ttl: Any) -> bool:
    """True when a TTL policy returned `0`: "do not store this result" (documented)."""
    return (type(ttl) is int or type(ttl) is float) and ttl == DO_NOT_STORE


def normalize_key(key: Any) -> str:
    """Return the key as stored: `key`, or its sha256 form when longer than `MAX_KEY_LENGTH`.

    Raises:
        CacheError: `CACHE_KEY_ERROR` when `key` is not a `str` or cannot be encoded as
            UTF-8 (a lone surrogate), which no backend could store the same way.
    """
    if type(key) is str and len(key) <= MAX_KEY_LENGTH and key.isascii():
        return key
    return _checked_key(key)


def _checked_key(key: Any) -> str:
    if not isinstance(key, str):
        raise CacheError(
            f"a cache key must be a str, got {type(key).__name__}",
            code="CACHE_KEY_ERROR",
            details={"field": "key", "type": type(key).__name__},
        )
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CacheError(
            "a cache key must be encodable as UTF-8 (it holds a lone surrogate)",
            code="CACHE_KEY_ERROR",
            details={"field": "key"},
        ) from error
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(encoded).hexdigest()
