"""Fixtures for the db tests: a real pool per test and throw-away tables."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from infrakit.db import Database, sync
from tests.db.sync_view import AsyncView
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


FORMS = ["async", "sync"]
ASYNC_ONLY = pytest.mark.async_only
"""For tests of what only the async form has (migrations, cancellation of tasks)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes `db` runs over both forms, unless marked `async_only`."""
    if "db" in metafunc.fixturenames:
        only_async = metafunc.definition.get_closest_marker("async_only") is not None
        metafunc.parametrize("db", ["async"] if only_async else FORMS, indirect=True)


@pytest.fixture
async def db(
    request: pytest.FixtureRequest,
    database_url: str,
    logger: RecordingLogger,
    application_name: str,
) -> AsyncIterator[Database]:
    """Each test runs on `infrakit.db.Database` and on `infrakit.db.sync.Database`.

    The blocking form is seen through `AsyncView` (its calls in worker threads); a test
    about asyncio itself (cancellation, tasks) is marked `async_only`.
    """
    options: dict[str, Any] = {
        "min_size": 1,
        "max_size": 4,
        "acquire_timeout": 5,
        "application_name": application_name,
        "logger": logger,
    }
    if request.param == "async":
        async with Database(database_url, **options) as database:
            yield database
        return
    blocking = sync.Database(database_url, **options)
    await asyncio.to_thread(blocking.open)
    try:
        yield AsyncView(blocking, asyncio.get_running_loop())
    finally:
        await asyncio.to_thread(blocking.close)


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
