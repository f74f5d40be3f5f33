"""Fixtures for the log tests: every test leaves the global logging configuration as it was."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from infrakit.log import JsonTransport, LogEntry, configure_logging, shutdown_logging


class MemoryTransport:
    """Keeps every entry it receives, for assertions."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []

    def log(self, entry: LogEntry) -> None:
        self.entries.append(entry)

    @property
    def messages(self) -> list[str]:
        return [entry.message for entry in self.entries]


class JsonCapture:
    """A JSON transport on a StringIO, read back as parsed records."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.transport = JsonTransport(self.stream)

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    shutdown_logging()


@pytest.fixture
def memory() -> MemoryTransport:
    """A configured pipeline at DEBUG writing to memory."""
    transport = MemoryTransport()
    configure_logging("DEBUG", sinks=[transport])
    return transport


@pytest.fixture
def captured() -> JsonCapture:
    """A configured pipeline at DEBUG writing JSON lines to a StringIO."""
    capture = JsonCapture()
    configure_logging("DEBUG", format="json", sinks=[capture.transport])
    return capture
