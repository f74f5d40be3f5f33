"""Memoisation shared by every backend: default keys, result-based TTL, single-flight."""

from __future__ import annotations

import builtins
import functools
import inspect
import time
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, overload

from infrakit.cache._keys import default_key_builder, normalize_key
from infrakit.cache._protocol import Cache, TtlPolicy
from infrakit.cache._single_flight import SingleFlight

__all__ = ["MISSING", "MemoizeBackend", "Memoized", "memoize"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Returned by `_lookup` for an absent key, so a cached `None` can be told apart."""


class MemoizeBackend(Protocol):
    """What `Memoized` needs from a backend (the private half of every cache)."""

    _flight: SingleFlight

    async def _lookup(self, key: str, value_type: Any) -> Any: ...

    async def _store(self, key: str, value: Any, ttl: float | None) -> None: ...

    async def _load_or_compute(
        self, key: str, value_type: Any, compute: Callable[[], Awaitable[Any]]
    ) -> Any: ...

    async def delete(self, key: str) -> bool: ...


class Memoized:
    """An async function whose results are cached; call it like the function itself."""

    def __init__(
        self,
        fn: Callable[..., Awaitable[Any]],
        cache: MemoizeBackend,
        *,
        ttl: TtlPolicy,
        key_fn: Callable[..., str] | None,
        cache_none: bool,
        type: Any,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"memoize needs an async function, got {fn!r}")
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._cache = cache
        self._lookup = cache._lookup  # bound once: the warm path is this call and a key
        self._ttl = ttl
        self._cache_none = cache_none
        self._type = type
        self._type_resolved = type is not None
        self._default_key = default_key_builder(fn)
        self._key_fn = key_fn

    def key_for(self, *args: Any, **kwargs: Any) -> str:
        """The cache key a call with these arguments uses."""
        if self._key_fn is not None:
            return normalize_key(self._key_fn(*args, **kwargs))
        return self._default_key(args, kwargs)

    async def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Drop the cached result of the call with these arguments."""
        return await self._cache.delete(self.key_for(*args, **kwargs))

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # key_for() inlined: a method call is a measurable share of a warm hit
        key = (
            self._default_key(args, kwargs)
            if self._key_fn is None
            else normalize_key(self._key_fn(*args, **kwargs))
        )
        if not self._type_resolved:
            self._resolve_type()
        value = await self._lookup(key, self._type)
        if value is not MISSING:
            return value
        return await self._cache._flight.run(key, lambda: self._fill(key, args, kwargs))

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        """Bind like a method: `self` becomes the first argument (and part of the key)."""
        if instance is None:
            return self
        return functools.partial(self, instance)

    async def _fill(self, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return await self._cache._load_or_compute(
            key, self._type, lambda: self._compute(key, args, kwargs)
        )

    async def _compute(self, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        started = time.perf_counter()
        result = await self._fn(*args, **kwargs)
        if result is None and not self._cache_none:
            return result
        ttl = self._ttl
        if callable(ttl):
            ttl = ttl(result, time.perf_counter() - started)
        if ttl is None or ttl > 0:
            await self._cache._store(key, result, ttl)
        return result

    def _resolve_type(self) -> None:
        """Read the return annotation once, late, so forward references have resolved."""
        try:
            hint = typing.get_type_hints(self._fn).get("return")
        except Exception:  # an unresolvable annotation only costs typed decoding
            hint = None
        self._type = None if hint is Any else hint
        self._type_resolved = True


@overload
def memoize(
    fn: F,
    *,
    cache: Cache,
    ttl: TtlPolicy = ...,
    key_fn: Callable[..., str] | None = ...,
    cache_none: bool = ...,
    type: Any = ...,
) -> F: ...


@overload
def memoize(
    fn: None = None,
    *,
    cache: Cache,
    ttl: TtlPolicy = ...,
    key_fn: Callable[..., str] | None = ...,
    cache_none: bool = ...,
    type: Any = ...,
) -> Callable[[F], F]: ...


def memoize(
    fn: F | None = None,
    *,
    cache: Cache,
    ttl: TtlPolicy = None,
    key_fn: Callable[..., str] | None = None,
    cache_none: bool = False,
    type: Any = None,
) -> F | Callable[[F], F]:
    """`cache.memoize(...)` as a free function: `memoize(fn, cache=cache, ttl=60)`.

    Args and returns are those of `Cache.memoize`; `cache` is any infrakit cache.

    Raises:
        TypeError: `fn` is not an async function, or `cache` is not an infrakit cache.
    """
    if not hasattr(cache, "_load_or_compute"):
        raise TypeError(f"memoize needs an infrakit cache, got {builtins.type(cache).__name__}")
    backend = typing.cast(MemoizeBackend, cache)

    def decorate(function: Callable[..., Awaitable[Any]]) -> Any:
        return Memoized(function, backend, ttl=ttl, key_fn=key_fn, cache_none=cache_none, type=type)

    return decorate if fn is None else decorate(fn)
