"""A logger that keeps what it is given, so tests can read what the container logged."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pytest


class RecordingLogger:
    """Satisfies `infrakit.log.Logger`; keeps (level, message, metadata, exception type)."""

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.records: list[tuple[str, str, dict[str, Any], type[BaseException] | None]] = []

    def _keep(self, level: str, message: str, metadata: dict[str, Any]) -> None:
        error = sys.exc_info()[1]
        self.records.append((level, message, metadata, type(error) if error else None))

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
        self._keep("debug", message or "", dict(obj))

    def info_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None:
        self._keep("info", message or "", dict(obj))

    def warn_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None:
        self._keep("warning", message or "", dict(obj))

    def error_obj(self, obj: Mapping[str, Any], message: str | None = None) -> None:
        self._keep("error", message or "", dict(obj))

    def child(self, name: str) -> RecordingLogger:
        return self

    def with_context(self, **context: Any) -> RecordingLogger:
        return self


@pytest.fixture
def recording_logger() -> RecordingLogger:
    return RecordingLogger()
