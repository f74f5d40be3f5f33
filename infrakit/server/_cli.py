"""The `infrakit` command: `serve` an app, and the db and jobs tools as subcommands.

`infrakit db ...` runs exactly what `python -m infrakit.db ...` runs, and `infrakit
jobs ...` what `python -m infrakit.jobs ...` runs; those keep working on their own.
`python -m infrakit.server module:app` is `infrakit serve module:app`.

Exit status of `serve`: 0 stopped gracefully, 1 forced, past the deadline or failed to
start, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from infrakit.errors import AppError, ConfigurationError

__all__ = ["main", "serve_main"]

_DESCRIPTION = """\
Run a service built on infrakit.

  infrakit serve myapp.main:app            serve an ASGI app on 127.0.0.1:8000
  infrakit serve myapp.main:app --infra myapp.main:infra --port 8080
  infrakit db migrate migrations           apply pending SQL migrations
  infrakit jobs worker myapp.tasks:queue   run a job worker

Run `infrakit <command> --help` for the options of one command.
"""

_SERVE_DESCRIPTION = """\
Serve an ASGI application (Starlette, FastAPI, Litestar, Django, a plain callable) on
uvicorn, with /livez, /readyz and /metrics, the pub/sub hub at /ws when the Infra has
one, and a graceful stop on SIGTERM or Ctrl-C (press Ctrl-C twice to stop at once).

Settings come from SERVER_* in the environment or the .env files (SERVER_PORT,
SERVER_DRAIN_DELAY, ...); the options below override them.
"""


def _delegates() -> dict[str, Callable[[Sequence[str]], int]]:
    def db(argv: Sequence[str]) -> int:
        from infrakit.db.__main__ import main as db_main

        return db_main(argv)

    def jobs(argv: Sequence[str]) -> int:
        from infrakit.jobs.__main__ import main as jobs_main

        return jobs_main(argv)

    return {"db": db, "jobs": jobs}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrakit",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("serve", help="serve an ASGI app with probes, metrics and /ws")
    commands.add_parser("db", help="database migrations: migrate, status, create")
    commands.add_parser("jobs", help="job queue: worker, stats, pause, resume, retry, cancel")
    return parser


def _serve_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=_SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("app", help="the ASGI app as module:attribute, e.g. myapp.main:app")
    parser.add_argument(
        "--infra",
        metavar="MODULE:ATTR",
        help="an Infra (or a function returning one) to start, probe, scrape and close",
    )
    parser.add_argument("--host", help="address to listen on (SERVER_HOST, default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        help="preferred port; the next free one is used if it is taken, 0 picks any "
        "(SERVER_PORT, default 8000)",
    )
    parser.add_argument(
        "--drain-delay",
        type=float,
        help="seconds between a stop signal and closing the listener (SERVER_DRAIN_DELAY)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        help="seconds a graceful stop may take in all (SERVER_SHUTDOWN_TIMEOUT)",
    )
    parser.add_argument("--env", help="configuration environment (default: APP_ENV)")
    parser.add_argument("--config-dir", default=".", help="where the .env files are")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `infrakit` console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    delegates = _delegates()
    if arguments and arguments[0] in delegates:
        return delegates[arguments[0]](arguments[1:])
    if arguments and arguments[0] == "serve":
        return serve_main(arguments[1:], prog="infrakit serve")
    _top_parser().parse_args(arguments)  # prints help or the usage error, and exits
    return 2


def serve_main(argv: Sequence[str], *, prog: str = "python -m infrakit.server") -> int:
    """`infrakit serve` and `python -m infrakit.server`; returns the exit status."""
    arguments = _serve_parser(prog).parse_args(argv)
    from infrakit.server._manager import run

    try:
        app = _load(arguments.app)
        infra = _make_infra(arguments.infra)
        config = _server_config(arguments, infra)
    except (ConfigurationError, ImportError, AttributeError) as error:
        print(f"{prog}: {_reason(error)}", file=sys.stderr)
        return 2
    try:
        return run(app, infra=infra, config=config)
    except AppError as error:
        print(f"{prog}: {error.code}: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _load(reference: str) -> Any:
    """Import `module:attribute` (dots allowed after the colon), the current directory first."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise AttributeError(f"{reference!r} is not module:attribute (e.g. myapp.main:app)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(f"cannot import module {module_name!r}: {error}") from error
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise AttributeError(f"module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    return target


def _make_infra(reference: str | None) -> Any:
    if reference is None:
        return None
    from infrakit import Infra

    target = _load(reference)
    if (
        not isinstance(target, Infra)
        and callable(target)
        and not inspect.iscoroutinefunction(target)
    ):
        target = target()
    if not isinstance(target, Infra):
        raise AttributeError(f"{reference!r} is not an Infra nor a function returning one")
    return target


def _server_config(arguments: argparse.Namespace, infra: Any) -> Any:
    from infrakit.config import load_config
    from infrakit.server._config import ServerConfig

    config = infra.config if infra is not None else None
    if config is None:
        config = load_config(arguments.env, directory=arguments.config_dir)
    settings = ServerConfig.from_config(config)
    overrides = {
        "host": arguments.host,
        "port": arguments.port,
        "drain_delay": arguments.drain_delay,
        "shutdown_timeout": arguments.shutdown_timeout,
    }
    chosen = {key: value for key, value in overrides.items() if value is not None}
    if not chosen:
        return settings
    try:
        return ServerConfig.model_validate({**settings.model_dump(), **chosen})
    except ValueError as error:
        raise ConfigurationError(f"bad server option: {_first_error(error)}") from error


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        location = ".".join(str(part) for part in first.get("loc", ())) or "options"
        return f"{location}: {first.get('msg', 'invalid')}"
    return str(error)


def _reason(error: BaseException) -> str:
    if isinstance(error, AppError):
        return f"{error.code}: {error.message}"
    return str(error.args[0]) if error.args else type(error).__name__
