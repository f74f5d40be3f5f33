"""SIGTERM/SIGINT handling that keeps the handlers the app installed before.

uvicorn's own `capture_signals()` is switched off (see `_manager`); these handlers are
installed with `signal.signal`, so the asyncio loop's handlers (`loop.add_signal_handler`,
woken through the loop's wakeup fd) keep running, and a Python handler the app set
before is called after ours. The previous handlers come back when the server stops.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["SignalHandlers"]

HANDLED = (signal.SIGINT, signal.SIGTERM)


class SignalHandlers:
    """Calls `on_signal(signum)` on the loop for each SIGTERM/SIGINT; chains the app's handlers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_signal: Callable[[int], None]) -> None:
        self._loop, self._on_signal = loop, on_signal
        self._previous: dict[int, Any] = {}

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> bool:
        """Install on the main thread; elsewhere Python forbids it and False is returned."""
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return False
        for signum in HANDLED:
            self._previous[signum] = signal.signal(signum, self._handle)
        return True

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._loop.call_soon_threadsafe(self._on_signal, signum)
        previous = self._previous.get(signum)
        if previous is not None and _belongs_to_the_app(previous):
            previous(signum, frame)


def _belongs_to_the_app(handler: Any) -> bool:
    """A Python handler the app set; not Python's KeyboardInterrupt nor asyncio.run's own.

    `asyncio.run()` installs a SIGINT handler that cancels the main task; chaining it
    would turn the graceful stop into a KeyboardInterrupt.
    """
    if not callable(handler) or handler is signal.default_int_handler:
        return False
    function = getattr(handler, "func", handler)  # functools.partial
    return not str(getattr(function, "__module__", "")).startswith("asyncio")
