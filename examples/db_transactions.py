"""Retrying serializable transactions, savepoints and on_commit side effects.

Needs PostgreSQL: `DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python
db_transactions.py` (that URL is the default). Uses one uniquely named table, dropped
at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid

from infrakit.db import Database, Transaction, UniqueViolationError

URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def main() -> None:
    table = f"example_accounts_{uuid.uuid4().hex[:8]}"
    async with Database(URL, max_size=8, application_name="infrakit-example") as db:
        await db.execute(f"CREATE TABLE {table} (name text PRIMARY KEY, balance int NOT NULL)")
        try:
            await demo(db, table)
        finally:
            await db.execute(f"DROP TABLE IF EXISTS {table}")


async def demo(db: Database, table: str) -> None:
    await db.execute_many(
        f"INSERT INTO {table} (name, balance) VALUES (%s, %s)", [("alice", 1000), ("bob", 0)]
    )
    receipts: list[str] = []
    attempts = 0

    async def transfer(tx: Transaction) -> None:
        """Read, then write: under SERIALIZABLE, concurrent runs conflict (40001)."""
        nonlocal attempts
        attempts += 1
        balance = await tx.fetch_value(f"SELECT balance FROM {table} WHERE name = 'alice'")
        await tx.execute(f"UPDATE {table} SET balance = %s WHERE name = 'alice'", (balance - 10,))
        await tx.execute(f"UPDATE {table} SET balance = balance + 10 WHERE name = 'bob'")
        # Runs once, after the commit that counts; never for a retried attempt.
        tx.on_commit(lambda: receipts.append("sent"))

    # 20 concurrent transfers: conflicts are retried by re-running the whole callback.
    await asyncio.gather(
        *(db.with_transaction(transfer, isolation="serializable", retries=20) for _ in range(20))
    )
    balances = await db.fetch_all(f"SELECT name, balance FROM {table} ORDER BY name")
    print("balances:", balances)
    print(f"attempts: {attempts} for 20 transfers; receipts sent: {len(receipts)}")
    assert len(receipts) == 20

    # A savepoint rolls back alone; the outer transaction still commits.
    async with db.transaction() as tx:
        await tx.execute(f"INSERT INTO {table} VALUES ('carol', 5)")
        try:
            async with tx.transaction() as savepoint:
                savepoint.on_commit(lambda: receipts.append("dropped with the savepoint"))
                await savepoint.execute(f"INSERT INTO {table} VALUES ('alice', 1)")
        except UniqueViolationError as error:
            print("savepoint rolled back:", error.code, error.details.get("constraint"))
    print("accounts now:", await db.fetch_value(f"SELECT count(*) FROM {table}"))
    print("receipts:", len(receipts))
    print("conflicts seen:", dict(db.get_stats().errors_by_sqlstate))


if __name__ == "__main__":
    asyncio.run(main())
