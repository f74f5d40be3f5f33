"""Web benchmark: the per-request cost of infrakit's request context against asgi-correlation-id.

Run: `.venv/bin/python benchmarks/web.py` (about 15 s; `--quick` for a smoke run).

Every contestant wraps the same tiny ASGI app (a 200 with a 2-byte body) and is called
in-process with a fresh scope per request, so the figure is the middleware's own cost
(no server, no socket). Two cases: no incoming `X-Request-ID` (an id is generated) and a
valid incoming one (reused). Contestants, each in its fastest honest configuration:

- `bare app`: the app alone, the baseline;
- `asgi-correlation-id`: `CorrelationIdMiddleware` with its defaults (uuid4 ids, incoming
  ids validated as uuid4); it sets a context variable and the response header, and
  writes no access line;
- `infrakit, no access line`: `RequestContextMiddleware(access_log=False)`, the same
  work (id, header, `log_context`);
- `infrakit, access line`: the default, one INFO record per request through the real
  `infrakit.log` pipeline into a sink that discards it;
- `infrakit + problems`: what `install()` puts in front of an app:
  `RequestContextMiddleware(ProblemDetailsMiddleware(app))`.

Figures are microseconds per request: the median of the repeats, with the spread
(min-max), taken round-robin so a burst of load hits every contestant alike.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asgi_correlation_id import CorrelationIdMiddleware

from infrakit.errors import ProblemDetailsMiddleware
from infrakit.log import LogEntry, configure_logging, shutdown_logging
from infrakit.web import RequestContextMiddleware

QUICK = "--quick" in sys.argv
REPEATS = 3 if QUICK else 9
REQUESTS = 300 if QUICK else 3_000
INCOMING = b"6f1c2b9e4a7d4c3b8e2f1a0b9c8d7e6f"  # a uuid4 hex: valid for both


class Discard:
    """A `LogTransport` that drops every record (the pipeline's cost, not the sink's)."""

    def log(self, entry: LogEntry) -> None:
        return None


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def send(message: Any) -> None:
    return None


def template(with_id: bool) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench/1.0")]
    if with_id:
        headers.append((b"x-request-id", INCOMING))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/users/42",
        "raw_path": b"/users/42",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }


CONTESTANTS: dict[str, Any] = {
    "bare app": app,
    "asgi-correlation-id": CorrelationIdMiddleware(app),
    "infrakit, no access line": RequestContextMiddleware(app, access_log=False),
    "infrakit, access line": RequestContextMiddleware(app),
    "infrakit + problems": RequestContextMiddleware(ProblemDetailsMiddleware(app)),
}


async def per_request_us(contestant: Any, scope: dict[str, Any]) -> float:
    started = time.perf_counter()
    for _ in range(REQUESTS):
        await contestant(dict(scope), receive, send)
    return (time.perf_counter() - started) / REQUESTS * 1e6


async def run_case(with_id: bool) -> dict[str, list[float]]:
    scope = template(with_id)
    figures: dict[str, list[float]] = {name: [] for name in CONTESTANTS}
    for contestant in CONTESTANTS.values():  # warm-up
        await per_request_us(contestant, scope)
    for _ in range(REPEATS):
        for name, contestant in CONTESTANTS.items():
            figures[name].append(await per_request_us(contestant, scope))
    return figures


def report(title: str, figures: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print("| contestant | us/request (median) | spread | vs asgi-correlation-id |")
    print("|---|---|---|---|")
    peer = statistics.median(figures["asgi-correlation-id"])
    for name, values in figures.items():
        median = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(f"| {name} | {median:.2f} | {spread} | {median / peer:.2f}x |")


async def main() -> None:
    configure_logging("INFO", sinks=[Discard()])
    try:
        report("no incoming X-Request-ID (an id is generated)", await run_case(False))
        report("a valid incoming X-Request-ID (reused)", await run_case(True))
    finally:
        shutdown_logging()
    mode = "quick" if QUICK else "full"
    print(f"\n({mode} run: {REPEATS} repeats of {REQUESTS} requests per contestant)")


if __name__ == "__main__":
    asyncio.run(main())
