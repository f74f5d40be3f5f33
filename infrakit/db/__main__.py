"""`python -m infrakit.db migrate DIR [--url URL]`: apply migrations from a shell.

The URL defaults to `$DATABASE_URL`. Exit status: 0 applied or up to date,
1 a migration or database error (message printed, never the password), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from infrakit.db._database import Database
from infrakit.errors import AppError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infrakit.db")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="apply pending NNNN_name.sql files")
    migrate.add_argument("directory")
    migrate.add_argument("--url", default=None, help="database URL (default: $DATABASE_URL)")
    migrate.add_argument("--table", default="infrakit_migrations", help="ledger table")
    migrate.add_argument("--schema", default=None, help="schema of the ledger table")
    return parser


async def _migrate(arguments: argparse.Namespace, url: str) -> list[str]:
    async with Database(url, min_size=1, max_size=1, application_name="infrakit-migrate") as db:
        return await db.migrate(arguments.directory, table=arguments.table, schema=arguments.schema)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    url = arguments.url or os.environ.get("DATABASE_URL")
    if not url:
        print("error: pass --url or set DATABASE_URL", file=sys.stderr)
        return 2
    try:
        applied = asyncio.run(_migrate(arguments, url))
    except AppError as error:
        print(f"error: {error.message} [{error.code}]", file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    print(f"{len(applied)} migration(s) applied" if applied else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
