"""What only the blocking form has to show: no loop anywhere, threads, its own timeouts."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from infrakit.db import DatabaseTimeoutError, DatabaseUnavailableError, sync
from infrakit.errors import DatabaseError
from tests.recording import RecordingLogger

from .conftest import unique_name

pytestmark = pytest.mark.postgres


@pytest.fixture
def blocking(database_url: str, logger: RecordingLogger, application_name: str) -> sync.Database:
    with sync.Database(
        database_url, max_size=4, application_name=application_name, logger=logger
    ) as database:
        yield database  # type: ignore[misc]


def test_no_event_loop_runs_underneath(blocking: sync.Database) -> None:
    seen: list[str] = []

    def hook() -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen.append("no loop")

    with blocking.transaction() as tx:
        assert tx.fetch_value("SELECT 41 + 1") == 42
        tx.on_commit(hook)
    assert seen == ["no loop"]


def test_threads_share_one_pool_and_every_count_is_kept(blocking: sync.Database) -> None:
    table = unique_name("t")
    blocking.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, hits int NOT NULL)")
    try:
        blocking.execute(f"INSERT INTO {table} VALUES (1, 0)")

        def increment(_: int) -> None:
            blocking.with_transaction(
                lambda tx: tx.execute(f"UPDATE {table} SET hits = hits + 1 WHERE id = 1"),
                isolation="serializable",
                retries=50,
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(increment, range(40)))
        assert blocking.fetch_value(f"SELECT hits FROM {table}") == 40
        stats = blocking.get_stats()
        assert stats.pool_waiting == 0
        assert stats.pool_idle == stats.pool_size
    finally:
        blocking.execute(f"DROP TABLE IF EXISTS {table}")


def test_query_counts_from_threads_are_exact_past_the_fold(blocking: sync.Database) -> None:
    """Durations are recorded without a lock and folded later: none may be lost."""
    before = blocking.get_stats().queries

    def query(_: int) -> None:
        for _ in range(1250):
            blocking.fetch_value("SELECT 1")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(query, range(4)))
    stats = blocking.get_stats()
    assert stats.queries - before == 5000  # more than one fold's worth (4096)
    assert stats.pool_waiting == 0


def test_a_timeout_cancels_the_statement_and_the_connection_is_reused(
    blocking: sync.Database,
) -> None:
    with pytest.raises(DatabaseTimeoutError):
        blocking.fetch_value("SELECT pg_sleep(5)", timeout=0.2)
    assert blocking.fetch_value("SELECT 1") == 1
    assert blocking.get_stats().errors_by_sqlstate == {"57014": 1}


def test_a_hook_that_needs_an_event_loop_is_an_error(blocking: sync.Database) -> None:
    async def suspends() -> None:
        await asyncio.sleep(0)

    with pytest.raises(DatabaseError, match="event loop"), blocking.transaction() as tx:
        tx.on_commit(suspends)


def test_not_open_and_unreachable_are_unavailable_with_the_password_masked() -> None:
    closed = sync.Database("postgresql://app:s3cr3t-pw@127.0.0.1:1/db", acquire_timeout=0.5)
    assert "s3cr3t-pw" not in repr(closed)
    with pytest.raises(DatabaseUnavailableError, match="not open"):
        closed.fetch_value("SELECT 1")
    with pytest.raises(DatabaseUnavailableError) as raised:
        closed.open()
    assert "s3cr3t-pw" not in str(raised.value)
