"""Migrations: ordered, recorded with checksums, refused when changed, serialised."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infrakit.db import Database, MigrationError
from infrakit.errors import ValidationError

from .conftest import ASYNC_ONLY, unique_name

pytestmark = pytest.mark.postgres


@pytest.fixture
async def schema(db: Database) -> AsyncIterator[str]:
    """A throw-away schema holding the ledger and the migrated tables."""
    name = unique_name("migrations")
    yield name
    await db.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def write(directory: Path, name: str, sql: str) -> Path:
    path = directory / name
    path.write_text(sql, encoding="utf-8")
    return path


async def test_applies_in_order_once_and_records_checksums(
    db: Database, schema: str, tmp_path: Path
) -> None:
    write(tmp_path, "0002_add_email.sql", f"ALTER TABLE {schema}.users ADD COLUMN email text;")
    write(
        tmp_path,
        "0001_users.sql",
        f"CREATE TABLE {schema}.users (id serial PRIMARY KEY, name text);\n"
        f"INSERT INTO {schema}.users (name) VALUES ('100% literal');",
    )
    applied = await db.migrate(tmp_path, schema=schema)
    assert applied == ["0001_users.sql", "0002_add_email.sql"]
    assert await db.migrate(tmp_path, schema=schema) == []
    ledger = await db.fetch_all(
        f"SELECT version, name, length(checksum) AS size FROM {schema}.infrakit_migrations "
        "ORDER BY version"
    )
    assert ledger == [
        {"version": 1, "name": "0001_users.sql", "size": 64},
        {"version": 2, "name": "0002_add_email.sql", "size": 64},
    ]
    assert await db.fetch_value(f"SELECT name FROM {schema}.users") == "100% literal"
    write(tmp_path, "0003_index.sql", f"CREATE INDEX ON {schema}.users (email);")
    assert await db.migrate(tmp_path, schema=schema) == ["0003_index.sql"]


async def test_changed_file_is_refused(db: Database, schema: str, tmp_path: Path) -> None:
    first = write(tmp_path, "0001_a.sql", f"CREATE TABLE {schema}.a (id int);")
    await db.migrate(tmp_path, schema=schema)
    first.write_text(f"CREATE TABLE {schema}.a (id bigint);", encoding="utf-8")
    write(tmp_path, "0002_b.sql", f"CREATE TABLE {schema}.b (id int);")
    with pytest.raises(MigrationError, match=r"0001_a\.sql changed"):
        await db.migrate(tmp_path, schema=schema)
    assert await db.fetch_value("SELECT to_regclass(%s)", (f"{schema}.b",)) is None


async def test_failing_migration_rolls_back_alone(
    db: Database, schema: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_ok.sql", f"CREATE TABLE {schema}.ok (id int);")
    write(
        tmp_path,
        "0002_bad.sql",
        f"CREATE TABLE {schema}.half (id int);\nSELECT * FROM {schema}.missing;",
    )
    with pytest.raises(MigrationError, match=r"0002_bad\.sql failed") as caught:
        await db.migrate(tmp_path, schema=schema)
    assert caught.value.details["sqlstate"] == "42P01"
    assert await db.fetch_value("SELECT to_regclass(%s)", (f"{schema}.half",)) is None
    versions = await db.fetch_all(f"SELECT version FROM {schema}.infrakit_migrations")
    assert versions == [{"version": 1}]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["1_short.sql"], "not named NNNN_name.sql"),
        (["0001_a.sql", "0001_b.sql"], "share version 1"),
    ],
)
async def test_bad_file_names_are_refused(
    db: Database, schema: str, tmp_path: Path, names: list[str], message: str
) -> None:
    for name in names:
        write(tmp_path, name, "SELECT 1;")
    with pytest.raises(MigrationError, match=message):
        await db.migrate(tmp_path, schema=schema)


async def test_concurrent_runners_apply_each_file_once(
    database_url: str, db: Database, schema: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_slow.sql", f"CREATE TABLE {schema}.t (id int); SELECT pg_sleep(0.3);")
    write(tmp_path, "0002_next.sql", f"INSERT INTO {schema}.t VALUES (1);")
    runners = [Database(database_url, max_size=1) for _ in range(3)]
    for runner in runners:
        await runner.open()
    try:
        results = await asyncio.gather(*(r.migrate(tmp_path, schema=schema) for r in runners))
    finally:
        for runner in runners:
            await runner.close()
    assert sorted(len(result) for result in results) == [0, 0, 2]
    assert await db.fetch_value(f"SELECT count(*) FROM {schema}.t") == 1


async def test_table_option_and_invalid_ledger_names(
    db: Database, schema: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    assert await db.migrate(tmp_path, schema=schema, table="ledger") == ["0001_a.sql"]
    assert await db.fetch_value(f"SELECT count(*) FROM {schema}.ledger") == 1
    with pytest.raises(ValidationError, match="plain SQL identifiers"):
        await db.migrate(tmp_path, table="x; DROP TABLE y")


@pytest.mark.slow
async def test_command_line(database_url: str, db: Database, schema: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_cli.sql", f"CREATE TABLE {schema}.cli (id int);")
    environment = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "infrakit.db", "migrate", str(tmp_path), "--schema", schema]
    first = await asyncio.to_thread(
        subprocess.run, command, env=environment, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "applied 0001_cli.sql" in first.stdout
    second = await asyncio.to_thread(
        subprocess.run, command, env=environment, capture_output=True, text=True, check=False
    )
    assert "up to date" in second.stdout
    (tmp_path / "0001_cli.sql").write_text("SELECT 2;", encoding="utf-8")
    changed = await asyncio.to_thread(
        subprocess.run, command, env=environment, capture_output=True, text=True, check=False
    )
    assert changed.returncode == 1
    assert "DB_MIGRATION_ERROR" in changed.stderr
    no_url = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    missing = await asyncio.to_thread(
        subprocess.run, command, env=no_url, capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2


@ASYNC_ONLY  # task cancellation
async def test_a_cancelled_run_leaves_no_lock_or_transaction_behind(
    database_url: str, db: Database, schema: str, tmp_path: Path, application_name: str
) -> None:
    write(tmp_path, "0001_slow.sql", f"CREATE TABLE {schema}.t (id int); SELECT pg_sleep(5);")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(db.migrate(tmp_path, schema=schema), timeout=0.5)
    write(tmp_path, "0001_slow.sql", f"CREATE TABLE {schema}.t (id int);")
    async with Database(database_url, max_size=1, application_name=application_name) as other:
        applied = await asyncio.wait_for(other.migrate(tmp_path, schema=schema), timeout=5)
    assert applied == ["0001_slow.sql"]
    assert await db.fetch_value(f"SELECT count(*) FROM {schema}.t") == 0
    # The first pool's connections are usable and hold no open transaction.
    assert (
        await db.fetch_value(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        == 0
    )
