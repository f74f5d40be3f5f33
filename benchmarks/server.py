"""Server benchmark: what `serve()`'s stack costs over the bare app on uvicorn.

Run: `.venv/bin/python benchmarks/server.py` (about 60 s; `--quick` for a smoke run).

One trivial ASGI app (a 200 with a 2-byte body) is served by four server processes,
each started once and measured in turn, round-robin, by a Python load client in
another process (keep-alive connections, one request at a time per connection, the
first half second of each run not counted). Contestants:

- `bare uvicorn`: `uvicorn.Server` with uvicorn's access log off and lifespan off, its
  fastest honest configuration; the baseline;
- `bare uvicorn, its access log on`: the same in uvicorn's default mode, its own access
  line (stdlib `logging`, uvicorn's formatter, to stdout, sent to /dev/null): the same
  work as `serve()` with its access line;
- `serve(), every middleware`: `infrakit.server.run()` with an `Infra` (cache and
  pub/sub hub), the request metrics, `RequestContextMiddleware` with its access line
  (written through `infrakit.log` to stderr, sent to /dev/null) and
  `ProblemDetailsMiddleware`;
- `serve(), no access line`: the same with `access_log=False`;
- `serve(), no infra, no metrics`: `run()` with the app alone, `metrics=False`,
  `access_log=False`: the request context and problem middleware and the probe router.

`--compare DIR` adds the three `serve()` contestants again with `infrakit` imported from
another checkout (`git worktree add /tmp/before <commit>`), in the same interleaved
rounds: a before/after table from one run.

`--instructions N` counts instead of timing: each contestant runs under
`valgrind --tool=callgrind`, and the instructions its process spends on N requests
(between two `GET /mark`) are divided by N. Deterministic, so other work on the machine
does not move it; the write system calls (the access line's) are not counted.

Figures: requests per second and the p99 latency in ms, the median of the rounds with
the spread (min-max), and the ratio of each to the baseline. Target: the stack costs at
most 10% of the bare app's requests per second. On a 2-core machine the client and the
server share the cores, so absolute figures are low; the ratio is what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from _order import turn_orders  # benchmarks/, the script's directory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTESTANTS = {
    "bare uvicorn": "bare",
    "bare uvicorn, its access log on": "bare-logged",
    "serve(), every middleware": "stack",
    "serve(), no access line": "stack-quiet",
    "serve(), no infra, no metrics": "bare-manager",
}
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
WARM_UP = 0.5

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def trivial(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def marked(scope: Scope, receive: Receive, send: Send) -> None:
    """`trivial`, and `GET /mark` calls getppid(): callgrind dumps its counts there."""
    if scope["type"] == "http" and scope["path"] == "/mark":
        os.getppid()
    await trivial(scope, receive, send)


# -- the servers ----------------------------------------------------------------------


def serve(kind: str, port: int, app: Any = trivial) -> None:
    if kind in ("bare", "bare-logged"):
        import uvicorn

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            access_log=kind == "bare-logged",
            log_level="info" if kind == "bare-logged" else "warning",
            lifespan="off",
        )
        uvicorn.Server(config).run()
        return
    from infrakit import Infra
    from infrakit.config import load_config
    from infrakit.server import ServerConfig, run

    if kind == "bare-manager":
        config = ServerConfig(
            port=port, port_range=0, drain_delay=0.0, access_log=False, metrics=False
        )
        sys.exit(run(app, config=config))
    directory = tempfile.mkdtemp()
    infra = (
        Infra.builder()
        .with_config(load_config("test", directory=directory, environ={}))
        .with_cache()
        .with_pubsub()
        .build()
    )
    config = ServerConfig(port=port, port_range=0, drain_delay=0.0, access_log=kind == "stack")
    sys.exit(run(app, infra=infra, config=config))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(kind: str, root: str | None = None) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    where = ["--root", root] if root else []
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), *where],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{kind} did not start")


# -- the load client --------------------------------------------------------------------


async def _connection(port: int, started: float, deadline: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        while (now := time.perf_counter()) < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(head)
            if match is None:  # a chunked body would be read as the next response
                raise SystemExit(f"a response without Content-Length: {head!r}")
            await reader.readexactly(int(match.group(1)))
            if now >= started + WARM_UP:
                latencies.append(time.perf_counter() - now)
    finally:
        writer.close()


async def load(port: int, seconds: float, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + WARM_UP + seconds
    await asyncio.gather(
        *(_connection(port, started, deadline, latencies) for _ in range(connections))
    )
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    return {"rps": len(latencies) / seconds, "p99_ms": p99 * 1000}


def _measure(port: int, seconds: float, connections: int) -> dict[str, float]:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            str(port),
            "--seconds",
            str(seconds),
            "--connections",
            str(connections),
        ],
        check=True,
        capture_output=True,
    ).stdout
    return json.loads(output)  # type: ignore[no-any-return]


# -- instructions per request, under callgrind ---------------------------------------


def count_instructions(kind: str, root: str | None, requests: int) -> float:
    """The server's instructions per request between two `GET /mark`, under callgrind:
    deterministic, so a loaded machine does not change it (the write system calls are
    not counted)."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        where = ["--root", root] if root else []
        process = subprocess.Popen(
            [
                *("valgrind", "--tool=callgrind", "--dump-before=getppid"),
                f"--callgrind-out-file={directory}/out",
                *(sys.executable, __file__, "--serve", kind, "--port", str(port), "--mark"),
                *where,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            measured = asyncio.run(_marked_load(port, requests))
        finally:
            process.terminate()
            process.wait(timeout=120)
        # out.1 holds start-up and warm-up, out.2 the requests between the two marks.
        totals = re.search(r"^totals: (\d+)", Path(directory, "out.2").read_text(), re.M)
        assert totals is not None
        return int(totals.group(1)) / (measured + 1)  # and the second mark


async def _marked_load(port: int, requests: int, connections: int = 8) -> int:
    deadline = time.monotonic() + 300
    while True:  # valgrind starts slowly
        try:
            await _requests(port, "/hello", 1)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    await asyncio.gather(*(_requests(port, "/hello", 20) for _ in range(connections)))
    await _requests(port, "/mark", 1)
    share = requests // connections
    await asyncio.gather(*(_requests(port, "/hello", share) for _ in range(connections)))
    await _requests(port, "/mark", 1)
    return share * connections


async def _requests(port: int, path: str, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    try:
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(head)
            if match is None:
                raise SystemExit(f"a response without Content-Length: {head!r}")
            await reader.readexactly(int(match.group(1)))
    finally:
        writer.close()


def instructions(requests: int, compare: str | None) -> None:
    counts = {
        label: count_instructions(kind, root, requests)
        for label, (kind, root) in _contestants(compare).items()
    }
    base = counts["bare uvicorn"]
    print(f"instructions per request under callgrind, {requests} requests each")
    print(f"{'contestant':40} {'instructions':>14} {'over bare':>10} {'requests/s vs bare':>19}")
    for label, count in counts.items():
        print(f"{label:40} {count:>14,.0f} {count - base:>+10,.0f} {base / count:>19.3f}")


# -- the report -----------------------------------------------------------------------------


def _spread(values: list[float], digits: int) -> str:
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{middle:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def _contestants(compare: str | None) -> dict[str, tuple[str, str | None]]:
    """Label to (kind, the checkout infrakit is imported from; None: this one)."""
    contestants: dict[str, tuple[str, str | None]] = {
        label: (kind, None) for label, kind in CONTESTANTS.items()
    }
    if compare:
        name = Path(compare).name
        for label, kind in CONTESTANTS.items():
            if kind not in ("bare", "bare-logged"):
                contestants[f"{label} @{name}"] = (kind, compare)
    return contestants


def bench(rounds: int, seconds: float, connections: int, compare: str | None = None) -> None:
    contestants = _contestants(compare)
    servers = {label: _start(kind, root) for label, (kind, root) in contestants.items()}
    results: dict[str, list[dict[str, float]]] = {label: [] for label in contestants}
    try:
        for order in turn_orders(contestants, rounds):
            for label in order:
                results[label].append(_measure(servers[label][1], seconds, connections))
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    base = statistics.median(result["rps"] for result in results["bare uvicorn"])
    print(f"{rounds} rounds x {seconds:g} s, {connections} keep-alive connections, interleaved")
    print(
        f"{'contestant':40} {'requests/s median (min-max)':>30}"
        f" {'p99 ms median (min-max)':>26} {'vs bare':>8}"
    )
    for label, runs in results.items():
        rps = [run["rps"] for run in runs]
        p99 = [run["p99_ms"] for run in runs]
        ratio = statistics.median(rps) / base
        print(f"{label:40} {_spread(rps, 0):>30} {_spread(p99, 2):>26} {ratio:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 s: a smoke run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--compare", metavar="DIR", help="also serve() with infrakit from this checkout"
    )
    parser.add_argument(
        "--serve", choices=sorted(set(CONTESTANTS.values())), help=argparse.SUPPRESS
    )
    parser.add_argument("--load", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--instructions",
        type=int,
        metavar="N",
        help="count instructions per request under callgrind (N requests, no wall clock)",
    )
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--mark", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        if arguments.root:  # before anything imports infrakit
            sys.path.insert(0, str(Path(arguments.root).resolve()))
        serve(arguments.serve, arguments.port, marked if arguments.mark else trivial)
    elif arguments.load:
        print(
            json.dumps(asyncio.run(load(arguments.load, arguments.seconds, arguments.connections)))
        )
    elif arguments.instructions:
        instructions(arguments.instructions, arguments.compare)
    elif arguments.quick:
        bench(2, 1.0, arguments.connections, arguments.compare)
    else:
        bench(arguments.rounds, arguments.seconds, arguments.connections, arguments.compare)


if __name__ == "__main__":
    main()
