"""Structured logging on loguru: hierarchical levels, context, redaction, fast JSON.

Only the names in `__all__` are public; see `docs/log.md`.
"""

from infrakit.log._entry import LogEntry
from infrakit.log._logger import get_logger, log_context
from infrakit.log._protocol import Logger, LogTransport
from infrakit.log._stream import ConsoleTransport, JsonTransport

__all__ = [
    "ConsoleTransport",
    "JsonTransport",
    "LogEntry",
    "LogTransport",
    "Logger",
    "get_logger",
    "log_context",
]
