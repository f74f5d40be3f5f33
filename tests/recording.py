"""One recording logger for every test that asserts on what a service logged."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NamedTuple


class Record(NamedTuple):
    level: str
    message: str
    metadata: dict[str, Any]
    error: BaseException | None


class RecordingLogger:
    """A real `infrakit.log.Logger` that keeps its records (and the exception being handled)."""

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.records: list[Record] = []

    def _keep(self, level: str, message: str, metadata: Mapping[str, Any]) -> None:
        self.records.append(Record(level, message, dict(metadata), sys.exc_info()[1]))

    def debug(self, message: str, /, **metadata: Any) -> None:
        self._keep("debug", message, metadata)

    def info(self, message: str, /, **metadata: Any) -> None:
        self._keep("info", message, metadata)

    def warning(self, message: str, /, **metadata: Any) -> None:
        self._keep("warning", message, metadata)

    def error(self, message: str, /, **metadata: Any) -> None:
        self._keep("error", message, metadata)

    def critical(self, message: str, /, **metadata: Any) -> None:
        self._keep("critical", message, metadata)

    def exception(self, message: str, /, **metadata: Any) -> None:
        self._keep("exception", message, metadata)

    def debug_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None:
        self._keep("debug", message or "", obj)

    def info_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None:
        self._keep("info", message or "", obj)

    def warn_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None:
        self._keep("warning", message or "", obj)

    def error_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None:
        self._keep("error", message or "", obj)

    def child(self, name: str) -> RecordingLogger:
        return self

    def with_context(self, **context: Any) -> RecordingLogger:
        return self

    def messages(self, level: str | None = None) -> list[str]:
        """The messages logged, at `level` only when given."""
        return [record.message for record in self.records if level in (None, record.level)]

    def text(self) -> str:
        """Everything logged as one string, to assert that a secret is absent."""
        return repr(self.records)
