"""infrakit.db basics: queries, the parameter-safe builder, row types, errors and stats.

Needs PostgreSQL: `DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python db_basics.py`
(that URL is the default). Creates one uniquely named table and drops it at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid

from pydantic import BaseModel

from infrakit.db import Database, UniqueViolationError

URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


class User(BaseModel):
    id: int
    name: str
    email: str
    active: bool


async def main() -> None:
    table = f"example_users_{uuid.uuid4().hex[:8]}"
    async with Database(URL, max_size=4, application_name="infrakit-example") as db:
        await db.execute(
            f"CREATE TABLE {table} (id serial PRIMARY KEY, name text NOT NULL, "
            "email text UNIQUE NOT NULL, active boolean NOT NULL DEFAULT true, "
            "created_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        try:
            await demo(db, table)
        finally:
            await db.execute(f"DROP TABLE IF EXISTS {table}")


async def demo(db: Database, table: str) -> None:
    users = db.query_builder(table)
    # Values are always parameters: this hostile name is stored as plain data.
    await users.insert(
        [
            {"name": "Ada", "email": "ada@example.com", "active": True},
            {"name": "x' OR 1=1 --", "email": "mallory@example.com", "active": True},
            {"name": "Bob", "email": "bob@example.com", "active": False},
        ]
    ).execute()

    query = (
        users.select(["id", "name", "email", "active"])
        .where("active = %s", True)
        .order_by("created_at", "DESC")
        .limit(10)
    )
    sql, params = query.to_sql()
    print("SQL:   ", sql)
    print("params:", params)
    for user in await query.get_many(row_type=User):
        print("active user:", user)

    print("inactive count:", await users.where(active=False).count())
    print("mallory exists:", await users.where(email="mallory@example.com").exists())
    renamed = await users.update({"name": "Robert"}).where(email="bob@example.com").execute()
    print("renamed rows:", renamed)

    result = await db.query(f"SELECT name, email FROM {table} WHERE id = %s", (1,))
    print("raw query:", result.rows, "columns:", result.columns)

    try:
        await users.insert({"name": "Ada again", "email": "ada@example.com"}).execute()
    except UniqueViolationError as error:
        # The problem body names the constraint, never the SQL or the duplicate value.
        print("duplicate email ->", error.to_problem())

    stats = db.get_stats()
    print(
        f"stats: {stats.queries} queries, {stats.errors} errors {dict(stats.errors_by_sqlstate)}, "
        f"p50 {stats.p50_duration_ms:.2f} ms, pool {stats.pool_size} open / {stats.pool_idle} idle"
    )
    print("health:", await db.health())


if __name__ == "__main__":
    asyncio.run(main())
