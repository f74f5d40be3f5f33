"""Gallery metadata: one row per upload, in PostgreSQL or in SQLite beside the files.

`PostgresItemStore` runs on `infrakit.db` (its table comes from `migrations/`, applied at
start by the builder); `SqliteItemStore` uses the standard library's `sqlite3` in worker
threads, so the embedded defaults need no server. Both keep the same columns.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from infrakit.db import Database

__all__ = ["Item", "ItemStore", "PostgresItemStore", "SqliteItemStore", "Status"]

Status = Literal["processing", "ready", "failed"]
LISTING_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Item:
    """One upload: what was sent, and what its thumbnail job found."""

    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    status: Status = "processing"
    kind: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    thumbnail_key: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    """What the thumbnail job records about the media."""

    kind: str
    width: int | None
    height: int | None
    duration: float | None


class ItemStore(Protocol):
    """Where the gallery keeps its items; both stores below implement it."""

    async def add(self, item: Item) -> None: ...

    async def get(self, item_id: str) -> Item | None: ...

    async def recent(self) -> list[Item]:
        """The newest `LISTING_LIMIT` items, newest first."""
        ...

    async def mark_ready(self, item_id: str, thumbnail_key: str, probe: Probe) -> Item | None: ...

    async def mark_failed(self, item_id: str, error: str) -> Item | None: ...


_COLUMNS = [field.name for field in fields(Item)]


class PostgresItemStore:
    """Items in the `gallery_items` table (see `migrations/001_gallery_items.sql`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, item: Item) -> None:
        names = ", ".join(_COLUMNS)
        values = ", ".join(f"%({name})s" for name in _COLUMNS)
        await self.database.execute(
            f"INSERT INTO gallery_items ({names}) VALUES ({values})", asdict(item)
        )

    async def get(self, item_id: str) -> Item | None:
        return await self.database.fetch_one(
            "SELECT * FROM gallery_items WHERE id = %s", (item_id,), row_type=Item
        )

    async def recent(self) -> list[Item]:
        return await self.database.fetch_all(
            "SELECT * FROM gallery_items ORDER BY created_at DESC LIMIT %s",
            (LISTING_LIMIT,),
            row_type=Item,
        )

    async def mark_ready(self, item_id: str, thumbnail_key: str, probe: Probe) -> Item | None:
        return await self.database.fetch_one(
            "UPDATE gallery_items SET status = 'ready', thumbnail_key = %(key)s, kind = %(kind)s,"
            " width = %(width)s, height = %(height)s, duration = %(duration)s, error = NULL"
            " WHERE id = %(id)s RETURNING *",
            {"id": item_id, "key": thumbnail_key, **asdict(probe)},
            row_type=Item,
        )

    async def mark_failed(self, item_id: str, error: str) -> Item | None:
        return await self.database.fetch_one(
            "UPDATE gallery_items SET status = 'failed', error = %s WHERE id = %s RETURNING *",
            (error, item_id),
            row_type=Item,
        )


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS gallery_items (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT,
    width INTEGER,
    height INTEGER,
    duration REAL,
    thumbnail_key TEXT,
    error TEXT
)
"""


class SqliteItemStore:
    """Items in a SQLite file: one connection, used from worker threads under a lock.

    sqlite3 blocks, so every call runs in a thread (`asyncio.to_thread`) and the event
    loop keeps serving; the lock keeps the threads off the connection at the same time.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    async def close(self) -> None:
        if self._connection is not None:
            await asyncio.to_thread(self._connection.close)
            self._connection = None

    async def health(self) -> bool:
        return await self._run("SELECT 1") == [(1,)]

    async def add(self, item: Item) -> None:
        values = asdict(item) | {"created_at": item.created_at.isoformat()}
        names = ", ".join(_COLUMNS)
        await self._run(
            f"INSERT INTO gallery_items ({names}) VALUES ({', '.join(':' + n for n in _COLUMNS)})",
            values,
        )

    async def get(self, item_id: str) -> Item | None:
        rows = await self._run("SELECT * FROM gallery_items WHERE id = ?", (item_id,))
        return _item(rows[0]) if rows else None

    async def recent(self) -> list[Item]:
        rows = await self._run(
            "SELECT * FROM gallery_items ORDER BY created_at DESC LIMIT ?", (LISTING_LIMIT,)
        )
        return [_item(row) for row in rows]

    async def mark_ready(self, item_id: str, thumbnail_key: str, probe: Probe) -> Item | None:
        await self._run(
            "UPDATE gallery_items SET status = 'ready', thumbnail_key = :key, kind = :kind,"
            " width = :width, height = :height, duration = :duration, error = NULL"
            " WHERE id = :id",
            {"id": item_id, "key": thumbnail_key, **asdict(probe)},
        )
        return await self.get(item_id)

    async def mark_failed(self, item_id: str, error: str) -> Item | None:
        await self._run(
            "UPDATE gallery_items SET status = 'failed', error = ? WHERE id = ?", (error, item_id)
        )
        return await self.get(item_id)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(_SQLITE_SCHEMA)
        self._connection = connection

    async def _run(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._execute, sql, params)

    def _execute(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._connection is None:
                raise RuntimeError("the SQLite item store is not open")
            return self._connection.execute(sql, params).fetchall()


def _item(row: tuple[Any, ...]) -> Item:
    item = Item(**dict(zip(_COLUMNS, row, strict=True)))
    created = datetime.fromisoformat(str(item.created_at)).astimezone(UTC)
    return replace(item, created_at=created)
