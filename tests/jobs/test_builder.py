"""`with_jobs()`: the store from JOBS_BACKEND, and a worker Infra starts and stops."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from infrakit import Infra
from infrakit.config import load_config
from infrakit.errors import ConfigurationError
from infrakit.jobs import Job, MemoryJobStorage, PostgresJobStorage, SqliteJobStorage


async def test_sqlite_by_default_at_jobs_sqlite_path(tmp_path: Path) -> None:
    path = tmp_path / "queue" / "jobs.sqlite3"
    config = load_config("test", directory=tmp_path, environ={"JOBS_SQLITE_PATH": str(path)})
    infra = Infra.builder().with_config(config).with_jobs().build()
    async with infra:
        assert isinstance(infra.jobs.storage, SqliteJobStorage)
        await infra.jobs.add_job("email", {"to": "a@example.com"})
        assert (await infra.jobs.get_stats("email")).waiting == 1
    assert path.exists()


async def test_infra_runs_a_worker_when_asked(tmp_path: Path) -> None:
    config = load_config("test", directory=tmp_path, environ={"JOBS_BACKEND": "memory"})
    infra = Infra.builder().with_config(config).with_jobs(worker=True).build()
    assert isinstance(infra.jobs.storage, MemoryJobStorage)

    async def double(job: Job[Any]) -> int:
        return int(job.data) * 2

    infra.jobs.register_processor("double", double)
    async with infra:
        job_id = await infra.jobs.add_job("double", 21)
        assert await infra.jobs.wait_for(job_id, timeout=10) == 42


async def test_postgres_backend_with_its_own_pool(tmp_path: Path, database_url: str) -> None:
    schema = f"jobs_builder_{uuid.uuid4().hex[:12]}"
    environ = {"JOBS_BACKEND": "postgres", "DATABASE_URL": database_url, "JOBS_SCHEMA": schema}
    config = load_config("test", directory=tmp_path, environ=environ)
    infra = Infra.builder().with_config(config).with_jobs().build()
    async with infra:
        storage = infra.jobs.storage
        assert isinstance(storage, PostgresJobStorage)
        try:
            await infra.jobs.add_job("email")
            assert (await infra.jobs.get_stats("email")).waiting == 1
        finally:
            await storage.database.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def test_postgres_backend_shares_the_database_pool(tmp_path: Path, database_url: str) -> None:
    schema = f"jobs_builder_{uuid.uuid4().hex[:12]}"
    environ = {"JOBS_BACKEND": "postgres", "DATABASE_URL": database_url, "JOBS_SCHEMA": schema}
    config = load_config("test", directory=tmp_path, environ=environ)
    infra = Infra.builder().with_config(config).with_database().with_jobs().build()
    async with infra:
        storage = infra.jobs.storage
        assert isinstance(storage, PostgresJobStorage)
        assert storage.database is infra.database
        try:
            await infra.jobs.add_job("email")
            assert (await infra.jobs.get_stats("email")).waiting == 1
        finally:
            await infra.database.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_unknown_backend_is_a_configuration_error(tmp_path: Path) -> None:
    config = load_config("test", directory=tmp_path, environ={"JOBS_BACKEND": "kafka"})
    with pytest.raises(ConfigurationError) as caught:
        Infra.builder().with_config(config).with_jobs().build()
    assert caught.value.details["key"] == "JOBS_BACKEND"
