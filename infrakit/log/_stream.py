"""Transports writing one line per record to a text stream (stderr by default)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import IO

from infrakit.log._entry import LogEntry
from infrakit.log._render import render_json, render_pretty


class _StreamTransport:
    """Writes `render(entry)` plus a newline and flushes, under a lock so threads never
    interleave half lines. `stream=None` means `sys.stderr` looked up at write time, so a
    redirected or captured stderr (pytest, daemons) is followed."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    @property
    def stream(self) -> IO[str]:
        return self._stream if self._stream is not None else sys.stderr

    def render(self, entry: LogEntry) -> str:
        return self.render_for(entry, self.stream)

    def log(self, entry: LogEntry) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        line = self.render_for(entry, stream)
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def render_for(self, entry: LogEntry, stream: IO[str]) -> str:
        """The line for `entry` as written to `stream` (a console colours a terminal)."""
        raise NotImplementedError

    def flush(self) -> None:
        with self._lock:
            self.stream.flush()


class JsonTransport(_StreamTransport):
    """One line of flat JSON per record: the production format (see `docs/log.md`)."""

    def render_for(self, entry: LogEntry, stream: IO[str]) -> str:
        return render_json(entry)


class ConsoleTransport(_StreamTransport):
    """Pretty, optionally coloured lines for development.

    Args:
        stream: where to write; `None` follows `sys.stderr`.
        colour: force colours on or off; `None` colours a terminal unless `NO_COLOR` is set.
    """

    def __init__(self, stream: IO[str] | None = None, *, colour: bool | None = None) -> None:
        super().__init__(stream)
        self._colour = colour
        self._decided = False
        self._decided_for: IO[str] | None = None

    def render_for(self, entry: LogEntry, stream: IO[str]) -> str:
        return render_pretty(entry, colour=self._use_colour(stream))

    def _use_colour(self, stream: IO[str]) -> bool:
        """Decided once per stream (the environment and `isatty` cost more than the line)."""
        if self._colour is not None:
            return self._colour
        if stream is not self._decided_for:
            self._decided, self._decided_for = _wants_colour(stream), stream
        return self._decided


def _wants_colour(stream: IO[str]) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


class CallableTransport:
    """Gives each rendered line to a function, as a loguru function sink receives its text."""

    def __init__(self, function: Callable[[str], object], render: Callable[[LogEntry], str]):
        self._function = function
        self._render = render

    def log(self, entry: LogEntry) -> None:
        self._function(self._render(entry))
