"""Transactions, savepoints, retries on 40001/40P01 and on_commit semantics."""

from __future__ import annotations

import asyncio

import pytest

from infrakit.db import (
    Database,
    DatabaseTimeoutError,
    Transaction,
    TransactionConflictError,
    UniqueViolationError,
)
from infrakit.errors import DatabaseError, ValidationError
from tests.recording import RecordingLogger

from .conftest import TableFactory

pytestmark = pytest.mark.postgres


async def test_commit_rollback_and_on_commit(db: Database, make_table: TableFactory) -> None:
    table = await make_table("id int PRIMARY KEY")
    ran: list[str] = []
    async with db.transaction() as tx:
        await tx.execute(f"INSERT INTO {table} VALUES (1)")
        tx.on_commit(lambda: ran.append("sync"))

        async def notify() -> None:
            ran.append("async")

        tx.on_commit(notify)
        assert ran == []
    assert ran == ["sync", "async"]

    async def failing_block() -> None:
        async with db.transaction() as tx:
            await tx.execute(f"INSERT INTO {table} VALUES (2)")
            tx.on_commit(lambda: ran.append("never"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await failing_block()
    assert ran == ["sync", "async"]
    assert await db.fetch_value(f"SELECT array_agg(id) FROM {table}") == [1]
    with pytest.raises(DatabaseError, match="finished"):
        await tx.execute("SELECT 1")


async def test_isolation_and_read_only(db: Database, make_table: TableFactory) -> None:
    table = await make_table("id int")
    async with db.transaction("repeatable_read") as tx:
        assert await tx.fetch_value("SHOW transaction_isolation") == "repeatable read"

    async def write_in_read_only() -> None:
        async with db.transaction("serializable", read_only=True) as tx:
            assert await tx.fetch_value("SHOW transaction_isolation") == "serializable"
            await tx.execute(f"INSERT INTO {table} VALUES (1)")

    with pytest.raises(DatabaseError) as caught:
        await write_in_read_only()
    assert caught.value.details["sqlstate"] == "25006"
    with pytest.raises(ValidationError):
        db.transaction("chaos")  # type: ignore[arg-type]


async def test_caught_error_then_commit_raises_and_commits_nothing(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("id int PRIMARY KEY")
    hooks: list[int] = []

    async def swallow_an_error() -> None:
        async with db.transaction() as tx:
            await tx.execute(f"INSERT INTO {table} VALUES (1)")
            tx.on_commit(lambda: hooks.append(1))
            with pytest.raises(UniqueViolationError):
                await tx.execute(f"INSERT INTO {table} VALUES (1)")

    with pytest.raises(DatabaseError, match="aborted by an earlier error"):
        await swallow_an_error()
    assert hooks == []
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0


async def test_savepoints_roll_back_alone_and_drop_their_hooks(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("id int PRIMARY KEY")
    hooks: list[str] = []

    async def duplicate_in_savepoint(tx: Transaction) -> None:
        async with tx.transaction() as inner:
            inner.on_commit(lambda: hooks.append("rolled back"))
            await inner.execute(f"INSERT INTO {table} VALUES (2)")
            await inner.execute(f"INSERT INTO {table} VALUES (1)")

    async with db.transaction() as tx:
        await tx.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(UniqueViolationError):
            await duplicate_in_savepoint(tx)
        async with tx.transaction() as inner:
            inner.on_commit(lambda: hooks.append("released"))
            await inner.execute(f"INSERT INTO {table} VALUES (3)")

        async def nested(savepoint: Transaction) -> int:
            return await savepoint.execute(f"INSERT INTO {table} VALUES (4)")

        assert await tx.with_transaction(nested) == 1
    assert hooks == ["released"]
    assert await db.fetch_value(f"SELECT array_agg(id ORDER BY id) FROM {table}") == [1, 3, 4]


async def _serialization_conflict_once(db: Database, table: str) -> tuple[int, list[int]]:
    """Force a real 40001: a concurrent transaction commits between our read and write."""
    attempts = 0
    hooks: list[int] = []

    async def callback(tx: Transaction) -> int:
        nonlocal attempts
        attempts += 1
        value = await tx.fetch_value(f"SELECT value FROM {table} WHERE id = 1")
        tx.on_commit(lambda: hooks.append(attempts))
        if attempts == 1:
            await db.execute(f"UPDATE {table} SET value = value + 100 WHERE id = 1")
        await tx.execute(f"UPDATE {table} SET value = %s WHERE id = 1", (value + 1,))
        return attempts

    result = await db.with_transaction(callback, isolation="serializable")
    return result, hooks


async def test_with_transaction_reruns_the_whole_callback_on_conflict(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("id int PRIMARY KEY, value int")
    await db.execute(f"INSERT INTO {table} VALUES (1, 0)")
    attempts, hooks = await _serialization_conflict_once(db, table)
    assert attempts == 2
    assert hooks == [2]  # the hook of the failed attempt never ran
    assert await db.fetch_value(f"SELECT value FROM {table}") == 101


async def test_retries_are_bounded_and_other_errors_are_not_retried(
    db: Database, make_table: TableFactory, logger: RecordingLogger
) -> None:
    table = await make_table("id int PRIMARY KEY, value int")
    await db.execute(f"INSERT INTO {table} VALUES (1, 0)")
    calls = 0

    async def always_conflicts(tx: Transaction) -> None:
        nonlocal calls
        calls += 1
        await tx.fetch_value(f"SELECT value FROM {table}")
        await db.execute(f"UPDATE {table} SET value = value + 1")
        await tx.execute(f"UPDATE {table} SET value = 0")

    with pytest.raises(TransactionConflictError) as caught:
        await db.with_transaction(always_conflicts, isolation="repeatable_read", retries=2)
    assert calls == 3
    assert caught.value.to_problem()["status"] == 409
    # Each re-run waited a random (jittered) time below the 1 s cap.
    waits = [
        record.metadata["wait_ms"]
        for record in logger.records
        if record.message == "transaction conflict, retrying"
    ]
    assert len(waits) == 2
    assert all(0 <= wait <= 1000 for wait in waits)
    assert len(set(waits)) == 2

    async def fails(tx: Transaction) -> None:
        nonlocal calls
        calls += 1
        await tx.execute(f"INSERT INTO {table} VALUES (1, 1)")

    calls = 0
    with pytest.raises(UniqueViolationError):
        await db.with_transaction(fails, isolation="serializable")
    assert calls == 1


async def test_deadlock_is_retried(db: Database, make_table: TableFactory) -> None:
    table = await make_table("id int PRIMARY KEY, value int")
    await db.execute(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    both_locked = asyncio.Barrier(2)
    attempts = {1: 0, 2: 0}

    def worker(first: int, second: int):  # type: ignore[no-untyped-def]
        async def callback(tx: Transaction) -> None:
            attempts[first] += 1
            await tx.execute(f"UPDATE {table} SET value = value + 1 WHERE id = %s", (first,))
            if attempts[first] == 1:
                await both_locked.wait()
            await tx.execute(f"UPDATE {table} SET value = value + 1 WHERE id = %s", (second,))

        return db.with_transaction(callback, retries=3)

    await asyncio.gather(worker(1, 2), worker(2, 1))
    assert attempts[1] + attempts[2] == 3  # exactly one of them was the deadlock victim
    assert await db.fetch_value(f"SELECT sum(value) FROM {table}") == 4


@pytest.mark.slow
async def test_serializable_counter_is_exact(db: Database, make_table: TableFactory) -> None:
    table = await make_table("id int PRIMARY KEY, value int")
    await db.execute(f"INSERT INTO {table} VALUES (1, 0)")
    increments = 60
    hooks = 0

    def count_hook() -> None:
        nonlocal hooks
        hooks += 1

    async def increment(tx: Transaction) -> None:
        value = await tx.fetch_value(f"SELECT value FROM {table} WHERE id = 1")
        await tx.execute(f"UPDATE {table} SET value = %s WHERE id = 1", (value + 1,))
        tx.on_commit(count_hook)

    async def task() -> None:
        for _ in range(increments):
            await db.with_transaction(increment, isolation="serializable", retries=100)

    await asyncio.gather(task(), task())
    assert await db.fetch_value(f"SELECT value FROM {table}") == 2 * increments
    assert hooks == 2 * increments
    assert db.get_stats().errors_by_sqlstate.get("40001", 0) > 0  # conflicts really happened


async def test_failing_hook_does_not_stop_the_others_and_is_reported(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("id int PRIMARY KEY")
    ran: list[str] = []

    def broken() -> None:
        raise LookupError("mail server down")

    async def body() -> None:
        async with db.transaction() as tx:
            await tx.execute(f"INSERT INTO {table} VALUES (1)")
            tx.on_commit(broken)
            tx.on_commit(lambda: ran.append("second"))

    with pytest.raises(LookupError):
        await body()
    assert ran == ["second"]
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 1  # committed


async def test_timeout_inside_a_transaction_rolls_it_back(
    db: Database, make_table: TableFactory
) -> None:
    table = await make_table("id int")

    async def body() -> None:
        async with db.transaction() as tx:
            await tx.execute(f"INSERT INTO {table} VALUES (1)")
            await tx.fetch_value("SELECT pg_sleep(5)", timeout=0.2)

    with pytest.raises(DatabaseTimeoutError):
        await body()
    assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0
    assert await db.fetch_value("SELECT 1") == 1


async def test_a_savepoint_is_never_retried_on_its_own(
    db: Database, make_table: TableFactory
) -> None:
    """A conflict inside a savepoint re-runs the whole outer callback, never the savepoint."""
    table = await make_table("id int PRIMARY KEY, value int")
    await db.execute(f"INSERT INTO {table} VALUES (1, 0)")
    calls = {"outer": 0, "inner": 0}
    hooks: list[int] = []

    async def inner(savepoint: Transaction) -> None:
        calls["inner"] += 1
        savepoint.on_commit(lambda: hooks.append(calls["outer"]))
        if calls["outer"] == 1:
            await db.execute(f"UPDATE {table} SET value = value + 100 WHERE id = 1")
        await savepoint.execute(f"UPDATE {table} SET value = value + 1 WHERE id = 1")

    async def outer(tx: Transaction) -> None:
        calls["outer"] += 1
        await tx.fetch_value(f"SELECT value FROM {table} WHERE id = 1")
        await tx.with_transaction(inner)

    await db.with_transaction(outer, isolation="serializable")
    assert calls == {"outer": 2, "inner": 2}
    assert hooks == [2]
    assert await db.fetch_value(f"SELECT value FROM {table}") == 101

    # Without the outer retry loop, the conflict simply propagates: one attempt.
    calls.update(outer=0, inner=0)
    with pytest.raises(TransactionConflictError):
        async with db.transaction("serializable") as tx:
            await outer(tx)
    assert calls == {"outer": 1, "inner": 1}
    assert hooks == [2]
