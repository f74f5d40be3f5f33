"""Fixtures for the db tests: a real pool per test and throw-away tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from infrakit.db import Database
from tests.recording import RecordingLogger

TableFactory = Callable[[str], Awaitable[str]]


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def logger(recording_logger: RecordingLogger) -> RecordingLogger:
    """The shared recording logger (tests/recording.py), given to the `db` fixture."""
    return recording_logger


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
