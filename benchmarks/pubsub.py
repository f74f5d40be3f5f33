"""Fan-out over loopback: infrakit.pubsub against raw websockets and python-socketio.

    python benchmarks/pubsub.py [--quick] [--rounds N] [--clients N] [--messages N]

Every contestant runs as a server process of its own; the clients run in two other
processes (real websockets / Socket.IO clients). Per round and contestant (the order
rotates from round to round): start the server, connect and subscribe the clients,
read the server's memory with them idle, then the server publishes a burst of
messages, each carrying its send time. Reported: deliveries per second (all
deliveries / from the first send to the last receipt), p50/p99 latency, server CPU
per delivery, server memory per idle client; medians over rounds with the spread
(min-max) and ratios to the raw `websockets.broadcast` server, the ceiling.

Contestants, each in its fastest honest configuration (compression off everywhere):
- `infrakit`: `PubSubService.serve()`, `await hub.publish(...)` per message.
- `ws-broadcast`: a websockets server that calls `websockets.broadcast` (no queues,
  no flow control: the ceiling).
- `ws-send-loop`: the same server awaiting `connection.send` per client.
- `socketio`: python-socketio `AsyncServer` (ASGI, on uvicorn, websocket transport
  only) emitting to a room; needs `pip install python-socketio aiohttp`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _order import turn_orders  # benchmarks/, the script's directory

CONTESTANTS = ["infrakit", "ws-broadcast", "ws-send-loop", "socketio"]
CLIENT_PROCESSES = 2
ROOT = Path(__file__).resolve().parent.parent


# -- server processes ---------------------------------------------------------------


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _control(publish: Any, messages: int) -> None:
    """Answer the orchestrator: `mem` -> RSS, `go` -> a burst, then CPU used."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "mem":
            print(json.dumps({"rss_kib": _rss_kib()}), flush=True)
        elif line == "go":
            cpu = time.process_time()
            for n in range(messages):
                await publish(json.dumps({"n": n, "t": time.time()}))
                await asyncio.sleep(0)
            print(json.dumps({"published": messages, "cpu_start": cpu}), flush=True)
        elif line == "cpu":
            print(json.dumps({"cpu": time.process_time()}), flush=True)


async def serve_infrakit(messages: int) -> None:
    from infrakit.pubsub import PubSubService

    hub = PubSubService(max_queue=100_000, rate=1e9, burst=10**9)
    async with hub:
        server = await hub.serve("127.0.0.1", 0)
        print(
            json.dumps({"port": server.sockets[0].getsockname()[1], "rss_kib": _rss_kib()}),
            flush=True,
        )

        async def publish(text: str) -> None:
            await hub.publish("bench", "tick", text)

        await _control(publish, messages)


async def serve_websockets(messages: int, loop_send: bool) -> None:
    from websockets.asyncio.server import broadcast, serve

    connections: set[Any] = set()

    async def handler(connection: Any) -> None:
        await connection.recv()  # the subscribe envelope
        connections.add(connection)
        await connection.send('{"type":"subscribe","id":1,"channel":"bench"}')
        try:
            await connection.wait_closed()
        finally:
            connections.discard(connection)

    async def publish(text: str) -> None:
        frame = json.dumps({"type": "message", "channel": "bench", "event": "tick", "data": text})
        if loop_send:
            for connection in list(connections):
                await connection.send(frame)
        else:
            broadcast(connections, frame)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as server:
        print(
            json.dumps({"port": server.sockets[0].getsockname()[1], "rss_kib": _rss_kib()}),
            flush=True,
        )
        await _control(publish, messages)


async def serve_socketio(messages: int) -> None:
    import socketio
    import uvicorn

    sio = socketio.AsyncServer(async_mode="asgi", transports=["websocket"])

    @sio.event
    async def connect(sid: str, environ: Any) -> None:
        await sio.enter_room(sid, "bench")

    app = socketio.ASGIApp(sio)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="error", ws_per_message_deflate=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.01)
    print(
        json.dumps({"port": server.servers[0].sockets[0].getsockname()[1], "rss_kib": _rss_kib()}),
        flush=True,
    )

    async def publish(text: str) -> None:
        await sio.emit("tick", text, room="bench")

    await _control(publish, messages)
    server.should_exit = True
    await task


# -- client processes ---------------------------------------------------------------


async def websockets_clients(port: int, count: int, messages: int) -> None:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    last = [0.0]

    async def one(ready: asyncio.Event) -> None:
        async with connect(
            f"ws://127.0.0.1:{port}", compression=None, max_queue=None, open_timeout=60
        ) as ws:
            await ws.send('{"type":"subscribe","id":1,"channel":"bench"}')
            await ws.recv()
            ready.set()
            received = 0
            while received < messages:
                envelope = json.loads(await ws.recv())
                if envelope.get("type") == "message":
                    now = time.time()
                    latencies.append(now - json.loads(envelope["data"])["t"])
                    last[0] = max(last[0], now)
                    received += 1

    await _run_clients(count, one, latencies, last)


async def socketio_clients(port: int, count: int, messages: int) -> None:
    import socketio

    latencies: list[float] = []
    last = [0.0]

    async def one(ready: asyncio.Event) -> None:
        client = socketio.AsyncClient()
        done = asyncio.Event()
        received = [0]

        @client.on("tick")
        async def tick(text: str) -> None:
            now = time.time()
            latencies.append(now - json.loads(text)["t"])
            last[0] = max(last[0], now)
            received[0] += 1
            if received[0] >= messages:
                done.set()

        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=60)
        ready.set()
        await done.wait()
        await client.disconnect()

    await _run_clients(count, one, latencies, last)


async def _run_clients(count: int, one: Any, latencies: list[float], last: list[float]) -> None:
    events = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(one(event)) for event in events]
    async with asyncio.timeout(120):
        await asyncio.gather(*(event.wait() for event in events))
    print("ready", flush=True)
    async with asyncio.timeout(120):
        await asyncio.gather(*tasks)
    latencies.sort()
    print(
        json.dumps(
            {
                "latencies": latencies[:: max(1, len(latencies) // 2000)],
                "count": len(latencies),
                "last": last[0],
            }
        ),
        flush=True,
    )


# -- the orchestrator ---------------------------------------------------------------


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )


async def _json_line(process: asyncio.subprocess.Process) -> Any:
    assert process.stdout is not None
    async with asyncio.timeout(180):
        line = (await process.stdout.readline()).decode().strip()
    return json.loads(line) if line.startswith("{") else line


async def _ask(process: asyncio.subprocess.Process, command: str) -> Any:
    assert process.stdin is not None
    process.stdin.write(f"{command}\n".encode())
    await process.stdin.drain()
    return await _json_line(process)


async def one_run(contestant: str, clients: int, messages: int) -> dict[str, float]:
    server = await _spawn("--server", contestant, "--messages", str(messages))
    started = await _json_line(server)
    port, base_rss = started["port"], started["rss_kib"]
    per_process = clients // CLIENT_PROCESSES
    kind = "socketio" if contestant == "socketio" else "websockets"
    client_processes = [
        await _spawn(
            "--clients-of",
            kind,
            "--port",
            str(port),
            "--count",
            str(per_process),
            "--messages",
            str(messages),
        )
        for _ in range(CLIENT_PROCESSES)
    ]
    try:
        for process in client_processes:
            assert await _json_line(process) == "ready"
        idle_rss = (await _ask(server, "mem"))["rss_kib"]
        sent = time.time()
        burst = await _ask(server, "go")
        reports = [await _json_line(process) for process in client_processes]
        cpu = (await _ask(server, "cpu"))["cpu"] - burst["cpu_start"]
    finally:
        for process in [server, *client_processes]:
            if process.returncode is None:
                process.kill()
            await process.wait()
    deliveries = sum(report["count"] for report in reports)
    latencies = sorted(value for report in reports for value in report["latencies"])
    elapsed = max(report["last"] for report in reports) - sent
    return {
        "deliveries_per_s": deliveries / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "cpu_us_per_delivery": 1e6 * cpu / deliveries,
        "kib_per_idle_client": (idle_rss - base_rss) / clients,
        "lost": clients * messages - deliveries,
    }


def _available(contestant: str) -> bool:
    if contestant != "socketio":
        return True
    try:
        import aiohttp  # noqa: F401
        import socketio  # noqa: F401
    except ImportError:
        return False
    return True


async def orchestrate(rounds: int, clients: int, messages: int) -> None:
    contestants = [c for c in CONTESTANTS if _available(c)]
    skipped = sorted(set(CONTESTANTS) - set(contestants))
    results: dict[str, list[dict[str, float]]] = {c: [] for c in contestants}
    for order in turn_orders(contestants, rounds):
        for contestant in order:
            results[contestant].append(await one_run(contestant, clients, messages))
    print(
        f"fan-out of {messages} messages to {clients} clients in {CLIENT_PROCESSES} processes, "
        f"{rounds} rounds, medians (min-max); cpu {os.cpu_count()} cores"
    )
    if skipped:
        print(f"not installed, skipped: {', '.join(skipped)}")
    ceiling = statistics.median(r["deliveries_per_s"] for r in results["ws-broadcast"])
    ceiling_cpu = statistics.median(r["cpu_us_per_delivery"] for r in results["ws-broadcast"])
    header = (
        f"{'contestant':14} {'deliveries/s':>22} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'us cpu/deliv':>13} {'cpu ratio':>9} {'KiB/idle':>9} {'lost':>5}"
    )
    print(header)
    for contestant, runs in results.items():

        def column(key: str, runs: list[dict[str, float]] = runs) -> tuple[float, float, float]:
            values = [run[key] for run in runs]
            return statistics.median(values), min(values), max(values)

        rate, low, high = column("deliveries_per_s")
        cpu = column("cpu_us_per_delivery")[0]
        print(
            f"{contestant:14} {rate:>9,.0f} ({low:,.0f}-{high:,.0f}) {rate / ceiling:>6.2f} "
            f"{column('p50_ms')[0]:>8.1f} {column('p99_ms')[0]:>8.1f} {cpu:>13.1f} "
            f"{cpu / ceiling_cpu:>9.2f} {column('kib_per_idle_client')[0]:>9.1f} "
            f"{int(max(run['lost'] for run in runs)):>5}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 round, 100 clients, 20 messages"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--server", choices=CONTESTANTS, help=argparse.SUPPRESS)
    parser.add_argument("--clients-of", choices=["websockets", "socketio"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.server == "infrakit":
        asyncio.run(serve_infrakit(arguments.messages))
    elif arguments.server in ("ws-broadcast", "ws-send-loop"):
        asyncio.run(serve_websockets(arguments.messages, arguments.server == "ws-send-loop"))
    elif arguments.server == "socketio":
        asyncio.run(serve_socketio(arguments.messages))
    elif arguments.clients_of == "websockets":
        asyncio.run(websockets_clients(arguments.port, arguments.count, arguments.messages))
    elif arguments.clients_of == "socketio":
        asyncio.run(socketio_clients(arguments.port, arguments.count, arguments.messages))
    elif arguments.quick:
        asyncio.run(orchestrate(1, 100, 20))
    else:
        asyncio.run(orchestrate(arguments.rounds, arguments.clients, arguments.messages))


if __name__ == "__main__":
    main()
