"""An awaitable view of an `infrakit.cache.sync` cache, so the conformance suite runs on it.

Each blocking call runs on a thread of its own pool (enough threads for the suite's
100 concurrent callers, so they really are concurrent, as under a WSGI server). The
suite's async functions handed to `memoize` / `get_or_set` become plain functions that
run them back on the test's event loop; `memoize` itself is the blocking form's.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PASSED_THROUGH = frozenset({"get_stats", "circuit", "url", "prefix", "default_ttl", "client"})
_THREADS = ThreadPoolExecutor(max_workers=128, thread_name_prefix="sync-cache-view")


class AsyncCacheView:
    """Blocking methods become coroutines; `memoize` wraps the blocking memoize."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.blocking = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.blocking, name)
        if name in PASSED_THROUGH or not callable(attribute):
            return attribute
        return functools.partial(self._call, attribute)

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        args = tuple(self._on_loop(arg) if callable(arg) else arg for arg in args)
        call = functools.partial(method, *args, **kwargs)
        return await self._loop.run_in_executor(_THREADS, call)

    def _on_loop(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """A plain function that runs the async `function` on the test's loop."""
        loop = self._loop

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            coroutine = function(*args, **kwargs)
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

        return run

    def memoize(self, fn: Callable[..., Any] | None = None, **options: Any) -> Any:
        def decorate(function: Callable[..., Any]) -> Any:
            memoized = self.blocking.memoize(self._on_loop(function), **options)

            @functools.wraps(function)
            async def call(*args: Any, **kwargs: Any) -> Any:
                return await self._call(memoized, *args, **kwargs)

            async def invalidate(*args: Any, **kwargs: Any) -> bool:
                return await self._call(memoized.invalidate, *args, **kwargs)  # type: ignore[no-any-return]

            call.invalidate = invalidate  # type: ignore[attr-defined]
            call.key_for = memoized.key_for  # type: ignore[attr-defined]
            return call

        return decorate if fn is None else decorate(fn)
