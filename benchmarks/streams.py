"""Streams benchmark: a 256 MiB file copy through `process_stream` against the stdlib.

Run: `.venv/bin/python benchmarks/streams.py` (`--quick`, or `BENCH_QUICK=1`, copies
32 MiB for a smoke run).

Method: the source file is written once (then read from the page cache); each
contender copies it to its own target, the contenders taking turns within each round
(interleaved, the order rotating from round to round). Cells are the median seconds
over the rounds with the spread, and the throughput; the ratio is the baseline's
median time over infrakit's (>= 1.0: as fast or faster; the target is >= 0.9).

Contenders, each in its fastest honest configuration, labelled:
- `shutil.copyfileobj` with a 1 MiB buffer (the same chunk size as infrakit), run
  synchronously on the calling thread;
- the same in `asyncio.to_thread` (what a non-blocking copy costs at least);
- `shutil.copyfile` (uses `sendfile`, no copy through Python: the kernel's floor);
- infrakit `process_stream(path, path)`: every read and write in a worker thread,
  written to a temporary file renamed into place (atomic), no transforms;
- infrakit with `hash_stream("sha256")`, against `copyfileobj` plus `hashlib` on
  the same chunks (an honest peer for a copy that also hashes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infrakit.streams import hash_stream, process_stream

MIB = 1024 * 1024
QUICK = os.environ.get("BENCH_QUICK") == "1"


def copy_file_object(source: Path, target: Path) -> None:
    with source.open("rb") as reader, target.open("wb") as writer:
        shutil.copyfileobj(reader, writer, MIB)


def copy_and_hash(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(MIB):
            digest.update(chunk)
            writer.write(chunk)
    return digest.hexdigest()


def contenders(source: Path, directory: Path) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    def target(name: str) -> Path:
        return directory / f"{name}.bin"

    async def in_loop(function: Callable[..., Any], *arguments: Any) -> Any:
        return function(*arguments)

    return [
        ("infrakit process_stream", lambda: process_stream(source, target("infrakit"))),
        ("shutil.copyfileobj (1 MiB)", lambda: in_loop(copy_file_object, source, target("cfo"))),
        (
            "asyncio.to_thread(shutil.copyfileobj)",
            lambda: asyncio.to_thread(copy_file_object, source, target("thread")),
        ),
        (
            "shutil.copyfile (sendfile)",
            lambda: in_loop(shutil.copyfile, source, target("sendfile")),
        ),
        (
            "infrakit process_stream + hash_stream",
            lambda: process_stream(source, target("hashed"), [hash_stream("sha256")]),
        ),
        (
            "copyfileobj-style loop + hashlib",
            lambda: in_loop(copy_and_hash, source, target("hashlib")),
        ),
    ]


async def main(quick: bool) -> None:
    size, rounds = (32 * MIB, 3) if quick else (256 * MIB, 7)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs{' (quick mode)' if quick else ''}"
    )
    print(f"copy of {size // MIB} MiB; ratio = the peer's median time / infrakit's")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as name:
        directory = Path(name)
        source = directory / "source.bin"
        with source.open("wb") as file:
            for _ in range(size // MIB):
                file.write(os.urandom(MIB))
        entries = contenders(source, directory)
        timings: dict[str, list[float]] = {label: [] for label, _ in entries}
        for round_number in range(rounds):
            shift = round_number % len(entries)  # each takes each turn: no order bias
            for label, call in entries[shift:] + entries[:shift]:
                started = time.perf_counter()
                await call()
                timings[label].append(time.perf_counter() - started)
        plain = statistics.median(timings["infrakit process_stream"])
        hashed = statistics.median(timings["infrakit process_stream + hash_stream"])
        for label, values in timings.items():
            median = statistics.median(values)
            ours = hashed if "hash" in label else plain
            ratio = "" if label.startswith("infrakit") else f"  ratio {median / ours:.2f}x"
            print(
                f"  {label:<40} {median:.3f} s [{min(values):.3f}-{max(values):.3f}]"
                f"  {size / median / MIB:7.0f} MiB/s{ratio}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    asyncio.run(main(parser.parse_args().quick or QUICK))
