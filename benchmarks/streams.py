"""Streams benchmark: a 256 MiB file copy through `process_stream` against the stdlib.

Run: `.venv/bin/python benchmarks/streams.py` (`--quick`, or `BENCH_QUICK=1`, copies
32 MiB for a smoke run; `--rounds N` to change the number of rounds).

Method: the source file is written once (then read from the page cache); each
contender copies it to its own target, the contenders taking turns within each round
(interleaved, in a new random order each round: a fixed seed, and each contender
follows every other alike, where a rotation keeps one predecessor). Before each timed copy (not
timed) the target is removed and `os.sync()` writes back what earlier copies left
dirty: every copy then starts alike, creating a new file with no write-back debt
(otherwise whoever runs after a big copy is throttled by the kernel for its dirty
pages, and a rename or truncation over an existing file triggers ext4's early
write-back for some contenders and not others). Cells are the median seconds
over the rounds with the spread [fastest-slowest], and the throughput; the ratio is
the baseline's median time over infrakit's (>= 1.0: as fast or faster; the target
is >= 0.9).

Contenders, each in its fastest honest configuration, labelled. In each group the
row marked `=` is the baseline: the same copy without blocking the event loop, as
`asyncio.to_thread(shutil.copyfileobj)` does it; rows marked `!` run synchronously on
the calling thread and block the event loop for the whole copy (reference only).
- copy: infrakit `process_stream(path, path)` with no transforms takes its fast path:
  the whole copy in one worker thread through one reused 1 MiB buffer (cancellable
  between chunks), written to a temporary file renamed into place (atomic; the peers
  write in place). Peers: `shutil.copyfileobj` with a 1 MiB buffer in
  `asyncio.to_thread` (the baseline), `shutil.copyfile` in `asyncio.to_thread`
  (`sendfile`: no copy through Python), and both blocking. A row runs infrakit's
  pipeline with an async pass-through transform (what any transform of your own
  costs): the transform on the event loop, 1 MiB chunks read ahead by a reader thread
  and written behind by a writer thread, one chunk of hand-off each way.
- copy + sha256: infrakit's pipeline with `hash_stream("sha256")` (read ahead and
  written behind by their threads, each 1 MiB chunk hashed in a worker thread while
  the next is read; atomic) against a `copyfileobj`-style loop with `hashlib` on 1 MiB
  chunks, in `asyncio.to_thread` (the baseline) and blocking.

Where: a temporary directory in `BENCH_DIR` (default: the system's temporary
directory, on disk here). With a disk target the write-back of 256 MiB makes rounds
bimodal; `BENCH_DIR=/dev/shm` measures the same copies on tmpfs, the software's
cost alone. `docs/benchmarks.md` gives both.
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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _order import turn_orders  # benchmarks/, the script's directory

from infrakit.streams import hash_stream, process_stream

MIB = 1024 * 1024
QUICK = os.environ.get("BENCH_QUICK") == "1"


@dataclass
class Contender:
    name: str
    target: Path
    call: Callable[[], Awaitable[Any]]
    baseline: bool = False
    blocking: bool = False
    rounds: list[float] = field(default_factory=list)


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


def pass_through(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    return chunks


def groups(source: Path, directory: Path) -> dict[str, list[Contender]]:
    def entry(
        name: str, file: str, run: Callable[[Path], Awaitable[Any]], **marks: bool
    ) -> Contender:
        target = directory / f"{file}.bin"
        return Contender(name, target, lambda: run(target), **marks)

    def threaded(function: Callable[[Path, Path], Any]) -> Callable[[Path], Awaitable[Any]]:
        return lambda target: asyncio.to_thread(function, source, target)

    def blocking(function: Callable[[Path, Path], Any]) -> Callable[[Path], Awaitable[Any]]:
        async def run(target: Path) -> Any:
            return function(source, target)

        return run

    return {
        "copy": [
            entry(
                "infrakit process_stream (one thread, atomic)",
                "infrakit",
                lambda target: process_stream(source, target),
            ),
            entry(
                "to_thread(shutil.copyfileobj, 1 MiB)",
                "thread",
                threaded(copy_file_object),
                baseline=True,
            ),
            entry("to_thread(shutil.copyfile) (sendfile)", "sendfile", threaded(shutil.copyfile)),
            entry(
                "infrakit pipeline, async pass-through transform",
                "pipeline",
                lambda target: process_stream(source, target, [pass_through]),
            ),
            entry("shutil.copyfileobj, 1 MiB", "cfo", blocking(copy_file_object), blocking=True),
            entry(
                "shutil.copyfile (sendfile)",
                "sync-sendfile",
                blocking(shutil.copyfile),
                blocking=True,
            ),
        ],
        "copy + sha256": [
            entry(
                "infrakit process_stream + hash_stream",
                "hashed",
                lambda target: process_stream(source, target, [hash_stream("sha256")]),
            ),
            entry(
                "to_thread(copy loop + hashlib)",
                "hash-thread",
                threaded(copy_and_hash),
                baseline=True,
            ),
            entry("copy loop + hashlib", "hashlib", blocking(copy_and_hash), blocking=True),
        ],
    }


async def race(contenders: list[Contender], rounds: int) -> None:
    for order in turn_orders(contenders, rounds):
        for contender in order:
            contender.target.unlink(missing_ok=True)
            os.sync()
            started = time.perf_counter()
            await contender.call()
            contender.rounds.append(time.perf_counter() - started)


def report(title: str, contenders: list[Contender], size: int) -> None:
    ours = statistics.median(contenders[0].rounds)
    baseline = statistics.median(next(c for c in contenders if c.baseline).rounds)
    print(f"\n{title}: ratio {baseline / ours:.2f}x against the `=` row")
    for contender in contenders:
        median = statistics.median(contender.rounds)
        mark = "=" if contender.baseline else "!" if contender.blocking else " "
        if contender is contenders[0]:
            ratio = ""
        elif contender.name.startswith("infrakit"):
            ratio = f"  ratio {baseline / median:.2f}x against `=`"
        else:
            ratio = f"  ratio {median / ours:.2f}x"
        low, high = min(contender.rounds), max(contender.rounds)
        print(
            f"  {mark} {contender.name:<56} {median:.3f} s [{low:.3f}-{high:.3f}]"
            f"  {size / median / MIB:6.0f} MiB/s{ratio}"
        )


async def main(quick: bool, rounds: int | None) -> None:
    size = 32 * MIB if quick else 256 * MIB
    rounds = rounds or (3 if quick else 11)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs{' (quick mode)' if quick else ''}"
    )
    print(f"copy of {size // MIB} MiB, {rounds} rounds; ratio = the peer's median / infrakit's")
    print("`=` the baseline (same copy, loop free); `!` blocks the event loop")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as name:
        directory = Path(name)
        source = directory / "source.bin"
        with source.open("wb") as file:
            for _ in range(size // MIB):
                file.write(os.urandom(MIB))
        for title, contenders in groups(source, directory).items():
            await race(contenders, rounds)
            report(title, contenders, size)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per group")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.quick or QUICK, arguments.rounds))
