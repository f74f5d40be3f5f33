"""Killed connections, pool exhaustion and cancellation, on the real server.

Only this test's own connections are touched: they carry a unique application_name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg
import pytest

from infrakit.db import Database, DatabaseTimeoutError, DatabaseUnavailableError
from tests.recording import RecordingLogger

from .conftest import ASYNC_ONLY, TableFactory

pytestmark = pytest.mark.postgres


async def _terminate(database_url: str, application_name: str) -> int:
    """pg_terminate_backend on every connection of `application_name` (and no other).

    Returns once the backends are gone (termination is a signal, not synchronous).
    """
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        # Select the pids first, then terminate only those: a WHERE clause calling
        # pg_terminate_backend could be evaluated before the name filter.
        cursor = await admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        )
        pids = [row[0] for row in await cursor.fetchall()]
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            )
            alive = await cursor.fetchone()
            if alive is not None and alive[0] == 0:
                break
            await asyncio.sleep(0.02)
        return len(pids)


async def _active_queries(database_url: str, application_name: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND state = 'active'",
            (application_name,),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def _wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached within 5 s")


async def _wait_pool_full(db: Database, size: int) -> None:
    for _ in range(100):
        stats = db.get_stats()
        if stats.pool_idle == stats.pool_size == size and stats.pool_waiting == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"pool not back to full: {db.get_stats()}")


@pytest.mark.slow
async def test_terminated_connections_fail_cleanly_and_the_pool_recovers(
    database_url: str, application_name: str, logger: RecordingLogger
) -> None:
    async with Database(
        database_url,
        min_size=4,
        max_size=4,
        acquire_timeout=5,
        application_name=application_name,
        logger=logger,
    ) as db:
        outcomes: list[str] = []

        async def load() -> None:
            for _ in range(6):
                try:
                    await db.fetch_value("SELECT pg_sleep(0.05) IS NULL")
                    outcomes.append("ok")
                except DatabaseUnavailableError:
                    outcomes.append("unavailable")

        tasks = [asyncio.create_task(load()) for _ in range(12)]
        await _wait_for_statement(database_url, application_name, "SELECT pg_sleep(0.05) IS NULL")
        assert await _terminate(database_url, application_name) >= 1
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)  # nothing hangs
        assert "unavailable" in outcomes  # in-flight queries failed, translated
        assert set(outcomes) <= {"ok", "unavailable"}
        # Every later query succeeds: dead idle connections are skipped on acquire.
        await _terminate(database_url, application_name)
        results = await asyncio.gather(*(db.fetch_value("SELECT 1") for _ in range(12)))
        assert results == [1] * 12
        assert db.get_stats().connections_lost >= 1
        await _wait_pool_full(db, 4)


@pytest.mark.slow
async def test_pool_exhaustion_times_out_then_recovers(
    database_url: str, application_name: str
) -> None:
    async with Database(
        database_url, min_size=2, max_size=2, acquire_timeout=0.5, application_name=application_name
    ) as db:
        release = asyncio.Event()
        holding = asyncio.Barrier(3)

        async def hold() -> None:
            async with db.transaction() as tx:
                await tx.fetch_value("SELECT 1")
                await holding.wait()
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(2)]
        await holding.wait()
        started = time.monotonic()
        with pytest.raises(DatabaseTimeoutError) as caught:
            await db.fetch_value("SELECT 1")
        elapsed = time.monotonic() - started
        assert 0.4 <= elapsed < 3
        assert caught.value.to_problem()["status"] == 504
        with pytest.raises(DatabaseTimeoutError):
            async with db.transaction():
                pass
        assert db.get_stats().pool_wait_ms >= 800  # two waits of ~0.5 s each
        started = time.monotonic()
        with pytest.raises(DatabaseTimeoutError):  # `timeout=` bounds the wait for a connection
            await db.fetch_value("SELECT 1", timeout=0.05)
        assert time.monotonic() - started < 0.4
        waiter = asyncio.create_task(db.fetch_value("SELECT 4"))
        await _wait_for(lambda: db.get_stats().pool_waiting == 1)
        release.set()
        assert await waiter == 4
        await asyncio.gather(*holders)
        await _wait_pool_full(db, 2)
        assert await db.fetch_value("SELECT 2") == 2


@pytest.mark.slow
@ASYNC_ONLY  # task cancellation
async def test_cancelled_queries_return_their_connections(
    database_url: str, application_name: str, make_table: TableFactory
) -> None:
    table = await make_table("id int")
    async with Database(
        database_url, min_size=2, max_size=2, acquire_timeout=5, application_name=application_name
    ) as db:
        # A running query: cancelled on the server too, connection back in the pool.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(db.fetch_value("SELECT pg_sleep(10)"), timeout=0.2)
        await _wait_pool_full(db, 2)
        assert await _active_queries(database_url, application_name) == 0

        # A running transaction: rolled back, connection back.
        async def write_then_sleep() -> None:
            async with db.transaction() as tx:
                await tx.execute(f"INSERT INTO {table} VALUES (1)")
                await tx.fetch_value("SELECT pg_sleep(10)")

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(write_then_sleep(), timeout=0.3)
        await _wait_pool_full(db, 2)
        assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0

        # A query waiting for a connection: the waiter leaves, nothing leaks.
        blockers = [
            asyncio.create_task(db.fetch_value("SELECT pg_sleep(0.5) IS NULL")) for _ in range(2)
        ]
        await _wait_for(lambda: db.get_stats().pool_idle == 0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(db.fetch_value("SELECT 1"), timeout=0.1)
        await asyncio.gather(*blockers)
        await _wait_pool_full(db, 2)
        assert await db.fetch_value("SELECT 3") == 3


async def _leftovers(database_url: str, application_name: str) -> tuple[int, int]:
    """(statements still running, locks still held) by sessions of `application_name`."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE application_name = %(name)s "
            "AND state <> 'idle'), "
            "(SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid) "
            "WHERE application_name = %(name)s AND locktype <> 'virtualxid')",
            {"name": application_name},
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


async def _wait_for_statement(database_url: str, application_name: str, text: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        for _ in range(250):
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                "AND state = 'active' AND query = %s",
                (application_name, text),
            )
            row = await cursor.fetchone()
            if row is not None and row[0]:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"{text!r} never started")


async def _wait_nothing_left(database_url: str, application_name: str) -> None:
    for _ in range(100):  # termination and lock release are asynchronous on the server
        if await _leftovers(database_url, application_name) == (0, 0):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"left on the server: {await _leftovers(database_url, application_name)}")


@ASYNC_ONLY
@pytest.mark.parametrize("cancels", [1, 2, 3, 6])
async def test_repeated_cancellation_leaves_no_statement_or_lock_on_the_server(
    database_url: str,
    application_name: str,
    make_table: TableFactory,
    recording_logger: RecordingLogger,
    cancels: int,
) -> None:
    table = await make_table("id int PRIMARY KEY, hits int")
    sleeper = "SELECT pg_sleep(30)"
    async with Database(
        database_url,
        min_size=1,
        max_size=2,
        application_name=application_name,
        logger=recording_logger,
    ) as db:
        await db.execute(f"INSERT INTO {table} VALUES (1, 0)")

        async def lock_then_sleep() -> None:
            async with db.transaction() as tx:
                await tx.execute(f"UPDATE {table} SET hits = hits + 1 WHERE id = 1")
                await tx.execute(sleeper)

        task = asyncio.create_task(lock_then_sleep())
        await _wait_for_statement(database_url, application_name, sleeper)
        for _ in range(cancels):  # each one lands while the previous is being handled
            task.cancel()
            for _ in range(3):
                await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        await _wait_nothing_left(database_url, application_name)
        # The row lock is gone: another session updates the row at once.
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as other:
            await other.execute("SET lock_timeout = '2s'")
            await other.execute(f"UPDATE {table} SET hits = hits + 10 WHERE id = 1")
        assert await db.fetch_value(f"SELECT hits FROM {table} WHERE id = 1") == 10
        await _wait_pool_full(db, db.get_stats().pool_size)
        # One cancel is confirmed by psycopg and the connection kept; a second one cuts
        # that confirmation short, so the connection is closed, never handed out again.
        discarded = "connection discarded after an interruption" in recording_logger.messages()
        assert discarded == (cancels > 1)
        assert (db.get_stats().connections_lost >= 1) == (cancels > 1)


async def test_repeated_cancellation_of_a_single_statement(
    database_url: str, application_name: str, recording_logger: RecordingLogger
) -> None:
    sleeper = "SELECT pg_sleep(30)"
    async with Database(
        database_url,
        min_size=1,
        max_size=1,
        application_name=application_name,
        logger=recording_logger,
    ) as db:
        task = asyncio.create_task(db.fetch_value(sleeper))
        await _wait_for_statement(database_url, application_name, sleeper)
        for _ in range(4):
            task.cancel()
            for _ in range(3):
                await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        await _wait_nothing_left(database_url, application_name)
        assert await db.fetch_value("SELECT 5", timeout=5) == 5


@ASYNC_ONLY
@pytest.mark.parametrize("cancels", [2, 5])
async def test_repeated_cancellation_between_statements_still_rolls_back(
    database_url: str,
    application_name: str,
    make_table: TableFactory,
    recording_logger: RecordingLogger,
    cancels: int,
) -> None:
    """Cancelled while the block awaits something else: the ROLLBACK cannot be cut short."""
    table = await make_table("id int PRIMARY KEY, hits int")
    async with Database(
        database_url, max_size=2, application_name=application_name, logger=recording_logger
    ) as db:
        await db.execute(f"INSERT INTO {table} VALUES (1, 0)")
        locked = asyncio.Event()

        async def lock_then_wait() -> None:
            async with db.transaction() as tx:
                await tx.execute(f"UPDATE {table} SET hits = hits + 1 WHERE id = 1")
                locked.set()
                await asyncio.Event().wait()  # never set: only a cancellation ends it

        task = asyncio.create_task(lock_then_wait())
        await asyncio.wait_for(locked.wait(), timeout=5)
        for _ in range(cancels):
            task.cancel()
            await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        await _wait_nothing_left(database_url, application_name)
        assert await db.fetch_value(f"SELECT hits FROM {table} WHERE id = 1") == 0
        await _wait_pool_full(db, db.get_stats().pool_size)
