"""Memoisation over the public `Cache` Protocol: default keys, result-based TTL, timeouts.

`memoize` needs nothing but `cache.get_or_set` (and `cache.delete` for `invalidate`),
so it works on any `Cache`; single-flight and the cross-process lock live in the
backends' `get_or_set`.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, overload

from infrakit.cache._compute import check_policy, check_timeout
from infrakit.cache._keys import default_key_builder
from infrakit.cache._protocol import Cache, Memoized, TtlPolicy

__all__ = ["MISSING", "Options", "memoize", "options_of", "wrap_blocking"]

P = ParamSpec("P")
R = TypeVar("R")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""A private `default` for lookups, so a cached `None` can be told apart from a miss."""


@overload
def memoize(
    fn: Callable[P, Awaitable[R]],
    *,
    cache: Cache,
    ttl: TtlPolicy = ...,
    key_fn: Callable[..., str] | None = ...,
    cache_none: bool = ...,
    type: Any = ...,
    timeout: float | None = ...,
) -> Memoized[P, R]: ...


@overload
def memoize(
    fn: None = None,
    *,
    cache: Cache,
    ttl: TtlPolicy = ...,
    key_fn: Callable[..., str] | None = ...,
    cache_none: bool = ...,
    type: Any = ...,
    timeout: float | None = ...,
) -> Callable[[Callable[P, Awaitable[R]]], Memoized[P, R]]: ...


def memoize(
    fn: Callable[P, Awaitable[R]] | None = None,
    *,
    cache: Cache,
    ttl: TtlPolicy = None,
    key_fn: Callable[..., str] | None = None,
    cache_none: bool = False,
    type: Any = None,
    timeout: float | None = None,
) -> Memoized[P, R] | Callable[[Callable[P, Awaitable[R]]], Memoized[P, R]]:
    """`cache.memoize(...)` as a free function: `memoize(fn, cache=cache, ttl=60)`.

    Args and returns are those of `Cache.memoize`; `cache` is any `Cache`.

    Raises:
        TypeError: `fn` is not an async function, or `cache` is not a `Cache`.
        CacheError: `ttl` or `timeout` is not a valid number of seconds.
    """
    if not isinstance(cache, Cache):
        raise TypeError(f"memoize needs a Cache, got {builtins.type(cache).__name__}")
    options = options_of(ttl, key_fn, cache_none, type, timeout)

    def decorate(function: Callable[P, Awaitable[R]]) -> Memoized[P, R]:
        return _wrap(function, cache, options)

    return decorate if fn is None else decorate(fn)


class Options(typing.NamedTuple):
    """memoize's checked options, the same for the async and the blocking form."""

    ttl: TtlPolicy
    key_fn: Callable[..., str] | None
    cache_none: bool
    type: Any
    timeout: float | None


def options_of(
    ttl: TtlPolicy,
    key_fn: Callable[..., str] | None,
    cache_none: bool,
    type: Any,
    timeout: float | None,
) -> Options:
    """Check a static TTL and the timeout at decoration time."""
    return Options(check_policy(ttl), key_fn, cache_none, type, check_timeout(timeout))


class _Keys:
    """The key of one memoised function's call, and its return type read once, late."""

    __slots__ = ("_default", "_fn", "_key_fn", "_type")

    def __init__(self, fn: Callable[..., Any], options: Options) -> None:
        self._fn = fn
        self._default = default_key_builder(fn)
        self._key_fn = options.key_fn
        self._type = [options.type, options.type is not None]  # [type, resolved]

    def key_for(self, *args: Any, **kwargs: Any) -> str:
        if self._key_fn is None:
            return self._default(args, kwargs)
        return self._key_fn(*args, **kwargs)

    def value_type(self) -> Any:
        if not self._type[1]:
            self._type[:] = [_return_type(self._fn), True]
        return self._type[0]


def wrap_blocking(fn: Callable[P, R], cache: Any, options: Options) -> Any:
    """The blocking form's wrapper: `cache.get_or_set` of `infrakit.cache.sync` on a miss."""
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"infrakit.cache.sync memoizes plain functions, got {fn!r}")
    keys, get_or_set = _Keys(fn, options), cache.get_or_set

    def invalidate(*args: P.args, **kwargs: P.kwargs) -> bool:
        return bool(cache.delete(keys.key_for(*args, **kwargs)))

    @functools.wraps(fn)
    def memoized(*args: P.args, **kwargs: P.kwargs) -> R:
        return get_or_set(  # type: ignore[no-any-return]
            keys.key_for(*args, **kwargs),
            lambda: fn(*args, **kwargs),
            ttl=options.ttl,
            type=keys.value_type(),
            cache_none=options.cache_none,
            compute_timeout=options.timeout,
        )

    memoized.invalidate = invalidate  # type: ignore[attr-defined]
    memoized.key_for = keys.key_for  # type: ignore[attr-defined]
    return memoized


def _wrap(fn: Callable[P, Awaitable[R]], cache: Cache, options: Options) -> Memoized[P, R]:
    """An `async def` wrapper (a real coroutine function), carrying `invalidate`/`key_for`."""
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"memoize needs an async function, got {fn!r}")
    key_fn, ttl, cache_none, timeout = (
        options.key_fn,
        options.ttl,
        options.cache_none,
        options.timeout,
    )
    default_key = default_key_builder(fn)
    get_or_set = cache.get_or_set  # bound once: the warm path is this call and a key
    value_type = [options.type, options.type is not None]  # [type, resolved]

    def key_for(*args: P.args, **kwargs: P.kwargs) -> str:
        return default_key(args, kwargs) if key_fn is None else key_fn(*args, **kwargs)

    async def invalidate(*args: P.args, **kwargs: P.kwargs) -> bool:
        return await cache.delete(key_for(*args, **kwargs))

    @functools.wraps(fn)
    async def memoized(*args: P.args, **kwargs: P.kwargs) -> R:
        key = default_key(args, kwargs) if key_fn is None else key_fn(*args, **kwargs)
        if not value_type[1]:
            value_type[:] = [_return_type(fn), True]
        return await get_or_set(
            key,
            lambda: fn(*args, **kwargs),
            ttl=ttl,
            type=value_type[0],
            cache_none=cache_none,
            compute_timeout=timeout,
        )

    memoized.invalidate = invalidate  # type: ignore[attr-defined]
    memoized.key_for = key_for  # type: ignore[attr-defined]
    return typing.cast(Memoized[P, R], memoized)


def _return_type(fn: Callable[..., Any]) -> Any:
    """Read the return annotation once, late, so forward references have resolved."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # an unresolvable annotation only costs typed decoding
        hint = None
    return None if hint is Any else hint
