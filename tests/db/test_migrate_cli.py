"""`python -m infrakit.db`, run as a real subprocess against the real server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infrakit.db import Database

from .conftest import ASYNC_ONLY, unique_name

pytestmark = [pytest.mark.postgres, pytest.mark.slow, ASYNC_ONLY]


@pytest.fixture
async def schema(db: Database) -> AsyncIterator[str]:
    name = unique_name("cli")
    yield name
    await db.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def environment_without_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "APP_ENV"}}


async def run_cli(
    *arguments: str, cwd: Path, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "infrakit.db", *arguments]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=cwd,
        env=environment or environment_without_url(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def project(tmp_path: Path, database_url: str) -> Path:
    """A project directory whose `.env` names the database, as the application reads it."""
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    (tmp_path / "migrations").mkdir()
    return tmp_path


async def test_migrate_reads_the_env_cascade_and_reports_each_file(
    database_url: str, db: Database, schema: str, tmp_path: Path
) -> None:
    root = project(tmp_path, database_url)
    (root / "migrations" / "0001_one.sql").write_text(f"CREATE TABLE {schema}.t (id int);")
    (root / "migrations" / "0002_two.sql").write_text(f"INSERT INTO {schema}.t VALUES (1);")
    first = await run_cli("migrate", "--schema", schema, cwd=root)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "applied 0001_one.sql",
        "applied 0002_two.sql",
        "2 migration(s) applied",
    ]
    assert first.stderr == ""  # no pool-open notice, no driver line
    again = await run_cli("migrate", "--schema", schema, cwd=root)
    assert (again.returncode, again.stdout.strip()) == (0, "up to date")


async def test_the_env_file_of_the_chosen_env_and_config_dir_is_read(
    database_url: str, db: Database, schema: str, tmp_path: Path
) -> None:
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / ".env.staging").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    migrations = tmp_path / "sql"
    migrations.mkdir()
    (migrations / "0001_a.sql").write_text(f"CREATE TABLE {schema}.a (id int);")
    arguments = ("migrate", str(migrations), "--schema", schema, "--config-dir", str(settings))
    result = await run_cli(*arguments, "--env", "staging", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    missing = await run_cli(*arguments, "--env", "production", cwd=tmp_path)
    assert missing.returncode == 2
    assert "DATABASE_URL" in missing.stderr


async def test_a_failed_migration_shows_postgresql_message_and_position(
    database_url: str, db: Database, schema: str, tmp_path: Path
) -> None:
    root = project(tmp_path, database_url)
    (root / "migrations" / "0001_ok.sql").write_text(f"CREATE TABLE {schema}.ok (id int);\n")
    (root / "migrations" / "0002_bad.sql").write_text(
        f"CREATE TABLE {schema}.half (id int);\n\nSELECT id\n  FROM {schema}.missing_table;\n"
    )
    result = await run_cli("migrate", "--schema", schema, cwd=root)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: 0002_bad.sql failed (SQLSTATE 42P01)")
    assert f'  PostgreSQL: relation "{schema}.missing_table" does not exist' in lines
    assert "  at 0002_bad.sql line 4, column 8" in result.stderr
    assert not any("psycopg" in line or "pool" in line for line in lines)
    assert result.stdout == ""
    assert await db.fetch_value("SELECT to_regclass(%s)", (f"{schema}.half",)) is None


async def test_status_lists_applied_pending_and_changed(
    database_url: str, db: Database, schema: str, tmp_path: Path
) -> None:
    root = project(tmp_path, database_url)
    first = root / "migrations" / "0001_first.sql"
    first.write_text(f"CREATE TABLE {schema}.f (id int);")
    fresh = await run_cli("status", "--schema", schema, cwd=root)
    assert fresh.returncode == 0, fresh.stderr
    assert [line.split() for line in fresh.stdout.splitlines()[1:]] == [
        ["0001", "0001_first.sql", "pending"],
        ["0", "applied,", "1", "pending,", "0", "changed"],
    ]
    assert await db.fetch_value("SELECT to_regnamespace(%s)", (schema,)) is None  # read only
    assert (await run_cli("migrate", "--schema", schema, cwd=root)).returncode == 0
    (root / "migrations" / "0002_second.sql").write_text(f"CREATE TABLE {schema}.s (id int);")
    mixed = await run_cli("status", "--schema", schema, cwd=root)
    table = mixed.stdout.splitlines()
    assert table[0].split() == ["version", "file", "state", "applied", "at"]
    assert table[1].split()[:3] == ["0001", "0001_first.sql", "applied"]
    assert table[2].split() == ["0002", "0002_second.sql", "pending"]
    assert table[3] == "1 applied, 1 pending, 0 changed"
    first.write_text(f"CREATE TABLE {schema}.f (id int); -- edited")
    changed = await run_cli("status", "--schema", schema, cwd=root)
    assert changed.returncode == 1
    assert changed.stdout.splitlines()[1].split()[:3] == ["0001", "0001_first.sql", "changed"]
    assert "changed after they were applied: 0001_first.sql" in changed.stderr
    first.unlink()
    missing = await run_cli("status", "--schema", schema, cwd=root)
    assert missing.returncode == 0
    assert missing.stdout.splitlines()[1].split()[:3] == ["0001", "0001_first.sql", "missing"]


async def test_create_numbers_the_next_empty_file(tmp_path: Path) -> None:
    made = await run_cli("create", "add_users", "db/migrations", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    first = tmp_path / "db" / "migrations" / "0001_add_users.sql"
    assert made.stdout.strip() == str(Path("db/migrations/0001_add_users.sql"))
    assert first.read_text() == ""
    (tmp_path / "db" / "migrations" / "0007_jump.sql").write_text("SELECT 1;")
    await run_cli("create", "next-one", "db/migrations", cwd=tmp_path)
    assert (tmp_path / "db" / "migrations" / "0008_next-one.sql").exists()
    refused = await run_cli("create", "bad name;", "db/migrations", cwd=tmp_path)
    assert refused.returncode == 2
    assert "letters, digits" in refused.stderr


async def test_an_unreachable_server_prints_one_masked_line(tmp_path: Path) -> None:
    url = "postgresql://postgres:cli-secret-pw@127.0.0.1:1/test"
    (tmp_path / "migrations").mkdir()
    result = await run_cli("migrate", "--url", url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: Cannot connect to postgresql://postgres:***@127.0.0.1:1/test. "
        "[DATABASE_UNAVAILABLE]"
    ]
    malformed = await run_cli("migrate", "--url", "postgresql://u:x%zzsecret@h/db", cwd=tmp_path)
    assert malformed.returncode == 2
    assert "zzsecret" not in malformed.stderr
    assert "malformed" in malformed.stderr


async def test_ctrl_c_cancels_the_running_file_on_the_server(
    database_url: str, db: Database, schema: str, tmp_path: Path
) -> None:
    import signal

    root = project(tmp_path, database_url)
    marker = f"SELECT pg_sleep(60) AS {schema}"
    (root / "migrations" / "0001_slow.sql").write_text(
        f"CREATE TABLE {schema}.t (id int);\n{marker};\n"
    )
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "infrakit.db", "migrate", "--schema", schema],
        cwd=root,
        env=environment_without_url(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    running = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s"
    try:
        for _ in range(500):
            if await db.fetch_value(running, (f"%{marker}%",)):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the migration never started")
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130, stderr
    assert stderr.decode().strip().splitlines()[-1] == "interrupted"
    for _ in range(250):  # the server handles the cancel request asynchronously
        if await db.fetch_value(running, (f"%{marker}%",)) == 0:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the migration's statement is still running")
    assert await db.fetch_value("SELECT to_regclass(%s)", (f"{schema}.t",)) is None
