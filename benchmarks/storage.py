"""Storage benchmark: infrakit's storage against raw fsspec and plain file I/O.

Run: `.venv/bin/python benchmarks/storage.py` (`--quick`, or `BENCH_QUICK=1`, for a
smoke run).

Method: save and get of a 1 KiB and a 16 MiB file on the local disk (a temporary
directory) and in memory. Timed in rounds; within a round the contenders take turns
of about a millisecond each (one call, or as many as fill it), in a new random
order each turn (a fixed seed): each follows every other alike (in a rotation each
would always follow the same one), and a change in the machine (a worker thread's
wake-up latency, the journal's write-back) lands on all of them alike. Cells are the median time per
call over the rounds with the spread [fastest-slowest round]; the ratio is the
baseline's median time over infrakit's (>= 1.0: infrakit is as fast or faster; the
target is >= 0.9).

Contenders, each in its fastest honest configuration, labelled. In each group the
row marked `=` is the baseline: the peer doing the same work with the same
guarantee, without blocking the event loop (infrakit moves every blocking call off
the loop); the ratio printed in the group's title is its median over infrakit's.
Rows marked `!` run synchronously on the calling thread: they block the event loop
for the whole call (what a script may do, not a server), shown for reference.
- local, durable: infrakit `LocalStorage` (temporary file, fsync, rename, directory
  fsync, in one worker-thread hop) against plain file I/O doing the same steps in
  `asyncio.to_thread`; raw fsspec has no atomic or durable write.
- local, not durable: infrakit `LocalStorage(durable=False)` (temporary file and
  rename, no fsync). The `=` row makes the same system calls plainly in
  `asyncio.to_thread`: an `lstat` per key segment (no symlink leads out of the root), a
  uniquely named `O_EXCL` temporary file (two writers never share one), the `fstat` for
  the ETag, the rename, and the `unlink` of a stale metadata sidecar. Beside it, a
  plain fixed-name temporary file and rename (atomic, but not safe for concurrent
  writers, with no checks); plain `open().write()` and fsspec's `pipe_file` write in
  place (not atomic) and block the loop.
- get: infrakit `get_file` against the same guarantee plainly in `asyncio.to_thread`
  (an `lstat` per key segment, then `open().read()`), and `open().read()` alone;
  plain `open().read()` and fsspec `cat_file` block the loop. All of them read the one
  file infrakit stored, written back first (`os.sync()`): a file's page-cache state
  (another file, last written by another contender) moved a 16 MiB read by 15%.
- memory: infrakit `memory://` against fsspec's `MemoryFileSystem` with its own
  store. The `=` row is `pipe_file` plus the same `detect_content_type` call
  `save_file` makes by default (the issue requires the bytes to be sniffed): the
  same work, so its ratio is what the wrapper costs (the key check, the entity tag,
  the counters). The bare `pipe_file` row, and infrakit's row with `content_type=`
  given (no sniffing), show what the sniffing costs. A get returns the stored bytes
  object (bytes are immutable: no copy), fsspec's `cat_file` copies them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _order import turn_orders  # benchmarks/, the script's directory
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from infrakit.storage import FsspecStorage, LocalStorage, detect_content_type

KIB, MIB = 1024, 1024 * 1024
BINARY = "application/octet-stream"
QUICK = os.environ.get("BENCH_QUICK") == "1"


@dataclass
class Contender:
    name: str
    call: Callable[[], Awaitable[Any]]
    baseline: bool = False
    blocking: bool = False
    rounds: list[float] = field(default_factory=list)


def plain_durable_write(path: str, data: bytes) -> None:
    temporary = path + ".tmp"
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    descriptor = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def plain_atomic_write(path: str, data: bytes) -> None:
    temporary = path + ".tmp"
    with open(temporary, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def checked_atomic_write(path: str, data: bytes) -> None:
    """`LocalStorage(durable=False)`'s system calls, made plainly: the same work."""
    with contextlib.suppress(FileNotFoundError):
        os.lstat(path)  # no symlink out of the root: one lstat per key segment
    temporary = f"{path}.{secrets.token_hex(6)}.tmp"  # unique: concurrent writers
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fstat(descriptor)  # the ETag (inode, mtime, size)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path + ".meta.json")  # a save without metadata drops an earlier one


def plain_write(path: str, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)


def plain_read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def checked_read(path: str) -> bytes:
    """`get_file`'s guarantee made plainly: the `lstat` (no symlink out of the root), the read."""
    os.lstat(path)
    with open(path, "rb") as file:
        return file.read()


def sniffed_pipe_file(filesystem: MemoryFileSystem, path: str, data: bytes) -> str:
    """fsspec's dictionary insert plus the content sniffing `save_file` does by default."""
    mime_type = detect_content_type(path, data).mime_type
    filesystem.pipe_file(path, data)
    return mime_type


def in_thread(function: Callable[..., Any], *arguments: Any) -> Callable[[], Awaitable[Any]]:
    def call() -> Awaitable[Any]:
        return asyncio.to_thread(function, *arguments)

    return call


def sniffed(
    key: str, data: bytes, call: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[Any]]:
    """`call` after the `detect_content_type` that `save_file` makes on the loop by default."""

    async def sniffed_call() -> Any:
        detect_content_type(key, data)
        return await call()

    return sniffed_call


def synchronous(function: Callable[..., Any], *arguments: Any) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        return function(*arguments)

    return call


async def timed(count: int, call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - started) / count


TURN = 0.001  # seconds: the contenders alternate this finely within a round


async def calibrate(call: Callable[[], Awaitable[Any]]) -> tuple[int, float]:
    """How many calls fill a turn (at least one), and how long that turn takes."""
    await call()  # warm
    started = time.perf_counter()
    await call()
    once = max(time.perf_counter() - started, 1e-7)
    size = max(1, min(20_000, int(TURN / once)))
    return size, size * once


async def race(contenders: list[Contender], rounds: int, budget: float) -> None:
    """Each round, the contenders take turns of about `TURN` seconds each (or one call,
    when a call takes longer), in a new random order each turn, until each has run
    about `budget` seconds; a round's figure is the mean time per call over its turns.
    Alternating this finely, a change in the machine (a thread's wake-up latency, the
    journal's write-back) lands on every contender alike instead of on whoever's batch
    it falls in."""
    calibrated = [await calibrate(contender.call) for contender in contenders]
    sizes = [size for size, _ in calibrated]
    turns = max(3, int(budget / max(seconds for _, seconds in calibrated)))
    count = len(contenders)
    orders = turn_orders(range(count), rounds * turns)
    for _ in range(rounds):
        spent = [0.0] * count
        for _ in range(turns):
            for index in next(orders):
                spent[index] += await timed(sizes[index], contenders[index].call)
        for contender, seconds in zip(contenders, spent, strict=True):
            contender.rounds.append(seconds / turns)


def cell(contender: Contender) -> str:
    median = statistics.median(contender.rounds)
    low, high = min(contender.rounds), max(contender.rounds)
    return f"{_time(median)} [{_time(low)}-{_time(high)}]"


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"


def report(title: str, contenders: list[Contender]) -> None:
    ours = statistics.median(contenders[0].rounds)
    baseline = next(contender for contender in contenders if contender.baseline)
    target = statistics.median(baseline.rounds) / ours
    print(f"\n{title}: ratio {target:.2f}x against the `=` row")
    for contender in contenders:
        ratio = statistics.median(contender.rounds) / ours
        mark = "=" if contender.baseline else "!" if contender.blocking else " "
        if contender is contenders[0]:
            label = ""
        elif contender.name.startswith("infrakit"):  # a variant: its own ratio to the `=` row
            variant = statistics.median(baseline.rounds) / statistics.median(contender.rounds)
            label = f"  ratio {variant:.2f}x against `=`"
        else:
            label = f"  ratio {ratio:.2f}x"
        print(f"  {mark} {contender.name:<50} {cell(contender)}{label}")


async def main(quick: bool) -> None:
    rounds, budget = (3, 0.02) if quick else (15, 0.2)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs{' (quick mode)' if quick else ''}"
    )
    print("ratio = the peer's median time / infrakit's (>= 0.9 against `=` is the target)")
    print("`=` the baseline: same work, same guarantee, loop free; `!` blocks the event loop")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as directory:
        root = Path(directory)
        durable = LocalStorage(root / "durable")
        fast = LocalStorage(root / "fast", durable=False)
        memory = FsspecStorage("memory://")
        local_fs = LocalFileSystem()
        memory_fs = MemoryFileSystem(skip_instance_cache=True)
        memory_fs.store, memory_fs.pseudo_dirs = {}, [""]
        for folder in ("plain", "fsspec"):
            (root / folder).mkdir()
        for size, label in ((KIB, "1 KiB"), (16 * MIB, "16 MiB")):
            data = os.urandom(size)
            plain, raw = str(root / "plain" / "f.bin"), str(root / "fsspec" / "f.bin")
            await race(
                group := [
                    Contender(
                        "infrakit LocalStorage (atomic, fsync)",
                        lambda d=data: durable.save_file("f.bin", d),
                    ),
                    Contender(
                        "sniff + to_thread(tmp+write+fsync+rename+dir fsync) (same work)",
                        sniffed("f.bin", data, in_thread(plain_durable_write, plain, data)),
                        baseline=True,
                    ),
                    Contender(
                        "to_thread(plain tmp+write+fsync+rename+dir fsync)",
                        in_thread(plain_durable_write, plain, data),
                    ),
                    Contender(
                        "plain tmp+write+fsync+rename+dir fsync",
                        synchronous(plain_durable_write, plain, data),
                        blocking=True,
                    ),
                ],
                rounds,
                budget,
            )
            report(f"save {label}, local, durable", group)
            await race(
                group := [
                    Contender(
                        "infrakit LocalStorage(durable=False) (atomic)",
                        lambda d=data: fast.save_file("f.bin", d),
                    ),
                    Contender(
                        "sniff + to_thread(the same system calls) (same work)",
                        sniffed("f.bin", data, in_thread(checked_atomic_write, plain, data)),
                        baseline=True,
                    ),
                    Contender(
                        "to_thread(the same system calls) (no sniffing)",
                        in_thread(checked_atomic_write, plain, data),
                    ),
                    Contender(
                        "to_thread(plain tmp+write+rename) (atomic)",
                        in_thread(plain_atomic_write, plain, data),
                    ),
                    Contender(
                        "to_thread(plain open().write()) (in place)",
                        in_thread(plain_write, plain, data),
                    ),
                    Contender(
                        "plain open().write() (in place)",
                        synchronous(plain_write, plain, data),
                        blocking=True,
                    ),
                    Contender(
                        "fsspec LocalFileSystem.pipe_file (in place)",
                        synchronous(local_fs.pipe_file, raw, data),
                        blocking=True,
                    ),
                ],
                rounds,
                budget,
            )
            report(f"save {label}, local, not durable", group)
            os.sync()  # the file is read back from the page cache, not while written back
            stored = str(root / "fast" / "f.bin")  # every contender reads the same file
            await race(
                group := [
                    Contender("infrakit get_file", lambda: fast.get_file("f.bin")),
                    Contender(
                        "to_thread(lstat + open().read()) (same work)",
                        in_thread(checked_read, stored),
                        baseline=True,
                    ),
                    Contender("to_thread(plain open().read())", in_thread(plain_read, stored)),
                    Contender(
                        "plain open().read()", synchronous(plain_read, stored), blocking=True
                    ),
                    Contender(
                        "fsspec LocalFileSystem.cat_file",
                        synchronous(local_fs.cat_file, stored),
                        blocking=True,
                    ),
                ],
                rounds,
                budget,
            )
            report(f"get {label}, local", group)
            await race(
                group := [
                    Contender(
                        "infrakit memory:// save_file", lambda d=data: memory.save_file("f.bin", d)
                    ),
                    Contender(
                        "fsspec pipe_file + detect_content_type (same work)",
                        synchronous(sniffed_pipe_file, memory_fs, "/f.bin", data),
                        baseline=True,
                    ),
                    Contender(
                        "fsspec MemoryFileSystem.pipe_file (no sniffing)",
                        synchronous(memory_fs.pipe_file, "/f.bin", data),
                    ),
                    Contender(
                        "infrakit memory:// save_file(content_type=...)",
                        lambda d=data: memory.save_file("f.bin", d, content_type=BINARY),
                    ),
                ],
                rounds,
                budget,
            )
            report(f"save {label}, memory", group)
            await race(
                group := [
                    Contender("infrakit memory:// get_file", lambda: memory.get_file("f.bin")),
                    Contender(
                        "fsspec MemoryFileSystem.cat_file (copies)",
                        synchronous(memory_fs.cat_file, "/f.bin"),
                        baseline=True,
                    ),
                ],
                rounds,
                budget,
            )
            report(f"get {label}, memory", group)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    asyncio.run(main(parser.parse_args().quick or QUICK))
