"""A listener that cannot die: run a receive loop for ever, restarting with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["Listener"]


class Listener:
    """Runs `listen_once` again whenever it returns or raises (0.1 s doubling to 10 s).

    `listen_once` calls `connected()` once it is receiving, which resets the backoff.
    Only cancellation (`stop()`) ends it; every restart is counted in `restarts`.
    """

    def __init__(
        self,
        name: str,
        listen_once: Callable[[Callable[[], None]], Awaitable[None]],
        logger: Callable[[], Logger],
    ) -> None:
        self.name, self.restarts = name, 0
        self._listen_once, self._logger = listen_once, logger
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self._pause = 0.1

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._forever(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=5.0)

    def _connected(self) -> None:
        self._pause = 0.1
        self.ready.set()

    async def _forever(self) -> None:
        while True:
            try:
                await self._listen_once(self._connected)
                reason = "ended"
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the listener must not die: log, back off, retry
                reason = type(error).__name__
            self.ready.clear()
            self.restarts += 1
            self._logger().warning(f"{self.name} stopped; restarting", reason=reason)
            await asyncio.sleep(self._pause)
            self._pause = min(self._pause * 2, 10.0)
