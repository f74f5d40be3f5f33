"""Background jobs in memory: priorities, a delay, retries with backoff, typed payloads.

Runs with no server: `cd examples && python jobs_basic.py`. Swap `MemoryJobStorage()`
for `SqliteJobStorage("data/jobs.sqlite3")` and the same code is durable.
"""

from __future__ import annotations

import asyncio

import pydantic

from infrakit.jobs import Backoff, Job, JobPriority, JobQueue, MemoryJobStorage
from infrakit.log import configure_logging


class Thumbnail(pydantic.BaseModel):
    path: str
    width: int = 128


async def main() -> None:
    configure_logging(level="WARNING")
    queue = JobQueue(MemoryJobStorage(), poll_interval=0.05)
    order: list[str] = []
    flaky_calls = 0

    async def make_thumbnail(job: Job[Thumbnail]) -> str:
        order.append(job.data.path)  # job.data is a Thumbnail again
        return f"{job.data.path} -> {job.data.width}px"

    async def flaky_upload(job: Job[dict[str, str]]) -> str:
        nonlocal flaky_calls
        flaky_calls += 1
        if flaky_calls < 3:
            raise ConnectionError("storage is busy")
        return f"uploaded on attempt {job.attempts}"

    queue.register_processor("thumbnail", make_thumbnail)  # concurrency 1: one at a time
    queue.register_processor("upload", flaky_upload)

    low = await queue.add_job("thumbnail", Thumbnail(path="later.jpg"), priority=JobPriority.LOW)
    urgent = await queue.add_job(
        "thumbnail", Thumbnail(path="now.jpg", width=64), priority=JobPriority.URGENT
    )
    delayed = await queue.add_job("thumbnail", Thumbnail(path="in-a-moment.jpg"), delay=0.2)
    upload = await queue.add_job(
        "upload", {"file": "a.jpg"}, attempts=5, backoff=Backoff.fixed(0.05)
    )
    same = await queue.add_job("upload", {"file": "a.jpg"}, job_id=upload)  # idempotent
    assert same == upload

    print("before:", await queue.get_stats("thumbnail"))
    queue.start_worker()
    print(await queue.wait_for(urgent, timeout=10))
    print(await queue.wait_for(low, timeout=10))
    print(await queue.wait_for(delayed, timeout=10))
    print(await queue.wait_for(upload, timeout=10))
    print("after:", await queue.get_stats("thumbnail"))
    await queue.close()

    assert order == ["now.jpg", "later.jpg", "in-a-moment.jpg"]
    assert (await queue.get_job(upload)).attempts == 3


if __name__ == "__main__":
    asyncio.run(main())
