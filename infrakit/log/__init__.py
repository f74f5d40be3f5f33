"""Structured logging: hierarchical levels, context, redaction, value masking, fast JSON.

Only the names in `__all__` are public; see `docs/log.md`.
"""

from infrakit._internal.secrets import register_secret
from infrakit.log._configure import configure_logging, shutdown_logging
from infrakit.log._entry import LogEntry
from infrakit.log._file import FileTransport
from infrakit.log._logger import get_logger, log_context
from infrakit.log._loguru import intercept_loguru
from infrakit.log._protocol import Logger, LogTransport
from infrakit.log._queue import QueuedTransport
from infrakit.log._render import render_json, render_pretty
from infrakit.log._settings import LogSettings
from infrakit.log._stdlib import intercept_stdlib
from infrakit.log._stream import ConsoleTransport, JsonTransport

__all__ = [
    "ConsoleTransport",
    "FileTransport",
    "JsonTransport",
    "LogEntry",
    "LogSettings",
    "LogTransport",
    "Logger",
    "QueuedTransport",
    "configure_logging",
    "get_logger",
    "intercept_loguru",
    "intercept_stdlib",
    "log_context",
    "register_secret",
    "render_json",
    "render_pretty",
    "shutdown_logging",
]
