"""A worker process for the reliability tests: `python worker_process.py BACKEND TARGET SCHEMA`.

BACKEND is `postgres` (TARGET a URL, SCHEMA the test's schema) or `sqlite` (TARGET
the store's file). The `record` processor writes its job id to an `executions`
table, so the test can count every execution, including ones a SIGKILL interrupted.
Job types other than `record` just sleep briefly (the sentinels of the pause test).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

from infrakit.jobs import Job, JobQueue

LEASE_SECONDS = 1.0


async def main(backend: str, target: str, schema: str, job_types: list[str]) -> None:
    if backend == "postgres":
        await run_on_postgres(target, schema, job_types)
    else:
        await run_on_sqlite(Path(target), job_types)


async def run_on_postgres(url: str, schema: str, job_types: list[str]) -> None:
    from infrakit.db import Database
    from infrakit.jobs import PostgresJobStorage

    async with Database(url, min_size=1, max_size=4, application_name=schema) as database:
        storage = PostgresJobStorage(database, schema=schema, lease_seconds=LEASE_SECONDS)
        await storage.setup()

        async def record(job: Job[Any]) -> None:
            await asyncio.sleep(0.02)
            await database.execute(
                f"INSERT INTO {schema}.executions (job_id) VALUES (%s)", (job.id,)
            )

        await serve(JobQueue(storage, poll_interval=0.1), record, job_types)
        await storage.close()


async def run_on_sqlite(path: Path, job_types: list[str]) -> None:
    from infrakit.jobs import SqliteJobStorage

    storage = SqliteJobStorage(path, lease_seconds=LEASE_SECONDS)
    await storage.setup()
    executions = path.with_suffix(".executions")

    def write(job_id: str) -> None:
        with sqlite3.connect(executions, timeout=30) as connection:
            connection.execute("INSERT INTO executions (job_id) VALUES (?)", (job_id,))

    async def record(job: Job[Any]) -> None:
        await asyncio.sleep(0.02)
        await asyncio.to_thread(write, job.id)

    await serve(JobQueue(storage, poll_interval=0.1), record, job_types)
    await storage.close()


async def serve(queue: JobQueue, record: Any, job_types: list[str]) -> None:
    async def sentinel(job: Job[Any]) -> str:
        await asyncio.sleep(0.02)
        return "seen"

    for job_type in job_types:
        queue.register_processor(
            job_type, record if job_type == "record" else sentinel, concurrency=4
        )
    print("ready", flush=True)
    await queue.run_worker(shutdown_timeout=5)


if __name__ == "__main__":
    backend, target, schema, *types = sys.argv[1:]
    asyncio.run(main(backend, target, schema, types or ["record"]))
