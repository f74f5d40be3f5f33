"""The logging contracts other modules depend on (they never import the implementation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from infrakit.log._entry import LogEntry

__all__ = ["LogTransport", "Logger"]


@runtime_checkable
class Logger(Protocol):
    """A named, structured logger: keyword metadata becomes fields of the record."""

    @property
    def name(self) -> str: ...

    def debug(self, message: str, /, **metadata: Any) -> None: ...

    def info(self, message: str, /, **metadata: Any) -> None: ...

    def warning(self, message: str, /, **metadata: Any) -> None: ...

    def error(self, message: str, /, **metadata: Any) -> None: ...

    def critical(self, message: str, /, **metadata: Any) -> None: ...

    def exception(self, message: str, /, **metadata: Any) -> None:
        """Log at ERROR with the exception being handled attached."""
        ...

    def debug_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None: ...

    def info_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None: ...

    def warn_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None: ...

    def error_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None: ...

    def child(self, name: str) -> Logger:
        """A logger named `<self.name>.<name>` whose level follows the most specific prefix."""
        ...

    def with_context(self, **context: Any) -> Logger:
        """A logger that adds `context` to every record it writes."""
        ...


@runtime_checkable
class LogTransport(Protocol):
    """Where records go: console, JSON stream, rotating file, a queue, or your own sink.

    `log` is called synchronously on the logging thread (wrap a slow transport in
    `QueuedTransport`); it receives records that are already filtered and redacted.
    `flush` and `close` are optional: the pipeline calls them when they exist.
    """

    def log(self, entry: LogEntry) -> None: ...
