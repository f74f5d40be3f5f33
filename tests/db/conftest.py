"""Fixtures for the db tests: a real pool per test and throw-away tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from infrakit.db import Database

TableFactory = Callable[[str], Awaitable[str]]


class RecordingLogger:
    """A real `Logger` implementation that keeps records, to assert on what was logged."""

    def __init__(self, name: str = "test.db") -> None:
        self.name = name
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def _log(self, level: str, message: str, metadata: dict[str, Any]) -> None:
        self.records.append((level, message, metadata))

    def debug(self, message: str, /, **metadata: Any) -> None:
        self._log("debug", message, metadata)

    def info(self, message: str, /, **metadata: Any) -> None:
        self._log("info", message, metadata)

    def warning(self, message: str, /, **metadata: Any) -> None:
        self._log("warning", message, metadata)

    def error(self, message: str, /, **metadata: Any) -> None:
        self._log("error", message, metadata)

    def critical(self, message: str, /, **metadata: Any) -> None:
        self._log("critical", message, metadata)

    def exception(self, message: str, /, **metadata: Any) -> None:
        self._log("exception", message, metadata)

    def debug_obj(self, obj: Any, message: str | None = None) -> None:
        self._log("debug", message or "", dict(obj))

    def info_obj(self, obj: Any, message: str | None = None) -> None:
        self._log("info", message or "", dict(obj))

    def warn_obj(self, obj: Any, message: str | None = None) -> None:
        self._log("warning", message or "", dict(obj))

    def error_obj(self, obj: Any, message: str | None = None) -> None:
        self._log("error", message or "", dict(obj))

    def child(self, name: str) -> RecordingLogger:
        return self

    def with_context(self, **context: Any) -> RecordingLogger:
        return self

    def text(self) -> str:
        return repr(self.records)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def logger() -> RecordingLogger:
    return RecordingLogger()


@pytest.fixture
def application_name() -> str:
    """Unique per test, so reliability tests kill only their own connections."""
    return unique_name("infrakit_test")


@pytest.fixture
async def db(
    database_url: str, logger: RecordingLogger, application_name: str
) -> AsyncIterator[Database]:
    database = Database(
        database_url,
        min_size=1,
        max_size=4,
        acquire_timeout=5,
        application_name=application_name,
        logger=logger,
    )
    async with database:
        yield database


@pytest.fixture
async def make_table(db: Database) -> AsyncIterator[TableFactory]:
    """`await make_table("id serial PRIMARY KEY, name text")` -> a unique table name."""
    created: list[str] = []

    async def create(columns: str) -> str:
        name = unique_name("t")
        await db.execute(f"CREATE TABLE {name} ({columns})")
        created.append(name)
        return name

    yield create
    for name in reversed(created):
        await db.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
