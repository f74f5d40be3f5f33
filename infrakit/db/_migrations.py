"""Forward-only SQL migrations: `NNNN_name.sql` files, a checksum ledger, an advisory lock."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrakit.db._errors import MigrationError
from infrakit.errors import ValidationError, json_pointer

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from infrakit.db._database import Database

__all__ = ["MigrationStatus", "create_migration", "read_status", "run_migrations"]

_FILE_NAME = re.compile(r"(\d{4})_([A-Za-z0-9_\-]+)\.sql")
_NAME = re.compile(r"[A-Za-z0-9_\-]+")
_LAST_VERSION = 9999
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class _Migration:
    version: int
    path: Path
    checksum: str

    @property
    def name(self) -> str:
        return self.path.name


def _discover(directory: Path) -> list[_Migration]:
    if not directory.is_dir():
        raise MigrationError(f"The migrations directory {directory} does not exist.")
    found: dict[int, _Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name} is not named NNNN_name.sql.", details={"file": path.name}
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"{path.name} and {found[version].name} share version {version}.",
                details={"file": path.name, "version": version},
            )
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        found[version] = _Migration(version, path, checksum)
    return [found[version] for version in sorted(found)]


def _ledger_name(table: str, schema: str | None) -> tuple[Any, str]:
    from psycopg import sql

    for value in (table, schema):
        if value is not None and not _IDENTIFIER.fullmatch(value):
            raise ValidationError(
                "The migrations table and schema must be plain SQL identifiers.",
                errors=[
                    {"pointer": json_pointer(["table"]), "detail": "not a valid SQL identifier"}
                ],
            )
    parts = (schema, table) if schema else (table,)
    return sql.Identifier(*parts), ".".join(parts)


async def run_migrations(
    database: Database, directory: Path, *, table: str, schema: str | None
) -> list[str]:
    """Apply pending migrations in version order; return the names applied."""
    migrations = _discover(directory)
    ledger, ledger_name = _ledger_name(table, schema)
    lock_key = int.from_bytes(hashlib.sha256(ledger_name.encode()).digest()[:8], "big", signed=True)
    connection = await database._acquire_or_raise()
    try:
        await _execute(connection, "SELECT pg_advisory_lock(%s)", (lock_key,))
        applied = await _apply_pending(database, connection, migrations, ledger, schema)
        await _execute(connection, "SELECT pg_advisory_unlock(%s)", (lock_key,))
    except BaseException:
        # The session may still hold the lock and an aborted transaction (a failed
        # file, a cancelled run): closing it releases both, where an unlock could
        # fail and hide the original error; a statement still running is cancelled
        # first. The pool replaces the connection.
        await database._discard(connection)
        raise
    await database._release(connection)
    return applied


async def _apply_pending(
    database: Database,
    connection: AsyncConnection[Any],
    migrations: list[_Migration],
    ledger: Any,
    schema: str | None,
) -> list[str]:
    from psycopg import sql

    if schema:
        await _execute(
            connection, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
        )
    await _execute(
        connection,
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, name text NOT NULL, "
            "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
            "duration_ms double precision NOT NULL)"
        ).format(ledger),
    )
    cursor = await _execute(
        connection, sql.SQL("SELECT version, name, checksum FROM {}").format(ledger)
    )
    applied = {row[0]: (row[1], row[2]) for row in await cursor.fetchall()}
    _verify(migrations, applied, database)
    done: list[str] = []
    for migration in migrations:
        if migration.version not in applied:
            await _apply(connection, migration, ledger)
            database._logger.info("migration applied", file=migration.name)
            done.append(migration.name)
    return done


def _verify(
    migrations: list[_Migration], applied: dict[int, tuple[str, str]], database: Database
) -> None:
    on_disk = {migration.version: migration for migration in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = on_disk.get(version)
        if migration is None:
            database._logger.warning("applied migration missing on disk", file=name)
        elif migration.checksum != checksum:
            raise MigrationError(
                f"{migration.name} changed after it was applied; add a new migration instead.",
                details={"file": migration.name, "version": version},
            )


async def _apply(connection: AsyncConnection[Any], migration: _Migration, ledger: Any) -> None:
    from psycopg import sql

    started = time.perf_counter()
    script = migration.path.read_text(encoding="utf-8")
    await _execute(connection, "BEGIN")
    try:
        await connection.execute(script)
        await connection.execute(
            sql.SQL(
                "INSERT INTO {} (version, name, checksum, duration_ms) VALUES (%s, %s, %s, %s)"
            ).format(ledger),
            (
                migration.version,
                migration.name,
                migration.checksum,
                (time.perf_counter() - started) * 1000,
            ),
        )
        await connection.execute("COMMIT")
    except Exception as error:  # the caller closes the connection, which rolls back
        raise _failed(migration, script, error) from error


def _failed(migration: _Migration, script: str, error: Exception) -> MigrationError:
    """The file, the SQLSTATE, and PostgreSQL's own message and position in the file.

    Migrations are the operator's SQL, so the server's words are kept (in `details`,
    which problem bodies hide for this 500 error); the message itself stays fixed.
    """
    sqlstate = getattr(error, "sqlstate", None)
    details: dict[str, Any] = {"file": migration.name, "sqlstate": sqlstate}
    diagnostic = getattr(error, "diag", None)
    if diagnostic is not None:
        for name in ("message_primary", "message_detail", "message_hint", "context"):
            value = getattr(diagnostic, name, None)
            if value:
                details[name.removeprefix("message_")] = value
        details.update(_position(script, diagnostic.statement_position))
    return MigrationError(
        f"{migration.name} failed (SQLSTATE {sqlstate}); nothing of it was applied.",
        details=details,
    )


def _position(script: str, position: str | None) -> dict[str, int]:
    """Line and column (1-based) of the server's character `position` in the script."""
    if not position or not position.isdigit():
        return {}
    before = script[: int(position) - 1]
    line = before.count("\n") + 1
    return {"position": int(position), "line": line, "column": len(before) - before.rfind("\n")}


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """One row of the ledger, and whether the file on disk still matches it."""

    version: int
    name: str
    applied_at: datetime
    state: str  # "applied", "changed" (checksum differs) or "missing" (no file on disk)


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """What `migrate` would find: the ledger's rows and the files not yet applied."""

    applied: list[AppliedMigration]
    pending: list[str]

    @property
    def changed(self) -> list[str]:
        return [row.name for row in self.applied if row.state == "changed"]


async def read_status(
    database: Database, directory: Path, *, table: str, schema: str | None
) -> MigrationStatus:
    """Compare the files with the ledger; reads only (no lock, creates nothing)."""
    from psycopg import sql

    migrations = _discover(directory)
    ledger, ledger_name = _ledger_name(table, schema)
    rows: list[dict[str, Any]] = []
    if await database.fetch_value("SELECT to_regclass(%s) IS NOT NULL", (ledger_name,)):
        query = sql.SQL(
            "SELECT version, name, checksum, applied_at FROM {} ORDER BY version"
        ).format(ledger)
        rows = await database.fetch_all(query.as_string(None))
    on_disk = {migration.version: migration for migration in migrations}
    applied = [_applied_row(row, on_disk.get(row["version"])) for row in rows]
    done = {row["version"] for row in rows}
    pending = [migration.name for migration in migrations if migration.version not in done]
    return MigrationStatus(applied, pending)


def _applied_row(row: dict[str, Any], migration: _Migration | None) -> AppliedMigration:
    if migration is None:
        state = "missing"
    else:
        state = "applied" if migration.checksum == row["checksum"] else "changed"
    return AppliedMigration(row["version"], row["name"], row["applied_at"], state)


def create_migration(directory: Path, name: str) -> Path:
    """Create the empty file `NNNN_name.sql` numbered after the highest version there."""
    if not _NAME.fullmatch(name):
        raise ValidationError(
            "A migration name holds only letters, digits, '_' and '-'.",
            errors=[{"pointer": json_pointer(["name"]), "detail": "not a migration name"}],
        )
    directory.mkdir(parents=True, exist_ok=True)
    version = max((migration.version for migration in _discover(directory)), default=0) + 1
    if version > _LAST_VERSION:
        raise MigrationError(f"{directory} already holds version {_LAST_VERSION}, the last one.")
    path = directory / f"{version:04d}_{name}.sql"
    path.touch(exist_ok=False)
    return path


async def _execute(connection: AsyncConnection[Any], statement: Any, params: Any = None) -> Any:
    try:
        return await connection.execute(statement, params)
    except Exception as error:
        from infrakit.db._errors import translate_error

        raise translate_error(error) from error
