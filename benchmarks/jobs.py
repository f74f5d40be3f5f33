"""Job queues side by side on the local PostgreSQL: infrakit, procrastinate, pgqueuer
(asyncpg and psycopg drivers) and a hand-written SKIP LOCKED loop claiming 100 at a time
(the ceiling), plus infrakit's SQLite and memory stores.

For each contestant, in each round (contestants interleaved, order shuffled):
  enqueue_one   jobs/s, one `add` call per job from one client;
  enqueue_bulk  jobs/s, 5,000 jobs in one bulk call;
  throughput    jobs/s, those jobs processed by one idle worker *process* (no-op
                handler), timed from "go" until the database shows none unfinished;
  pickup_p50    ms from enqueue to handler start, median of 50, idle worker.

Each contestant runs in a schema of its own, dropped afterwards. Every one gets its
fastest honest configuration (labelled in the output); infrakit keeps its leases,
fencing and synchronous commits on.

    .venv/bin/python benchmarks/jobs.py            # 5 rounds
    .venv/bin/python benchmarks/jobs.py --quick    # 1 small round, a smoke run
    .venv/bin/python benchmarks/jobs.py --rounds 1 --only infrakit-postgres pgqueuer-asyncpg
    INFRAKIT_BENCH_DATABASE_URL=postgresql://...   # default: INFRAKIT_TEST_DATABASE_URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

URL = os.environ.get(
    "INFRAKIT_BENCH_DATABASE_URL",
    os.environ.get("INFRAKIT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
WORKER_CONCURRENCY = 100

LABELS = {
    "infrakit-postgres": "infrakit PostgresJobStorage (batch claim 100, LISTEN, leases+fencing on)",
    "infrakit-sqlite": "infrakit SqliteJobStorage (WAL, synchronous=NORMAL)",
    "infrakit-memory": "infrakit MemoryJobStorage (worker in the same process)",
    "procrastinate": "procrastinate (psycopg pool, concurrency 100, LISTEN/NOTIFY)",
    "pgqueuer-asyncpg": "pgqueuer on asyncpg (batch_size 100)",
    "pgqueuer-psycopg": "pgqueuer on psycopg (batch_size 100)",
    "skip-locked-100": "hand-written FOR UPDATE SKIP LOCKED loop, 100 per claim (ceiling)",
}


# == contestants: the parent's side (enqueue, count) =====================================


class Contestant:
    """Enqueue and count for one queue library in one schema; the worker is a process."""

    name = ""

    def __init__(self, schema: str, directory: Path) -> None:
        self.schema = schema
        self.directory = directory

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def enqueue(self, payload: dict[str, Any]) -> None: ...

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None: ...

    async def unfinished(self) -> int:
        return 0

    def worker_arguments(self) -> list[str]:
        return ["--worker", self.name, "--schema", self.schema, "--directory", str(self.directory)]


async def _admin(sql: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as connection:
        await connection.execute(sql)


class InfrakitPostgres(Contestant):
    name = "infrakit-postgres"

    async def open(self) -> None:
        from infrakit.db import Database
        from infrakit.jobs import JobQueue, PostgresJobStorage

        self.database = Database(URL, min_size=1, max_size=4)
        await self.database.open()
        self.storage = PostgresJobStorage(self.database, schema=self.schema, listen=False)
        await self.storage.setup()
        self.queue = JobQueue(self.storage)

    async def close(self) -> None:
        await self.storage.close()
        await self.database.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        await self.database.close()

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await self.queue.add_job("noop", payload)

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None:
        await self.queue.add_jobs("noop", payloads)

    async def unfinished(self) -> int:
        stats = await self.queue.get_stats("noop")
        return stats.waiting + stats.active + stats.delayed


class InfrakitSqlite(InfrakitPostgres):
    name = "infrakit-sqlite"

    async def open(self) -> None:
        from infrakit.jobs import JobQueue, SqliteJobStorage

        self.storage = SqliteJobStorage(self.directory / f"{self.schema}.sqlite3")  # type: ignore[assignment]
        await self.storage.setup()
        self.queue = JobQueue(self.storage)

    async def close(self) -> None:
        await self.storage.close()


class ProcrastinateContestant(Contestant):
    name = "procrastinate"

    async def open(self) -> None:
        await _admin(f"CREATE SCHEMA {self.schema}")
        self.app = procrastinate_app(self.schema)
        await self.app.open_async()
        await self.app.schema_manager.apply_schema_async()
        self.task = self.app.tasks["noop"]

    async def close(self) -> None:
        await self.app.close_async()
        await _admin(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await self.task.defer_async(**payload)

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None:
        await self.task.batch_defer_async(*payloads)

    async def unfinished(self) -> int:
        return await _count(
            self.schema, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        )


class PgqueuerContestant(Contestant):
    name = "pgqueuer-asyncpg"

    async def open(self) -> None:
        import asyncpg
        from pgqueuer import AsyncpgDriver, Queries

        await _admin(f"CREATE SCHEMA {self.schema}")
        self.connection = await asyncpg.connect(URL, server_settings={"search_path": self.schema})
        self.queries = Queries(AsyncpgDriver(self.connection))
        await self.queries.install(create_schema=False)

    async def close(self) -> None:
        await self.connection.close()
        await _admin(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await self.queries.enqueue("noop", json.dumps(payload).encode())

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None:
        count = len(payloads)
        encoded = [json.dumps(payload).encode() for payload in payloads]
        await self.queries.enqueue(["noop"] * count, encoded, [0] * count)  # type: ignore[arg-type]

    async def unfinished(self) -> int:
        return await _count(self.schema, "SELECT count(*) FROM pgqueuer")


class PgqueuerPsycopg(PgqueuerContestant):
    name = "pgqueuer-psycopg"


class SkipLocked(Contestant):
    name = "skip-locked-100"

    async def open(self) -> None:
        import psycopg

        await _admin(f"CREATE SCHEMA {self.schema}")
        self.connection = await psycopg.AsyncConnection.connect(URL, autocommit=True)
        await self.connection.execute(
            f"CREATE TABLE {self.schema}.jobs (id bigserial PRIMARY KEY, payload jsonb NOT NULL,"
            " status text NOT NULL DEFAULT 'waiting')"
        )
        await self.connection.execute(
            f"CREATE INDEX ON {self.schema}.jobs (id) WHERE status = 'waiting'"
        )

    async def close(self) -> None:
        await self.connection.close()
        await _admin(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await self.connection.execute(
            f"INSERT INTO {self.schema}.jobs (payload) VALUES (%s::jsonb)", (json.dumps(payload),)
        )

    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None:
        await self.connection.execute(
            f"INSERT INTO {self.schema}.jobs (payload) SELECT unnest(%s::jsonb[])",
            ([json.dumps(payload) for payload in payloads],),
        )

    async def unfinished(self) -> int:
        return await _count(
            self.schema, f"SELECT count(*) FROM {self.schema}.jobs WHERE status <> 'done'"
        )


_COUNTERS: dict[str, Any] = {}


async def _count(schema: str, sql: str) -> int:
    """Run a count on a connection kept per schema (polling must not pay a connect)."""
    import psycopg

    connection = _COUNTERS.get(schema)
    if connection is None:
        connection = await psycopg.AsyncConnection.connect(
            URL, autocommit=True, options=f"-c search_path={schema}"
        )
        _COUNTERS[schema] = connection
    cursor = await connection.execute(sql)
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _forget_counter(schema: str) -> None:
    connection = _COUNTERS.pop(schema, None)
    if connection is not None:
        await connection.close()


CONTESTANTS: dict[str, type[Contestant]] = {
    kind.name: kind
    for kind in (
        InfrakitPostgres,
        ProcrastinateContestant,
        PgqueuerContestant,
        PgqueuerPsycopg,
        SkipLocked,
        InfrakitSqlite,
    )
}


def procrastinate_app(schema: str) -> Any:
    import procrastinate

    connector = procrastinate.PsycopgConnector(
        conninfo=URL, kwargs={"options": f"-c search_path={schema}"}
    )
    app = procrastinate.App(connector=connector)

    @app.task(name="noop")
    async def noop(t: float | None = None, n: int | None = None) -> None:
        picked(t)

    return app


# == worker processes ====================================================================


def picked(enqueued_at: float | None) -> None:
    """A handler started: report its pickup latency when the job carries its enqueue time."""
    if enqueued_at is not None:
        print(f"pickup {(time.time() - enqueued_at) * 1000:.3f}", flush=True)


async def wait_for_go() -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def run_worker(name: str, schema: str, directory: Path) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: os._exit(0))
    await WORKERS[name](schema, directory)


async def infrakit_worker(schema: str, directory: Path, *, sqlite: bool = False) -> None:
    from infrakit.jobs import Job, JobQueue, PostgresJobStorage, SqliteJobStorage

    storage: Any
    if sqlite:
        storage = SqliteJobStorage(directory / f"{schema}.sqlite3")
    else:
        from infrakit.db import Database

        database = Database(URL, min_size=2, max_size=4)
        await database.open()
        storage = PostgresJobStorage(database, schema=schema)
    await storage.setup()
    queue = JobQueue(storage)

    async def noop(job: Job[Any]) -> None:
        picked(job.data.get("t") if isinstance(job.data, dict) else None)

    queue.register_processor("noop", noop, concurrency=WORKER_CONCURRENCY)
    await wait_for_go()
    await queue.run_worker(handle_signals=False)


async def procrastinate_worker(schema: str, directory: Path) -> None:
    app = procrastinate_app(schema)
    async with app.open_async():
        await wait_for_go()
        await app.run_worker_async(concurrency=WORKER_CONCURRENCY, wait=True)


async def pgqueuer_worker(schema: str, directory: Path, *, driver: str = "asyncpg") -> None:
    from pgqueuer import Queries, QueueManager

    if driver == "asyncpg":
        import asyncpg
        from pgqueuer import AsyncpgDriver

        connection: Any = await asyncpg.connect(URL, server_settings={"search_path": schema})
        manager = QueueManager(Queries(AsyncpgDriver(connection)))
    else:
        import psycopg
        from pgqueuer import PsycopgDriver

        connection = await psycopg.AsyncConnection.connect(
            URL, autocommit=True, options=f"-c search_path={schema}"
        )
        manager = QueueManager(Queries(PsycopgDriver(connection)))

    @manager.entrypoint("noop")
    async def noop(job: Any) -> None:
        payload = json.loads(job.payload) if job.payload else {}
        picked(payload.get("t"))

    await wait_for_go()
    await manager.run(batch_size=100)


async def skip_locked_worker(schema: str, directory: Path) -> None:
    import psycopg

    connection = await psycopg.AsyncConnection.connect(URL, autocommit=True)
    claim = (
        f"WITH c AS (SELECT id FROM {schema}.jobs WHERE status = 'waiting' ORDER BY id"
        f" LIMIT 100 FOR UPDATE SKIP LOCKED) UPDATE {schema}.jobs AS j SET status = 'active'"
        " FROM c WHERE j.id = c.id RETURNING j.id, j.payload"
    )
    done = f"UPDATE {schema}.jobs SET status = 'done' WHERE id = ANY(%s)"
    await wait_for_go()
    while True:
        cursor = await connection.execute(claim)
        rows = await cursor.fetchall()
        if not rows:
            await asyncio.sleep(0.001)
            continue
        for _, payload in rows:
            picked(payload.get("t"))
        await connection.execute(done, ([row[0] for row in rows],))


WORKERS: dict[str, Callable[[str, Path], Awaitable[None]]] = {
    "infrakit-postgres": infrakit_worker,
    "infrakit-sqlite": lambda schema, directory: infrakit_worker(schema, directory, sqlite=True),
    "procrastinate": procrastinate_worker,
    "pgqueuer-asyncpg": pgqueuer_worker,
    "pgqueuer-psycopg": lambda schema, directory: pgqueuer_worker(
        schema, directory, driver="psycopg"
    ),
    "skip-locked-100": skip_locked_worker,
}


# == measuring ===========================================================================


class WorkerProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, arguments: list[str]) -> WorkerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            *arguments,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = cls(process)
        assert await worker.line(60) == "ready"
        return worker

    async def line(self, seconds: float) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), seconds)
        if not raw:
            raise RuntimeError("the worker process exited")
        return raw.decode().strip()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def measure(
    kind: type[Contestant], sizes: dict[str, int], directory: Path
) -> dict[str, float]:
    contestant = kind(f"bench_jobs_{uuid.uuid4().hex[:10]}", directory)
    await contestant.open()
    worker: WorkerProcess | None = None
    try:
        started = time.perf_counter()
        for n in range(sizes["one"]):
            await contestant.enqueue({"n": n})
        enqueue_one = sizes["one"] / (time.perf_counter() - started)
        payloads = [{"n": n} for n in range(sizes["bulk"])]
        started = time.perf_counter()
        await contestant.enqueue_many(payloads)
        enqueue_bulk = sizes["bulk"] / (time.perf_counter() - started)
        total = await contestant.unfinished()
        worker = await WorkerProcess.start(contestant.worker_arguments())
        started = time.perf_counter()
        worker.go()
        while await contestant.unfinished() > 0:  # noqa: ASYNC110 (the measured condition)
            await asyncio.sleep(0.002)
        throughput = total / (time.perf_counter() - started)
        pickups = []
        for _ in range(sizes["latency"]):
            await asyncio.sleep(0.02)  # let the worker go idle between samples
            await contestant.enqueue({"t": time.time()})
            line = await worker.line(30)
            pickups.append(float(line.split()[1]))
        return {
            "enqueue_one": enqueue_one,
            "enqueue_bulk": enqueue_bulk,
            "throughput": throughput,
            "pickup_p50": statistics.median(pickups),
        }
    finally:
        if worker is not None:
            await worker.stop()
        await _forget_counter(contestant.schema)
        await contestant.close()


async def measure_memory(sizes: dict[str, int]) -> dict[str, float]:
    from infrakit.jobs import Job, JobQueue, MemoryJobStorage

    queue = JobQueue(MemoryJobStorage())
    pickups: list[float] = []
    seen = asyncio.Event()

    async def noop(job: Job[Any]) -> None:
        enqueued = job.data.get("t")
        if enqueued is not None:
            pickups.append((time.time() - enqueued) * 1000)
            seen.set()

    queue.register_processor("noop", noop, concurrency=WORKER_CONCURRENCY)
    started = time.perf_counter()
    for n in range(sizes["one"]):
        await queue.add_job("noop", {"n": n})
    enqueue_one = sizes["one"] / (time.perf_counter() - started)
    started = time.perf_counter()
    await queue.add_jobs("noop", [{"n": n} for n in range(sizes["bulk"])])
    enqueue_bulk = sizes["bulk"] / (time.perf_counter() - started)
    total = sizes["one"] + sizes["bulk"]
    started = time.perf_counter()
    task = asyncio.create_task(queue.run_worker(handle_signals=False))
    while (await queue.get_stats("noop")).completed < total:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    throughput = total / (time.perf_counter() - started)
    for _ in range(sizes["latency"]):
        await asyncio.sleep(0.02)
        seen.clear()
        await queue.add_job("noop", {"t": time.time()})
        await asyncio.wait_for(seen.wait(), 30)
    queue.stop_worker()
    await task
    return {
        "enqueue_one": enqueue_one,
        "enqueue_bulk": enqueue_bulk,
        "throughput": throughput,
        "pickup_p50": statistics.median(pickups),
    }


def report(results: dict[str, list[dict[str, float]]]) -> None:
    metrics = [
        ("enqueue_one", "enqueue one by one, jobs/s"),
        ("enqueue_bulk", "enqueue bulk, jobs/s"),
        ("throughput", "processed, jobs/s (one worker process)"),
        ("pickup_p50", "pickup latency p50, ms"),
    ]
    reference = results.get("pgqueuer-asyncpg")
    for key, title in metrics:
        print(f"\n{title}  (median [min-max], ratio to pgqueuer-asyncpg)")
        base = statistics.median(run[key] for run in reference) if reference else None
        for name, runs in results.items():
            values = [run[key] for run in runs]
            middle = statistics.median(values)
            ratio = f"{middle / base:5.2f}x" if base else "   -  "
            print(
                f"  {name:<18} {middle:>10.1f} [{min(values):.1f}-{max(values):.1f}] {ratio}"
                f"   {LABELS[name]}"
            )


async def main(quick: bool, only: list[str] | None, rounds: int | None) -> None:
    from infrakit.log import configure_logging

    configure_logging(level="WARNING")
    sizes = (
        {"one": 200, "bulk": 1000, "latency": 10}
        if quick
        else {
            "one": 1000,
            "bulk": 5000,
            "latency": 50,
        }
    )
    rounds = rounds or (1 if quick else 5)
    names = only or [*CONTESTANTS, "infrakit-memory"]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as directory:
        for round_number in range(rounds):
            order = list(names)
            random.shuffle(order)
            for name in order:
                if name == "infrakit-memory":
                    outcome = await measure_memory(sizes)
                else:
                    outcome = await measure(CONTESTANTS[name], sizes, Path(directory))
                results[name].append(outcome)
                print(
                    f"round {round_number + 1} {name}: "
                    + ", ".join(f"{key}={value:.1f}" for key, value in outcome.items()),
                    flush=True,
                )
    report(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small round (smoke run)")
    parser.add_argument("--only", nargs="*", help="contestants to run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        asyncio.run(run_worker(arguments.worker, arguments.schema, Path(arguments.directory)))
    else:
        asyncio.run(main(arguments.quick, arguments.only, arguments.rounds))
