"""Queries, row types, settings, error translation, statistics and health on a real server."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable

import pydantic
import pytest

from infrakit.config import load_config
from infrakit.db import (
    CheckViolationError,
    Database,
    DatabaseProtocol,
    DatabaseSettings,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    ForeignKeyViolationError,
    NotNullViolationError,
    Queryable,
    QueryResult,
    UniqueViolationError,
)
from infrakit.errors import (
    ConfigurationError,
    ConflictError,
    DatabaseError,
    MissingDependencyError,
    ValidationError,
)
from tests.recording import RecordingLogger

from .conftest import ASYNC_ONLY, TableFactory

pytestmark = pytest.mark.postgres

SECRET_URL = "postgresql://app:s3cr3t-pw@127.0.0.1:5432/test"


def written(logger: RecordingLogger) -> str:
    """What a real logger writes: messages and metadata (the handled exception only for
    `exception()`, which db never calls with a driver error)."""
    return repr(
        [
            (record.message, record.metadata, record.error if record.level == "exception" else None)
            for record in logger.records
        ]
    )


async def wait_until(condition: Callable[[], bool], attempts: int = 250) -> None:
    """Poll `condition` every 20 ms, at most `attempts` times (5 s by default)."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


class UserModel(pydantic.BaseModel):
    id: int
    name: str


@dataclasses.dataclass
class UserRow:
    id: int
    name: str


def test_settings_never_show_the_password(tmp_path: object) -> None:
    settings = DatabaseSettings(url=SECRET_URL)
    database = Database(settings)
    for text in (repr(settings), str(settings), repr(database), settings.redacted_url):
        assert "s3cr3t-pw" not in text
    assert settings.redacted_url == "postgresql://app:***@127.0.0.1:5432/test"
    query_form = DatabaseSettings(url="postgresql://h/db?user=a&password=pw1")
    assert "pw1" not in query_form.redacted_url


def test_settings_load_from_the_database_namespace(tmp_path: object) -> None:
    config = load_config(
        "test",
        directory=str(tmp_path),
        environ={"DATABASE_URL": SECRET_URL, "DATABASE_POOL_MAX_SIZE": "7"},
    )
    settings = DatabaseSettings.from_config(config)
    assert settings.pool_max_size == 7
    assert settings.url.get_secret_value() == SECRET_URL
    database = Database(settings, max_size=3, acquire_timeout=1.5)
    assert database.settings.pool_max_size == 3
    assert database.settings.acquire_timeout == 1.5
    with pytest.raises(ConfigurationError) as caught:
        Database(settings, max_size=0, acquire_timeout=-7.25)
    assert caught.value.details["fields"] == ["acquire_timeout", "pool_max_size"]
    assert "-7.25" not in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


async def test_query_methods(db: Database, make_table: TableFactory) -> None:
    table = await make_table("id serial PRIMARY KEY, name text NOT NULL")
    assert await db.execute(f"INSERT INTO {table} (name) VALUES (%s), (%s)", ("ann", "bob")) == 2
    assert await db.execute_many(f"INSERT INTO {table} (name) VALUES (%s)", [("cy",), ("di",)]) == 2
    result = await db.query(f"SELECT id, name FROM {table} ORDER BY id")
    assert isinstance(result, QueryResult)
    assert result.columns == ("id", "name")
    assert result.rowcount == 4
    assert result.rows[0] == {"id": 1, "name": "ann"}
    assert await db.fetch_one(f"SELECT name FROM {table} WHERE id = %s", (2,)) == {"name": "bob"}
    assert await db.fetch_one(f"SELECT name FROM {table} WHERE id = %s", (99,)) is None
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 4
    named = await db.fetch_all(f"SELECT name FROM {table} WHERE id > %(low)s", {"low": 3})
    assert named == [{"name": "di"}]
    update = await db.query(f"UPDATE {table} SET name = name || '!' WHERE id < %s", (3,))
    assert (update.rowcount, update.rows, update.columns) == (2, [], ())
    # A statement without a result set: the fetch methods answer "nothing", not an error.
    no_rows = f"UPDATE {table} SET name = name WHERE id = %s"
    assert await db.fetch_one(no_rows, (1,)) is None
    assert await db.fetch_all(no_rows, (1,)) == []
    assert await db.fetch_value(no_rows, (1,)) is None
    assert await db.fetch_all(f"SELECT name FROM {table} WHERE false") == []
    assert await db.fetch_value(f"SELECT name FROM {table} WHERE false") is None


async def test_row_type_maps_to_pydantic_and_dataclasses(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("id serial PRIMARY KEY, name text")
    await db.execute(f"INSERT INTO {table} (name) VALUES ('ann')")
    models = await db.fetch_all(f"SELECT id, name FROM {table}", row_type=UserModel)
    assert models == [UserModel(id=1, name="ann")]
    row = await db.fetch_one(f"SELECT id, name FROM {table}", row_type=UserRow)
    assert row == UserRow(id=1, name="ann")
    built = await db.query_builder(table).select(["id", "name"]).get_many(row_type=UserRow)
    assert built == [UserRow(1, "ann")]
    with pytest.raises(DatabaseError) as caught:
        await db.fetch_all(f"SELECT id, NULL AS name FROM {table}", row_type=UserModel)
    assert caught.value.status_code == 500
    with pytest.raises(DatabaseError) as caught:  # the row's values never show
        await db.fetch_all(f"SELECT 'row-secret-9' AS id, name FROM {table}", row_type=UserModel)
    assert caught.value.details == {"fields": [{"field": "id", "type": "int_parsing"}]}
    assert "row-secret-9" not in str(caught.value.to_problem(expose_internal=True))


async def test_constraint_violations_are_translated_without_values(
    db: Database, make_table: TableFactory, logger: RecordingLogger
) -> None:
    parent = await make_table("id int PRIMARY KEY")
    child = await make_table(
        f"id int PRIMARY KEY, parent int REFERENCES {parent}(id), email text UNIQUE, "
        "age int CONSTRAINT age_positive CHECK (age > 0), name text NOT NULL DEFAULT 'x'"
    )
    await db.execute(f"INSERT INTO {parent} VALUES (1)")
    await db.execute(f"INSERT INTO {child} (id, parent, email) VALUES (1, 1, 'ann@example.com')")
    cases = [
        (
            f"INSERT INTO {child} (id, email) VALUES (2, %s)",
            ("ann@example.com",),
            UniqueViolationError,
            409,
            "DB_UNIQUE_VIOLATION",
        ),
        (
            f"INSERT INTO {child} (id, parent) VALUES (3, %s)",
            (424242,),
            ForeignKeyViolationError,
            409,
            "DB_FOREIGN_KEY_VIOLATION",
        ),
        (
            f"INSERT INTO {child} (id, age) VALUES (4, %s)",
            (-777,),
            CheckViolationError,
            422,
            "DB_CHECK_VIOLATION",
        ),
        (
            f"INSERT INTO {child} (id, name) VALUES (5, %s)",
            (None,),
            NotNullViolationError,
            422,
            "DB_NOT_NULL_VIOLATION",
        ),
    ]
    for sql, params, error_class, status, code in cases:
        with pytest.raises(error_class) as caught:
            await db.execute(sql, params)
        error = caught.value
        problem = error.to_problem()
        assert (problem["status"], problem["code"]) == (status, code)
        assert isinstance(error, DatabaseError)
        body = str(problem)
        for leaked in ("ann@example.com", "424242", "-777", "INSERT", "VALUES"):
            assert leaked not in body
        assert error.details.get("constraint") or error.details.get("column") == "name"
    assert isinstance(caught.value, ValidationError)
    unique = UniqueViolationError()
    assert isinstance(unique, ConflictError)
    assert isinstance(unique, DatabaseError)
    assert any(
        record.message == "query failed" and "INSERT" in record.metadata["sql"]
        for record in logger.records
    )
    assert "ann@example.com" not in written(logger)


async def test_other_errors_are_500_with_hidden_message(db: Database) -> None:
    with pytest.raises(DatabaseError) as caught:
        await db.execute("SELEC broken syntax")
    problem = caught.value.to_problem()
    assert problem["status"] == 500
    assert "SELEC" not in str(problem)
    assert caught.value.details["sqlstate"] == "42601"


async def test_query_timeout_cancels_on_the_server(db: Database) -> None:
    with pytest.raises(DatabaseTimeoutError) as caught:
        await db.fetch_value("SELECT pg_sleep(5)", timeout=0.2)
    assert caught.value.to_problem()["status"] == 504
    assert await db.fetch_value("SELECT 1") == 1
    assert db.get_stats().pool_idle == db.get_stats().pool_size


async def test_statement_timeout_setting(database_url: str, application_name: str) -> None:
    async with Database(
        database_url, statement_timeout=0.2, max_size=1, application_name=application_name
    ) as db:
        with pytest.raises(DatabaseTimeoutError) as caught:
            await db.fetch_value("SELECT pg_sleep(3)")
        assert caught.value.details["sqlstate"] == "57014"


async def test_server_side_cancel_is_a_timeout(
    db: Database, database_url: str, application_name: str
) -> None:
    """pg_cancel_backend (an operator or a cancel request) reads as a timeout, 504."""
    import asyncio

    import psycopg

    sleeper = asyncio.create_task(db.fetch_value("SELECT pg_sleep(10)"))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        pids: list[int] = []
        for _ in range(100):  # only this test's own session, found by its application_name
            cursor = await admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND state = 'active' AND query LIKE 'SELECT pg_sleep(10)%%'",
                (application_name,),
            )
            pids = [row[0] for row in await cursor.fetchall()]
            if pids:
                break
            await asyncio.sleep(0.02)
        assert len(pids) == 1
        await admin.execute("SELECT pg_cancel_backend(%s)", (pids[0],))
    with pytest.raises(DatabaseTimeoutError) as caught:
        await asyncio.wait_for(sleeper, timeout=5)
    assert caught.value.details["sqlstate"] == "57014"
    assert await db.fetch_value("SELECT 1") == 1


async def test_unreachable_server_is_unavailable() -> None:
    db = Database("postgresql://postgres:pw-hidden@127.0.0.1:1/test", acquire_timeout=0.5)
    with pytest.raises(DatabaseUnavailableError) as caught:
        await db.open()
    assert caught.value.to_problem()["status"] == 503
    assert "pw-hidden" not in str(caught.value) + repr(caught.value.details)
    with pytest.raises(DatabaseUnavailableError):
        await db.fetch_value("SELECT 1")


async def test_cancelled_open_closes_the_half_open_pool() -> None:
    """filterwarnings=error and the pool's own checks fail the run if its workers leak."""
    db = Database("postgresql://postgres@127.0.0.1:1/test", acquire_timeout=5)
    opening = asyncio.create_task(db.open())
    await wait_until(lambda: bool(_pool_tasks()))  # the pool's workers are trying to connect
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert db.get_stats().pool_size == 0
    assert _pool_tasks() == []


def _pool_tasks() -> list[object]:
    return [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and "pool" in repr(task.get_coro()).lower()
    ]


async def test_stats_health_and_slow_queries(
    database_url: str, logger: RecordingLogger, application_name: str
) -> None:
    async with Database(
        database_url,
        slow_query_threshold=0.05,
        logger=logger,
        application_name=application_name,
        max_size=2,
    ) as db:
        health = await db.health()
        assert health.latency_ms > 0
        assert health.pool_size >= 1
        await db.fetch_value("SELECT pg_sleep(0.1) IS NULL AND %s <> ''", ("top-secret",))
        with pytest.raises(DatabaseError):
            await db.execute("SELECT 1/0")
        stats = db.get_stats()
        assert stats.queries == 2
        assert stats.errors == 1
        assert stats.errors_by_sqlstate == {"22012": 1}
        assert stats.slow_queries == 1
        assert stats.max_duration_ms >= 100
        assert stats.p50_duration_ms <= stats.p95_duration_ms <= stats.p99_duration_ms
        assert stats.pool_size >= 1
        assert stats.pool_waiting == 0
        slow = [record for record in logger.records if record.message == "slow query"]
        assert slow
        assert slow[0].metadata["params"] == ["str"]
        assert "top-secret" not in written(logger)
        reset = db.get_stats(reset=True)
        assert reset.queries == 2
        assert db.get_stats().queries == 0


def test_missing_extra_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    monkeypatch.delitem(sys.modules, "infrakit.db._render", raising=False)
    monkeypatch.setitem(sys.modules, "pypika", None)
    import asyncio

    db = Database("postgresql://127.0.0.1/test")
    with pytest.raises(MissingDependencyError, match=r"infrakit\[postgres\]"):
        asyncio.run(db.open())
    with pytest.raises(MissingDependencyError, match=r"infrakit\[postgres\]"):
        db.query_builder("users").to_sql()


async def test_builder_wires_the_database_from_config(
    database_url: str, application_name: str, tmp_path: object
) -> None:
    from infrakit import Infra

    config = load_config(
        "test",
        directory=str(tmp_path),
        environ={"DATABASE_URL": database_url, "DATABASE_APPLICATION_NAME": application_name},
    )
    infra = Infra.builder("test").with_config(config).with_database().build()
    async with infra:
        assert infra.database.settings.application_name == application_name
        assert await infra.database.fetch_value("SELECT 41 + 1") == 42
        health = await infra.health()
        assert health["database"].healthy


@ASYNC_ONLY  # the Protocols describe the async form
async def test_protocols_describe_database_and_transaction(db: Database) -> None:
    assert isinstance(db, DatabaseProtocol)
    async with db.transaction() as tx:
        assert isinstance(tx, Queryable)
        assert await tx.fetch_value("SELECT 1") == 1
