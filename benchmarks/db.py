"""infrakit.db against raw psycopg AsyncConnectionPool and asyncpg, in one run; then
infrakit.db.sync against raw psycopg's blocking ConnectionPool, from threads.

Cases: a single-row primary-key select and a 1,000-row fetch, with 1 and 16
concurrent tasks. Every library gets a pool of 16 connections, autocommit, rows
as dicts for infrakit and psycopg (`dict_row`), asyncpg `Record`s. Each figure is
the best of REPEATS timed windows; libraries are interleaved within a repeat so
drift on a shared machine hits them alike. The CPU columns (lowest client CPU time
per operation, this process only) show each library's own cost, which stays readable
when other processes make the wall-clock throughput noisy.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/db.py

The blocking section runs the same two cases from 1 and 4 threads, each contestant
with a pool of 16 and `dict_row`; raw psycopg is at its fastest honest form (a
`pool.connection()` block, one cursor, no extra checks). It reports the median of
REPEATS windows with the lowest and highest around it; the contestants alternate
within a repeat.

`--quick` (or `BENCH_QUICK=1`) runs 3 windows of 0.1 s per figure: a smoke run that
checks the script works, not figures to publish.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]
from _order import turn_orders  # benchmarks/, the script's directory
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from infrakit.db import Database
from infrakit.db import sync as blocking

URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = f"bench_db_{uuid.uuid4().hex[:8]}"
POOL_SIZE = 16
QUICK = "--quick" in sys.argv[1:] or os.environ.get("BENCH_QUICK") == "1"
REPEATS = 3 if QUICK else int(os.environ.get("BENCH_REPEATS", "15"))
WINDOW = 0.1 if QUICK else float(os.environ.get("BENCH_WINDOW", "0.25"))
PK_SQL = f"SELECT id, name, value, created FROM {TABLE} WHERE id = %s"
MANY_SQL = f"SELECT id, name, value, created FROM {TABLE} ORDER BY id"

Operation = Callable[[int], Awaitable[object]]


async def measure(operation: Operation, concurrency: int) -> tuple[float, float]:
    """Operations per second over one WINDOW, and client CPU microseconds per operation.

    The CPU figure counts only this process, so it shows the client-side cost of each
    library even when other processes make wall-clock throughput noisy.
    """
    deadline = time.perf_counter() + WINDOW
    counts = [0] * concurrency

    async def worker(index: int) -> None:
        count = 0
        while time.perf_counter() < deadline:
            await operation(count % 1000 + 1)
            count += 1
        counts[index] = count

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    operations = max(sum(counts), 1)
    cpu_per_operation = (time.process_time() - cpu_started) / operations * 1e6
    return operations / (time.perf_counter() - started), cpu_per_operation


async def setup(db: Database) -> None:
    await db.execute(
        f"CREATE TABLE {TABLE} (id int PRIMARY KEY, name text, value double precision, "
        "created timestamptz DEFAULT now())"
    )
    await db.execute(
        f"INSERT INTO {TABLE} (id, name, value) "
        "SELECT i, 'name-' || i, i * 1.5 FROM generate_series(1, 1000) AS i"
    )


def operations(
    db: Database, pool: AsyncConnectionPool, apg: asyncpg.Pool
) -> dict[str, dict[str, Operation]]:
    async def raw_one(key: int) -> object:
        async with pool.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(PK_SQL, (key,))
            return await cursor.fetchone()

    async def raw_many(key: int) -> object:
        async with pool.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(MANY_SQL)
            return await cursor.fetchall()

    asyncpg_pk = PK_SQL.replace("%s", "$1")
    return {
        "pk select": {
            "infrakit": lambda key: db.fetch_one(PK_SQL, (key,)),
            "psycopg": raw_one,
            "asyncpg": lambda key: apg.fetchrow(asyncpg_pk, key),
        },
        "1,000-row fetch": {
            "infrakit": lambda key: db.fetch_all(MANY_SQL),
            "psycopg": raw_many,
            "asyncpg": lambda key: apg.fetch(MANY_SQL),
        },
    }


Result = tuple[str, int, dict[str, float], dict[str, float]]


async def run() -> list[Result]:
    db = Database(URL, min_size=POOL_SIZE, max_size=POOL_SIZE, application_name="bench-infrakit")
    pool = AsyncConnectionPool(
        URL,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "application_name": "bench-psycopg"},
        open=False,
    )
    async with db:
        await setup(db)
        try:
            await pool.open(wait=True)
            apg = await asyncpg.create_pool(URL, min_size=POOL_SIZE, max_size=POOL_SIZE)
            try:
                return await run_cases(operations(db, pool, apg))
            finally:
                await apg.close()
                await pool.close()
        finally:
            await db.execute(f"DROP TABLE IF EXISTS {TABLE}")


async def run_cases(cases: dict[str, dict[str, Operation]]) -> list[Result]:
    results = []
    for case, libraries in cases.items():
        for concurrency in (1, 16):
            best = dict.fromkeys(libraries, 0.0)
            cpu = dict.fromkeys(libraries, float("inf"))
            for operation in libraries.values():  # warm up (prepared statements)
                for key in range(1, 30):
                    await operation(key)
            for order in turn_orders(libraries.items(), REPEATS):
                for name, operation in order:
                    throughput, cpu_per_operation = await measure(operation, concurrency)
                    best[name] = max(best[name], throughput)
                    cpu[name] = min(cpu[name], cpu_per_operation)
            results.append((case, concurrency, best, cpu))
    return results


def table(results: list[Result]) -> str:
    lines = [
        "| case | tasks | infrakit ops/s | psycopg pool ops/s | asyncpg ops/s "
        "| infrakit / psycopg | infrakit / asyncpg "
        "| client CPU us/op infrakit / psycopg / asyncpg | CPU infrakit / psycopg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, concurrency, best, cpu in results:
        ours, raw, apg = best["infrakit"], best["psycopg"], best["asyncpg"]
        lines.append(
            f"| {case} | {concurrency} | {ours:,.0f} | {raw:,.0f} | {apg:,.0f} "
            f"| {ours / raw:.3f} | {ours / apg:.3f} "
            f"| {cpu['infrakit']:,.0f} / {cpu['psycopg']:,.0f} / {cpu['asyncpg']:,.0f} "
            f"| {cpu['infrakit'] / cpu['psycopg']:.3f} |"
        )
    return "\n".join(lines)


BlockingOperation = Callable[[int], object]


def measure_blocking(operation: BlockingOperation, threads: int) -> tuple[float, float]:
    """Operations per second over one WINDOW (`threads` calling at once), and client CPU
    microseconds per operation (this process, every thread)."""
    start, counts = threading.Barrier(threads + 1), [0] * threads
    deadline: list[float] = []

    def worker(index: int) -> None:
        start.wait()
        count, limit = 0, deadline[0]
        while time.perf_counter() < limit:
            operation(count % 1000 + 1)
            count += 1
        counts[index] = count

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in workers:
        thread.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline.append(started + WINDOW)
    start.wait()
    for thread in workers:
        thread.join()
    operations = max(sum(counts), 1)
    cpu_per_operation = (time.process_time() - cpu_started) / operations * 1e6
    return operations / (time.perf_counter() - started), cpu_per_operation


def blocking_operations(
    db: blocking.Database, pool: ConnectionPool
) -> dict[str, dict[str, BlockingOperation]]:
    def raw_one(key: int) -> object:
        with pool.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            cursor.execute(PK_SQL, (key,))
            return cursor.fetchone()

    def raw_many(key: int) -> object:
        with pool.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            cursor.execute(MANY_SQL)
            return cursor.fetchall()

    return {
        "pk select": {
            "infrakit.sync": lambda key: db.fetch_one(PK_SQL, (key,)),
            "psycopg": raw_one,
        },
        "1,000-row fetch": {
            "infrakit.sync": lambda key: db.fetch_all(MANY_SQL),
            "psycopg": raw_many,
        },
    }


BlockingResult = tuple[str, int, dict[str, list[float]], dict[str, list[float]]]


def run_blocking() -> list[BlockingResult]:
    db = blocking.Database(
        URL, min_size=POOL_SIZE, max_size=POOL_SIZE, application_name="bench-infrakit-sync"
    )
    pool = ConnectionPool(
        URL,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "application_name": "bench-psycopg-sync"},
        open=False,
    )
    with db:
        db.execute(
            f"CREATE TABLE {TABLE} (id int PRIMARY KEY, name text, value double precision, "
            "created timestamptz DEFAULT now())"
        )
        db.execute(
            f"INSERT INTO {TABLE} (id, name, value) "
            "SELECT i, 'name-' || i, i * 1.5 FROM generate_series(1, 1000) AS i"
        )
        try:
            pool.open(wait=True)
            try:
                return run_blocking_cases(blocking_operations(db, pool))
            finally:
                pool.close()
        finally:
            db.execute(f"DROP TABLE IF EXISTS {TABLE}")


def run_blocking_cases(cases: dict[str, dict[str, BlockingOperation]]) -> list[BlockingResult]:
    results = []
    for case, libraries in cases.items():
        for threads in (1, 4):
            figures: dict[str, list[float]] = {name: [] for name in libraries}
            cpu: dict[str, list[float]] = {name: [] for name in libraries}
            for operation in libraries.values():
                for key in range(1, 30):
                    operation(key)
            for order in turn_orders(libraries.items(), REPEATS):
                for name, operation in order:
                    throughput, cpu_per_operation = measure_blocking(operation, threads)
                    figures[name].append(throughput)
                    cpu[name].append(cpu_per_operation)
            results.append((case, threads, figures, cpu))
    return results


def blocking_table(results: list[BlockingResult]) -> str:
    lines = [
        "| case | threads | infrakit.db.sync ops/s (min-max) | psycopg sync pool ops/s (min-max) "
        "| median ratio | median client CPU us/op infrakit.sync / psycopg | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, threads, figures, cpu in results:
        ours, raw = figures["infrakit.sync"], figures["psycopg"]
        ours_cpu = statistics.median(cpu["infrakit.sync"])
        raw_cpu = statistics.median(cpu["psycopg"])
        lines.append(
            f"| {case} | {threads} | {statistics.median(ours):,.0f} "
            f"({min(ours):,.0f}-{max(ours):,.0f}) | {statistics.median(raw):,.0f} "
            f"({min(raw):,.0f}-{max(raw):,.0f}) "
            f"| {statistics.median(ours) / statistics.median(raw):.3f} "
            f"| {ours_cpu:,.0f} / {raw_cpu:,.0f} | {ours_cpu / raw_cpu:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    started = time.perf_counter()
    results = asyncio.run(run())
    print(table(results))
    print()
    print(blocking_table(run_blocking()))
    print(
        f"\nbest of {REPEATS} windows of {WINDOW}s per figure, pool of {POOL_SIZE}; "
        f"wall time {time.perf_counter() - started:.0f}s"
    )


if __name__ == "__main__":
    main()
