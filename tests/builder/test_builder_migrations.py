"""`with_migrations()`: pending migrations applied at start, after the database opened."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from infrakit import Infra, InfraBuilder
from infrakit.config import load_config
from infrakit.db import Database, MigrationError
from infrakit.errors import ConfigurationError, InitializationError

pytestmark = pytest.mark.postgres


def builder(database_url: str, directory: Path) -> InfraBuilder:
    config = load_config("test", directory=str(directory), environ={"DATABASE_URL": database_url})
    return Infra.builder("test").with_config(config).with_database()


async def test_pending_migrations_are_applied_at_start(database_url: str, tmp_path: Path) -> None:
    schema = f"builder_{uuid.uuid4().hex[:10]}"
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_t.sql").write_text(f"CREATE TABLE {schema}.t (id int);")
    (migrations / "0002_row.sql").write_text(f"INSERT INTO {schema}.t VALUES (7);")
    try:
        infra = builder(database_url, tmp_path).with_migrations(migrations, schema=schema).build()
        async with infra:
            assert infra.component("migrations") == ["0001_t.sql", "0002_row.sql"]
            assert await infra.database.fetch_value(f"SELECT id FROM {schema}.t") == 7
        again = builder(database_url, tmp_path).with_migrations(migrations, schema=schema)
        async with again.build() as infra:
            assert infra.component("migrations") == []
    finally:
        async with Database(database_url) as cleanup:
            await cleanup.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def test_instances_starting_together_apply_each_file_once(
    database_url: str, tmp_path: Path
) -> None:
    schema = f"builder_{uuid.uuid4().hex[:10]}"
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_t.sql").write_text(
        f"CREATE TABLE {schema}.t (id int); SELECT pg_sleep(0.2);"
    )
    (migrations / "0002_row.sql").write_text(f"INSERT INTO {schema}.t VALUES (1);")
    infras = [
        builder(database_url, tmp_path).with_migrations(migrations, schema=schema).build()
        for _ in range(3)
    ]
    try:
        await asyncio.gather(*(infra.start() for infra in infras))
        applied = sorted(len(infra.component("migrations")) for infra in infras)
        assert applied == [0, 0, 2]
        assert await infras[0].database.fetch_value(f"SELECT count(*) FROM {schema}.t") == 1
    finally:
        await asyncio.gather(*(infra.stop() for infra in infras))
        async with Database(database_url) as cleanup:
            await cleanup.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def test_a_failing_migration_fails_the_start_and_closes_the_pool(
    database_url: str, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_bad.sql").write_text("SELECT * FROM no_such_table_for_builder;")
    table = f"ledger_{uuid.uuid4().hex[:10]}"
    infra = builder(database_url, tmp_path).with_migrations(migrations, table=table).build()
    with pytest.raises(InitializationError) as caught:
        await infra.start()
    assert caught.value.details["component"] == "migrations"
    assert isinstance(caught.value.__cause__, MigrationError)
    assert infra.database.get_stats().pool_size == 0  # the database was stopped again
    async with Database(database_url) as cleanup:
        await cleanup.execute(f"DROP TABLE IF EXISTS {table}")


def test_with_migrations_needs_the_database_first(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"with_database\(\) before it"):
        Infra.builder("test", directory=tmp_path).with_migrations(tmp_path)
