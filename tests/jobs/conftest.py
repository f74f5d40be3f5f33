"""Stores for the conformance suite: memory, SQLite in a temporary file, and PostgreSQL
in a schema of its own (created per test, dropped afterwards, never anything else)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from infrakit.jobs import JobQueue, JobStorage, MemoryJobStorage, SqliteJobStorage
from tests.recording import RecordingLogger

BACKENDS = ["memory", "sqlite", "postgres"]


def unique_schema() -> str:
    return f"jobs_test_{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Any]:
    from infrakit.db import Database

    database = Database(url, min_size=1, max_size=8, application_name="infrakit-jobs-tests")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def drop_schema(url: str, schema: str) -> None:
    async with open_database(url) as database:
        await database.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


StoreFactory = Callable[..., Any]


@pytest.fixture(params=BACKENDS)
async def make_storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreFactory]:
    """A factory: `await make_storage(lease_seconds=...)` gives a set-up store."""
    backend = request.param
    made: list[JobStorage] = []
    schema = unique_schema()
    database_cm: Any = None
    database: Any = None
    if backend == "postgres":
        url = request.getfixturevalue("database_url")
        database_cm = open_database(url)
        database = await database_cm.__aenter__()

    async def factory(**options: Any) -> JobStorage:
        storage: JobStorage
        if backend == "memory":
            storage = MemoryJobStorage(**options)
        elif backend == "sqlite":
            storage = SqliteJobStorage(tmp_path / "jobs.sqlite3", **options)
        else:
            from infrakit.jobs import PostgresJobStorage

            storage = PostgresJobStorage(database, schema=schema, **options)
        await storage.setup()
        made.append(storage)
        return storage

    factory.backend = backend  # type: ignore[attr-defined]
    try:
        yield factory
    finally:
        for storage in made:
            await storage.close()
        if database is not None:
            await database.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await database_cm.__aexit__(None, None, None)


@pytest.fixture
async def storage(make_storage: StoreFactory) -> JobStorage:
    return await make_storage()  # type: ignore[no-any-return]


@pytest.fixture
def queue(storage: JobStorage, recording_logger: RecordingLogger) -> JobQueue:
    return JobQueue(storage, logger=recording_logger, poll_interval=0.05)


@contextlib.asynccontextmanager
async def running_worker(queue: JobQueue, **options: Any) -> AsyncIterator[asyncio.Task[None]]:
    """A worker task for the block; stopped (bounded) on exit."""
    options.setdefault("shutdown_timeout", 5.0)
    task = asyncio.create_task(queue.run_worker(handle_signals=False, **options))
    await eventually(lambda: queue._worker is not None or task.done())
    try:
        yield task
    finally:
        queue.stop_worker()
        await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:  # noqa: ASYNC109
    """Poll `check` (sync or async) until it returns a truthy value, bounded."""
    deadline = asyncio.get_running_loop().time() + timeout
    pause = 0.005
    while True:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return outcome
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
