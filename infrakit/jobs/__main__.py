"""`python -m infrakit.jobs worker|stats|pause|resume|retry|cancel APP_MODULE:queue ...`.

`APP_MODULE:queue` names a `JobQueue` in an importable module (the current directory
is on the path), or a function returning one, sync or async, called inside the
event loop, which is where a PostgreSQL store's `Database` must be opened.

Exit status: 0 done, 1 the job or store refused (unknown id, not cancellable),
2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from infrakit.errors import AppError
from infrakit.jobs._queue import JobQueue

_COLUMNS = ("waiting", "active", "delayed", "blocked", "paused", "completed", "failed", "cancelled")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infrakit.jobs")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run a worker until SIGTERM or Ctrl-C")
    worker.add_argument("app", help="module:attribute naming the JobQueue")
    worker.add_argument("job_types", nargs="*", help="types to run (default: all registered)")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.add_argument("--shutdown-timeout", type=float, default=30.0)
    stats = commands.add_parser("stats", help="a table of counts per job type")
    stats.add_argument("app")
    stats.add_argument("job_types", nargs="*", help="types to show (default: all registered)")
    for name, target in (
        ("pause", "job_type"),
        ("resume", "job_type"),
        ("retry", "job_id"),
        ("cancel", "job_id"),
    ):
        command = commands.add_parser(name, help=f"{name} a {target.replace('_', ' ')}")
        command.add_argument("app")
        command.add_argument(target)
    return parser


def _usage_error(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_queue_factory(reference: str) -> Any:
    """The object `module:attribute` names (a JobQueue, or a function making one)."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        _usage_error(f"{reference!r} is not MODULE:ATTRIBUTE")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        _usage_error(f"cannot load {reference}: {error}")
    return target


async def _queue(reference: str) -> JobQueue:
    target = load_queue_factory(reference)
    if not isinstance(target, JobQueue) and callable(target):
        target = target()
        if inspect.isawaitable(target):
            target = await target
    if not isinstance(target, JobQueue):
        _usage_error(f"{reference} is not a JobQueue (nor makes one)")
    await target.setup()
    return target


def stats_table(rows: Sequence[tuple[str, Any]]) -> str:
    """A fixed-width table: one row per job type, one column per count."""
    header = ["job type", *_COLUMNS, ""]
    lines = [header] + [_stats_row(job_type, stats) for job_type, stats in rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(header))]
    rendered = []
    for line in lines:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:-1], widths[1:-1], strict=True)]
        rendered.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(rendered)


def _stats_row(job_type: str, stats: Any) -> list[str]:
    counts = [str(getattr(stats, column)) for column in _COLUMNS]
    return [job_type, *counts, "(paused)" if stats.is_paused else ""]


async def _run(arguments: argparse.Namespace) -> int:
    queue = await _queue(arguments.app)
    try:
        return await _command(queue, arguments)
    finally:
        await queue.close()


async def _command(queue: JobQueue, arguments: argparse.Namespace) -> int:
    command = arguments.command
    if command == "worker":
        await queue.run_worker(
            arguments.job_types or None,
            concurrency=arguments.concurrency,
            shutdown_timeout=arguments.shutdown_timeout,
        )
        return 0
    if command == "stats":
        types = arguments.job_types or sorted(queue.processors)
        rows = [(job_type, await queue.get_stats(job_type)) for job_type in types]
        print(stats_table(rows) if rows else "no job types registered or named")
        return 0
    if command == "pause":
        await queue.pause_queue(arguments.job_type)
    elif command == "resume":
        await queue.resume_queue(arguments.job_type)
    if command in ("pause", "resume"):
        print(f"{arguments.job_type}: {command}d")
        return 0
    if command == "retry":
        done, verb = await queue.retry_job(arguments.job_id), "retried"
    else:
        done, verb = await queue.cancel_job(arguments.job_id), "cancelled"
    print(f"{arguments.job_id}: {verb if done else 'unchanged'}")
    return 0 if done else 1


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(arguments))
    except KeyboardInterrupt:
        return 130
    except AppError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
