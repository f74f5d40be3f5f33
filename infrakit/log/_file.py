"""A rotating file transport, with loguru's file sink (rotation, retention, compression)."""

from __future__ import annotations

import importlib
import os
from typing import Any, Literal

import loguru

from infrakit.errors import ConfigurationError
from infrakit.log._entry import LogEntry
from infrakit.log._render import render_json, render_pretty


def private_loguru() -> loguru.Logger:
    """A loguru logger with its own handler set, so our sinks never reach (or receive from)
    the application's global `loguru.logger` and its default stderr handler.

    loguru documents `copy.deepcopy(logger)` for this, which fails once a stream handler is
    attached; building a fresh `Core` is the same thing without copying.
    """
    internals: Any = importlib.import_module("loguru._logger")
    engine: loguru.Logger = internals.Logger(
        core=internals.Core(),
        exception=None,
        depth=0,
        record=False,
        lazy=False,
        colors=False,
        raw=True,
        capture=True,
        patchers=[],
        extra={},
    )
    return engine


class FileTransport:
    """Lines appended to a file that loguru rotates, retains and compresses.

    The line is rendered by us (JSON or pretty, never coloured) and handed to loguru raw,
    so loguru does file management only; `diagnose=False, backtrace=False` are explicit
    because loguru's own exception formatting (which can print local variables) is never
    used for our records.

    Args:
        path: the file; loguru's `{time}` placeholders are allowed in the name.
        format: `"json"` (default) or `"pretty"`.
        rotation: when to start a new file: a size (`"100 MB"`), a time (`"00:00"`), an
            interval (`"1 day"`), as loguru accepts; `None` never rotates.
        retention: how many rotated files or how long to keep them (`"14 days"`, `10`).
        compression: archive format for rotated files (`"gz"`, `"zip"`).
        delay: create the file on the first record rather than now.

    Raises:
        ConfigurationError: an unknown format, loguru rejected one of the rotation options,
            or the file cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: Literal["json", "pretty"] = "json",
        rotation: str | int | None = "100 MB",
        retention: str | int | None = None,
        compression: str | None = None,
        delay: bool = False,
    ) -> None:
        if format not in ("json", "pretty"):
            raise ConfigurationError(f"Unknown log format {format!r}; expected 'json' or 'pretty'")
        self.path = os.fspath(path)
        self._render = render_json if format == "json" else render_pretty
        self._engine = private_loguru()
        options: dict[str, Any] = {"rotation": rotation, "retention": retention}
        if compression is not None:
            options["compression"] = compression
        try:
            self._handler = self._engine.add(
                self.path,
                format="{message}",
                level=0,
                colorize=False,
                diagnose=False,
                backtrace=False,
                enqueue=False,
                catch=True,
                delay=delay,
                buffering=1,
                encoding="utf-8",
                **options,
            )
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"Invalid file log options for {self.path}") from error
        except OSError as error:
            raise ConfigurationError(f"Cannot open log file {self.path}") from error
        self._closed = False

    def log(self, entry: LogEntry) -> None:
        self._engine.log(entry.level, self._render(entry) + "\n")

    def close(self) -> None:
        """Close the file; idempotent."""
        if not self._closed:
            self._closed = True
            self._engine.remove(self._handler)
