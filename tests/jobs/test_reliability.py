"""Reliability on the real stores, with real processes: crashes, lost connections,
pause across processes, delayed jobs across a restart, schedules with two workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infrakit.jobs import Job, JobQueue, JobStatus, Schedule, SqliteJobStorage
from tests.jobs.conftest import eventually, open_database, running_worker, unique_schema

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker_process.py")


@dataclass
class Target:
    """Where the worker processes find the store, and how the test reads executions."""

    backend: str
    location: str
    schema: str

    def command(self, *job_types: str) -> list[str]:
        return [sys.executable, str(WORKER), self.backend, self.location, self.schema, *job_types]


@pytest.fixture(params=["postgres", "sqlite"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "sqlite":
        path = tmp_path / "jobs.sqlite3"
        with sqlite3.connect(path.with_suffix(".executions")) as connection:
            connection.execute("CREATE TABLE executions (job_id TEXT NOT NULL)")
        yield Target("sqlite", str(path), "")
        return
    url = request.getfixturevalue("database_url")
    schema = unique_schema()
    async with open_database(url) as database:
        await database.execute(f"CREATE SCHEMA {schema}")
        await database.execute(f"CREATE TABLE {schema}.executions (job_id text NOT NULL)")
        try:
            yield Target("postgres", url, schema)
        finally:
            await database.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@contextlib.asynccontextmanager
async def target_queue(target: Target) -> AsyncIterator[JobQueue]:
    if target.backend == "sqlite":
        storage = SqliteJobStorage(target.location)
        await storage.setup()
        yield JobQueue(storage, poll_interval=0.1)
        await storage.close()
        return
    from infrakit.jobs import PostgresJobStorage

    async with open_database(target.location) as database:
        storage = PostgresJobStorage(database, schema=target.schema)
        await storage.setup()
        yield JobQueue(storage, poll_interval=0.1)
        await storage.close()


async def executions(target: Target) -> list[str]:
    if target.backend == "sqlite":
        path = Path(target.location).with_suffix(".executions")
        with sqlite3.connect(path, timeout=30) as connection:
            return [row[0] for row in connection.execute("SELECT job_id FROM executions")]
    async with open_database(target.location) as database:
        rows = await database.fetch_all(f"SELECT job_id FROM {target.schema}.executions")
        return [row["job_id"] for row in rows]


class Workers:
    """Worker processes the test starts, kills and restarts (only its own)."""

    def __init__(self, target: Target, *job_types: str) -> None:
        self.target = target
        self.job_types = job_types
        self.processes: list[subprocess.Popen[bytes]] = []
        self.environment = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            self.target.command(*self.job_types),
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def kill_one(self, chooser: random.Random) -> None:
        alive = [process for process in self.processes if process.poll() is None]
        if alive:
            victim = chooser.choice(alive)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            self.processes.remove(victim)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@contextlib.contextmanager
def workers(target: Target, count: int, *job_types: str) -> Iterator[Workers]:
    group = Workers(target, *job_types)
    for _ in range(count):
        group.start()
    try:
        yield group
    finally:
        group.stop_all()


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_no_job_is_lost_when_workers_are_killed(target: Target) -> None:
    total = 2_000
    count = 3 if target.backend == "postgres" else 2
    chooser = random.Random(20261202)
    async with target_queue(target) as queue:
        ids = await queue.add_jobs("record", [{"n": n} for n in range(total)], attempts=1000)
        kills = 0
        deadline = time.monotonic() + 240
        with workers(target, count, "record") as group:
            while (await queue.get_stats("record")).completed < total:
                assert time.monotonic() < deadline, "jobs did not all complete in time"
                await asyncio.sleep(chooser.uniform(0.2, 0.5))  # the chaos schedule
                if kills < 40:
                    group.kill_one(chooser)
                    group.start()
                    kills += 1
        stats = await queue.get_stats("record")
        assert (stats.completed, stats.active, stats.waiting, stats.failed) == (total, 0, 0, 0)
        completed = await queue.storage.get_jobs_by_status("record", JobStatus.COMPLETED, total + 1)
        assert sorted(job.id for job in completed) == sorted(ids)
    ran = await executions(target)
    assert set(ran) == set(ids)  # every job ran; a killed attempt may have run twice
    assert kills >= 5
    print(f"{target.backend}: {kills} kills, {len(ran) - total} repeated executions")


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_pause_and_resume_across_two_worker_processes(target: Target) -> None:
    async with target_queue(target) as queue:
        await queue.pause_queue("record")
        paused_ids = await queue.add_jobs("record", [{"n": n} for n in range(20)])
        with workers(target, 2, "record", "sentinel"):
            sentinels = await queue.add_jobs("sentinel", [{} for _ in range(20)])
            for job_id in sentinels:
                await queue.wait_for(job_id, timeout=60)
            stats = await queue.get_stats("record")
            assert (stats.paused, stats.completed, stats.active) == (20, 0, 0)
            await queue.resume_queue("record")
            for job_id in paused_ids:
                await queue.wait_for(job_id, timeout=60)
        assert (await queue.get_stats("record")).completed == 20


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_delayed_jobs_survive_a_restart(target: Target) -> None:
    async with target_queue(target) as queue:
        job_id = await queue.add_job("record", {"n": 1}, delay=1.0)
    async with target_queue(target) as queue:
        assert (await queue.get_job(job_id)).status == JobStatus.DELAYED
        with workers(target, 1, "record"):
            await queue.wait_for(job_id, timeout=60)
    assert await executions(target) == [job_id]


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_schedule_fires_once_per_tick_with_two_workers(target: Target) -> None:
    async with target_queue(target) as queue:
        tick = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        schedule = Schedule("minutely", "record", "{}", "* * * * *", "UTC", tick, {})
        await queue.storage.save_schedule(schedule)
        with workers(target, 2, "record", "sentinel"):
            await eventually(lambda: _completed(queue, "record"), timeout=60)
            sentinels = await queue.add_jobs("sentinel", [{} for _ in range(10)])
            for job_id in sentinels:
                await queue.wait_for(job_id, timeout=60)
        stats = await queue.get_stats("record")
        assert (stats.completed, stats.waiting, stats.active) == (1, 0, 0)
    assert len(await executions(target)) == 1


async def _completed(queue: JobQueue, job_type: str) -> bool:
    return (await queue.get_stats(job_type)).completed >= 1


@pytest.mark.postgres
@pytest.mark.timeout(120)
async def test_worker_reconnects_after_its_connections_are_terminated(database_url: str) -> None:
    from infrakit.db import Database
    from infrakit.jobs import PostgresJobStorage

    schema = unique_schema()
    database = Database(database_url, min_size=1, max_size=4, application_name=schema)
    await database.open()
    storage = PostgresJobStorage(database, schema=schema, lease_seconds=2)
    try:
        await storage.setup()
        queue = JobQueue(storage, poll_interval=0.05)

        async def echo(job: Job[Any]) -> Any:
            return job.data

        queue.register_processor("echo", echo, concurrency=4)
        async with running_worker(queue):
            assert await queue.wait_for(await queue.add_job("echo", 1), timeout=10) == 1
            async with open_database(database_url) as admin:
                terminated = await admin.fetch_value(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
                    (f"{schema}%",),
                )
            assert terminated >= 2  # pooled connection(s) and the listener
            later = await _add_when_possible(queue, 2)
            assert await queue.wait_for(later, timeout=30) == 2
        assert (await queue.get_stats("echo")).completed == 2
    finally:
        await storage.close()
        await database.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await database.close()


async def _add_when_possible(queue: JobQueue, data: Any) -> str:
    """The first add after the kill may meet a dead pooled connection; the pool heals."""
    for _ in range(20):
        try:
            return await queue.add_job("echo", data)
        except Exception:
            await asyncio.sleep(0.1)
    return await queue.add_job("echo", data)
