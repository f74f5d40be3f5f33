"""An awaitable view of `infrakit.db.sync` objects, so one suite runs over both forms.

Each blocking call runs in a worker thread (`asyncio.to_thread`), so a test that
gathers several calls really runs them at once, on the sync pool from several
threads, as a WSGI server would. Async callbacks and hooks the suite hands over run
back on the test's event loop. Nothing is faked: every statement goes through the
blocking `Database`, `Transaction`, `TransactionScope` and `QueryBuilder`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

from infrakit.db import sync

BLOCKING = frozenset(
    {
        "query",
        "fetch_all",
        "fetch_one",
        "fetch_value",
        "execute",
        "execute_many",
        "health",
        "open",
        "close",
        "with_transaction",
        "migrate",
        "get_many",
        "get_one",
        "count",
        "exists",
    }
)
WRAPPED = (sync.Database, sync.Transaction, sync.TransactionScope, sync.QueryBuilder)


def view(target: Any, loop: asyncio.AbstractEventLoop) -> Any:
    return AsyncView(target, loop) if isinstance(target, WRAPPED) else target


class AsyncView:
    """Blocking methods become coroutines; everything else passes through."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    @property
    def blocking(self) -> Any:
        """The sync object behind the view."""
        return self._target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        if name == "on_commit":
            return lambda hook: attribute(self._on_loop(hook))
        if name in BLOCKING:
            return functools.partial(self._call, attribute)
        return lambda *args, **kwargs: view(attribute(*args, **kwargs), self._loop)

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        args = tuple(self._on_loop(arg) if callable(arg) else arg for arg in args)
        result = await asyncio.to_thread(method, *args, **kwargs)
        return view(result, self._loop)

    def _on_loop(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """A blocking callable that runs `function` (async or not) for a worker thread."""
        loop = self._loop

        def run(*args: Any) -> Any:
            outcome = function(*(view(arg, loop) for arg in args))
            if inspect.isawaitable(outcome):
                return asyncio.run_coroutine_threadsafe(_awaited(outcome), loop).result()
            return outcome

        return run

    async def __aenter__(self) -> Any:
        return view(await asyncio.to_thread(self._target.__enter__), self._loop)

    async def __aexit__(self, *exc_info: Any) -> None:
        await asyncio.to_thread(self._target.__exit__, *exc_info)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
