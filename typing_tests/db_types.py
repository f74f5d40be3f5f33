"""Type-checked by `mypy --strict` (see the Makefile's typecheck), never run.

Each `assert_type` states what a caller of the db API sees statically: rows are
dicts unless `row_type=` names a class, and then they are instances of it, on a
`Database`, a `Transaction` and a `QueryBuilder` alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any, assert_type

from pydantic import BaseModel

from infrakit import Infra
from infrakit.db import (
    ConnectionStats,
    Database,
    DatabaseHealth,
    DatabaseProtocol,
    QueryBuilder,
    QueryResult,
    Transaction,
    TransactionScope,
)


class User(BaseModel):
    id: int
    name: str


@dataclasses.dataclass
class Order:
    id: int
    total: float


async def check_database_queries(db: Database) -> None:
    assert_type(await db.query("SELECT 1"), QueryResult[dict[str, Any]])
    assert_type(await db.query("SELECT 1", row_type=User), QueryResult[User])
    assert_type((await db.query("SELECT 1", row_type=Order)).rows, list[Order])
    assert_type(await db.fetch_all("SELECT 1"), list[dict[str, Any]])
    assert_type(await db.fetch_all("SELECT 1", (), row_type=User), list[User])
    assert_type(await db.fetch_one("SELECT 1"), dict[str, Any] | None)
    assert_type(await db.fetch_one("SELECT 1", row_type=Order), Order | None)
    assert_type(await db.fetch_value("SELECT 1"), Any)
    assert_type(await db.execute("DELETE FROM t"), int)
    assert_type(await db.execute_many("INSERT INTO t VALUES (%s)", [(1,), (2,)]), int)


async def check_transactions(db: Database) -> None:
    assert_type(db.transaction("serializable", read_only=True), TransactionScope)
    async with db.transaction() as tx:
        assert_type(tx, Transaction)
        assert_type(await tx.fetch_all("SELECT 1", row_type=User), list[User])
        assert_type(await tx.fetch_one("SELECT 1"), dict[str, Any] | None)
        async with tx.transaction() as savepoint:
            assert_type(savepoint, Transaction)

    async def transfer(tx: Transaction) -> int:
        return await tx.execute("UPDATE accounts SET balance = balance - 1")

    assert_type(await db.with_transaction(transfer, isolation="serializable"), int)


async def check_query_builder(db: Database) -> None:
    users = db.query_builder("users").select(["id", "name"]).where(active=True)
    assert_type(users, QueryBuilder)
    assert_type(await users.get_many(), list[dict[str, Any]])
    assert_type(await users.get_many(row_type=User), list[User])
    assert_type(await users.get_one(), dict[str, Any] | None)
    assert_type(await users.get_one(row_type=User), User | None)
    assert_type(await users.count(), int)
    assert_type(await users.exists(), bool)
    assert_type(users.to_sql(), tuple[str, tuple[Any, ...]])


async def check_service_surface(db: Database, infra: Infra) -> None:
    assert_type(await db.health(), DatabaseHealth)
    assert_type(db.get_stats(), ConnectionStats)
    assert_type(await db.migrate("migrations"), list[str])
    assert_type(infra.database, Database)
    service: DatabaseProtocol = db
    assert_type(service, DatabaseProtocol)
