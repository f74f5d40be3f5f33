"""Dependencies in a durable SQLite queue: a child waits for its parents, and a parent
that fails for good fails, cancels or frees its children as each one asked.

Runs with no server: `cd examples && python jobs_chain.py`.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from infrakit.jobs import Job, JobFailedError, JobQueue, JobStatus, SqliteJobStorage
from infrakit.log import configure_logging


async def main(directory: Path) -> None:
    configure_logging(level="ERROR")
    queue = JobQueue(SqliteJobStorage(directory / "jobs.sqlite3"), poll_interval=0.05)
    await queue.setup()

    async def step(job: Job[dict[str, Any]]) -> str:
        if job.data.get("fail"):
            raise RuntimeError(f"{job.data['name']} broke")
        return f"{job.data['name']} done"

    queue.register_processor("step", step, concurrency=4)

    download = await queue.add_job("step", {"name": "download"})
    decode = await queue.add_job("step", {"name": "decode"})
    report = await queue.add_job("step", {"name": "report"}, depends_on=[download, decode])
    publish = await queue.chain_job("step", {"name": "publish"}, report)
    print("report is", (await queue.get_job(report)).status)

    broken = await queue.add_job("step", {"name": "fetch", "fail": True}, attempts=1)
    fails = await queue.chain_job("step", {"name": "parse"}, broken)
    cancels = await queue.chain_job("step", {"name": "notify"}, broken, on_parent_failure="cancel")
    ignores = await queue.chain_job("step", {"name": "cleanup"}, broken, on_parent_failure="ignore")

    queue.start_worker()
    print(await queue.wait_for(publish, timeout=30))
    print(await queue.wait_for(ignores, timeout=30), "(its parent failed; it ran anyway)")
    try:
        await queue.wait_for(fails, timeout=30)
    except JobFailedError as error:
        print("parse:", error.details["reason"])
    for job_id in (fails, cancels):
        job = await queue.get_job(job_id)
        print(f"{job.data['name']}: {job.status} ({job.blocked_reason})")
    print(await queue.get_stats("step"))
    assert (await queue.get_job(cancels)).status == JobStatus.CANCELLED
    await queue.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as temporary:
        asyncio.run(main(Path(temporary)))
