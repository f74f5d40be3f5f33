"""`infrakit.jobs.sync`: the blocking twins, with no event loop, on every store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrakit.errors import ValidationError
from infrakit.jobs import JobNotFoundError, JobStatus, sync
from infrakit.jobs import JobQueue as AsyncJobQueue
from infrakit.jobs import SqliteJobStorage as AsyncSqliteJobStorage


@pytest.fixture(params=["memory", "sqlite", "postgres", "postgres-db-sync"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sync.JobQueue]:
    storage: Any
    if request.param == "memory":
        storage = sync.MemoryJobStorage()
    elif request.param == "sqlite":
        storage = sync.SqliteJobStorage(tmp_path / "jobs.sqlite3")
    else:
        url = request.getfixturevalue("database_url")
        schema = f"jobs_sync_{uuid.uuid4().hex[:12]}"
        yield from _postgres_queue(request.param, url, schema)
        return
    with sync.JobQueue(storage) as queue:
        yield queue


def _postgres_queue(kind: str, url: str, schema: str) -> Iterator[sync.JobQueue]:
    from infrakit.db.sync import Database

    with Database(url) as database:
        target: Any = url if kind == "postgres" else database
        try:
            with sync.JobQueue(sync.PostgresJobStorage(target, schema=schema)) as queue:
                yield queue
        finally:
            database.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_enqueue_and_inspect_without_an_event_loop(queue: sync.JobQueue) -> None:
    job_id = queue.add_job("email", {"to": "a@example.com"}, job_id="welcome")
    assert queue.add_job("email", {"to": "b@example.com"}, job_id="welcome") == job_id
    more = queue.add_jobs("email", [{"n": 1}, {"n": 2}])
    child = queue.chain_job("email", {"n": 3}, job_id)
    assert queue.get_job(job_id).data == {"to": "a@example.com"}
    assert queue.get_job(child).status == JobStatus.BLOCKED
    stats = queue.get_stats("email")
    assert (stats.waiting, stats.blocked) == (3, 1)
    queue.pause_queue("email")
    assert queue.get_stats("email").paused == 3
    queue.resume_queue("email")
    assert queue.cancel_job(more[0])
    assert queue.retry_job(more[0])
    assert queue.get_job(more[0]).status == JobStatus.WAITING


def test_bad_input_and_unknown_ids(queue: sync.JobQueue) -> None:
    with pytest.raises(ValidationError):
        queue.add_job("email", {}, depends_on="missing")
    with pytest.raises(JobNotFoundError):
        queue.get_job("missing")
    assert queue.get_stats("email").waiting == 0


def test_jobs_added_by_the_blocking_form_run_on_an_async_worker(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    with sync.JobQueue(sync.SqliteJobStorage(path)) as blocking:
        job_id = blocking.add_job("double", 21)

    async def work() -> Any:
        storage = AsyncSqliteJobStorage(path)
        queue = AsyncJobQueue(storage, poll_interval=0.05)
        queue.register_processor("double", lambda job: job.data * 2)
        worker = asyncio.create_task(queue.run_worker(handle_signals=False))
        try:
            return await queue.wait_for(job_id, timeout=10)
        finally:
            queue.stop_worker()
            await worker
            await storage.close()

    assert asyncio.run(work()) == 42
    with sync.JobQueue(sync.SqliteJobStorage(path)) as blocking:
        assert blocking.get_stats("double").completed == 1
