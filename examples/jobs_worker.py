"""A worker in its own process, fed by blocking code, stopped by SIGTERM.

Runs with no server: `cd examples && python jobs_worker.py`. It enqueues with the
blocking `infrakit.jobs.sync` API (as a Flask view would), starts
`python -m infrakit.jobs worker jobs_worker:make_queue` (this module's factory), waits
for the jobs and stops the worker with SIGTERM (running jobs finish first). Set
`DATABASE_URL` and `JOBS_BACKEND=postgres` to run it on PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from infrakit.jobs import Job, JobQueue, sync


async def resize(job: Job[dict[str, Any]]) -> dict[str, Any]:
    return {"path": job.data["path"], "size": [job.data["width"], job.data["width"] * 3 // 4]}


async def make_queue() -> JobQueue:
    """What the worker process loads; called inside its event loop."""
    if os.environ.get("JOBS_BACKEND") == "postgres":
        from infrakit.db import Database
        from infrakit.jobs import PostgresJobStorage

        database = Database(os.environ["DATABASE_URL"])
        await database.open()
        storage: Any = PostgresJobStorage(database, schema=os.environ["JOBS_SCHEMA"])
    else:
        from infrakit.jobs import SqliteJobStorage

        storage = SqliteJobStorage(os.environ["JOBS_SQLITE_PATH"])
    queue = JobQueue(storage, poll_interval=0.1)
    queue.register_processor("resize", resize, concurrency=8)
    return queue


def blocking_queue() -> sync.JobQueue:
    if os.environ.get("JOBS_BACKEND") == "postgres":
        storage: Any = sync.PostgresJobStorage(
            os.environ["DATABASE_URL"], schema=os.environ["JOBS_SCHEMA"]
        )
    else:
        storage = sync.SqliteJobStorage(os.environ["JOBS_SQLITE_PATH"])
    return sync.JobQueue(storage)


def main(directory: Path) -> None:
    os.environ.setdefault("JOBS_SQLITE_PATH", str(directory / "jobs.sqlite3"))
    os.environ.setdefault("JOBS_SCHEMA", f"jobs_example_{uuid.uuid4().hex[:8]}")
    with blocking_queue() as queue:
        ids = queue.add_jobs(
            "resize", [{"path": f"{n}.jpg", "width": 100 * n} for n in range(1, 6)]
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "infrakit.jobs", "worker", "jobs_worker:make_queue"],
            cwd=Path(__file__).parent,
        )
        try:
            deadline = time.monotonic() + 60
            while queue.get_stats("resize").completed < len(ids):
                if time.monotonic() > deadline:
                    raise SystemExit("the worker did not finish in time")
                time.sleep(0.05)
            print(queue.get_job(ids[-1]).result)
            print(queue.get_stats("resize"))
        finally:
            worker.send_signal(signal.SIGTERM)
            print("worker exit status:", worker.wait(30))
        if os.environ.get("JOBS_BACKEND") == "postgres":
            _drop_schema()


def _drop_schema() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {os.environ['JOBS_SCHEMA']} CASCADE")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as temporary:
        main(Path(temporary))
