"""`python -m infrakit.db migrate|status|create`: migrations from a shell.

The database URL is `--url`, else `DATABASE_URL` as `with_database()` reads it: the
`.env` cascade of `--config-dir` for `--env` (through `infrakit.config.load_config`),
the process environment on top, and the secret providers.

Exit status: 0 done (or up to date, or nothing to report), 1 a migration or database
error or a changed applied file, 2 bad usage or configuration, 130 interrupted (Ctrl-C).
Output is this tool's own: psycopg's and the pool's log lines are off.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infrakit.db._database import Database
from infrakit.db._migrations import MigrationStatus, create_migration, read_status
from infrakit.errors import AppError, ConfigurationError, ValidationError

_LEDGER = "infrakit_migrations"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infrakit.db")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="apply pending NNNN_name.sql files")
    status = commands.add_parser("status", help="applied, pending and changed migrations")
    for command in (migrate, status):
        command.add_argument("directory", nargs="?", default="migrations")
        command.add_argument("--url", default=None, help="database URL (default: DATABASE_URL)")
        command.add_argument("--env", default=None, help="configuration env (default: APP_ENV)")
        command.add_argument("--config-dir", default=".", help="where the .env files are")
        command.add_argument("--table", default=_LEDGER, help="ledger table")
        command.add_argument("--schema", default=None, help="schema of the ledger table")
    create = commands.add_parser("create", help="add an empty migration, numbered next")
    create.add_argument("name", help="letters, digits, '_' and '-'")
    create.add_argument("directory", nargs="?", default="migrations")
    return parser


class _ConsoleLogger:
    """The `Logger` the tool gives `Database`: warnings to stderr, the rest dropped.

    The tool prints its own lines; a pool-open notice or a `query failed` record
    would only repeat them.
    """

    name = "infrakit.db.cli"

    def warning(self, message: str, /, **metadata: Any) -> None:
        context = ", ".join(f"{key}={value}" for key, value in metadata.items())
        print(f"warning: {message}" + (f" ({context})" if context else ""), file=sys.stderr)

    def _drop(self, *args: Any, **metadata: Any) -> None:
        return None

    debug = info = error = critical = exception = _drop
    debug_obj = info_obj = warn_obj = error_obj = _drop

    def child(self, name: str) -> _ConsoleLogger:
        return self

    def with_context(self, **context: Any) -> _ConsoleLogger:
        return self


@contextmanager
def _quiet_driver() -> Iterator[None]:
    """Keep psycopg's own warnings (connection retries, cancellations) off the console."""
    driver = logging.getLogger("psycopg")
    saved = driver.propagate, driver.handlers[:]
    driver.propagate, driver.handlers = False, [logging.NullHandler()]
    try:
        yield
    finally:
        driver.propagate, driver.handlers = saved


def _database_url(arguments: argparse.Namespace) -> str:
    """`--url`, else `DATABASE_URL` resolved as `with_database()` resolves it.

    `DatabaseSettings.from_config` asks the same `.env` files, environment and secret
    providers (`DATABASE_URL_FILE`, `/run/secrets`); a missing URL is its
    `ConfigurationError`, which says where it looked.
    """
    if arguments.url:
        return str(arguments.url)
    from infrakit.config import load_config
    from infrakit.db._settings import DatabaseSettings

    config = load_config(arguments.env, directory=arguments.config_dir)
    return DatabaseSettings.from_config(config).url.get_secret_value()


async def _run(arguments: argparse.Namespace, url: str) -> Any:
    database = Database(
        url,
        min_size=1,
        max_size=1,
        application_name="infrakit-migrate",
        logger=_ConsoleLogger(),
    )
    async with database:
        directory = Path(arguments.directory)
        ledger: Mapping[str, Any] = {"table": arguments.table, "schema": arguments.schema}
        if arguments.command == "status":
            return await read_status(database, directory, **ledger)
        return await database.migrate(directory, **ledger)


def _print_applied(applied: list[str]) -> int:
    for name in applied:
        print(f"applied {name}")
    print(f"{len(applied)} migration(s) applied" if applied else "up to date")
    return 0


def _print_status(status: MigrationStatus) -> int:
    rows = [
        (f"{row.version:04d}", row.name, row.state, f"{row.applied_at:%Y-%m-%d %H:%M:%S%z}")
        for row in status.applied
    ]
    rows += [(name[:4], name, "pending", "") for name in status.pending]
    header = ("version", "file", "state", "applied at")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    changed = status.changed
    print(f"{len(status.applied)} applied, {len(status.pending)} pending, {len(changed)} changed")
    if changed:
        print(f"error: changed after they were applied: {', '.join(changed)}", file=sys.stderr)
    return 1 if changed else 0


def _print_error(error: AppError) -> None:
    print(f"error: {error.message} [{error.code}]", file=sys.stderr)
    details = error.details
    if "primary" in details:
        print(f"  PostgreSQL: {details['primary']}", file=sys.stderr)
    for label in ("detail", "hint", "context"):
        if label in details:
            print(f"  {label}: {details[label]}", file=sys.stderr)
    if "line" in details:
        where = f"{details['file']} line {details['line']}, column {details['column']}"
        print(f"  at {where} (character {details['position']})", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "create":
            print(create_migration(Path(arguments.directory), arguments.name))
            return 0
        url = _database_url(arguments)
        with _quiet_driver():
            outcome = asyncio.run(_run(arguments, url))
    except (ConfigurationError, ValidationError) as error:
        _print_error(error)
        return 2
    except AppError as error:
        _print_error(error)
        return 1
    except KeyboardInterrupt:  # the running file was cancelled on the server and rolled back
        print("interrupted", file=sys.stderr)
        return 130
    if isinstance(outcome, MigrationStatus):
        return _print_status(outcome)
    return _print_applied(outcome)


if __name__ == "__main__":
    sys.exit(main())
