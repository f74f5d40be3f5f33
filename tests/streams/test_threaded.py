"""The reader and writer threads behind process_stream: backpressure, failures, abort."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from infrakit.streams._threaded import HANDOFF_DEPTH, ThreadedReader, ThreadedWriter
from infrakit.streams._write import PathTarget


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


class GatedTarget:
    """Writes only while the gate is open; records what it was given and how it ended."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.gate = threading.Event()
        self.written: list[bytes] = []
        self.ended: list[str] = []
        self.fail_at = fail_at

    def write(self, chunk: bytes) -> None:
        self.gate.wait()
        if len(self.written) == self.fail_at:
            raise OSError("disk full")
        self.written.append(chunk)

    def commit(self) -> None:
        self.ended.append("commit")

    def discard(self) -> None:
        self.ended.append("discard")


async def test_the_writer_waits_once_the_thread_is_behind() -> None:
    target = GatedTarget()
    writer = ThreadedWriter(target)
    handed = 0

    async def produce() -> None:
        nonlocal handed
        for index in range(10):
            await writer.write(bytes([index]))
            handed += 1

    producing = asyncio.create_task(produce())
    for _ in range(100):
        await asyncio.sleep(0.001)
    # one chunk in the (blocked) thread's hands, HANDOFF_DEPTH waiting: no more taken
    assert handed == HANDOFF_DEPTH + 1
    assert not producing.done()
    target.gate.set()
    await producing
    await writer.close()
    assert target.written == [bytes([index]) for index in range(10)]
    assert target.ended == ["commit"]


async def test_a_failed_write_is_raised_and_the_target_discarded() -> None:
    target = GatedTarget(fail_at=2)
    target.gate.set()
    writer = ThreadedWriter(target)

    async def write_all() -> None:
        for index in range(1000):
            await writer.write(bytes([index % 256]))
        await writer.close()

    with pytest.raises(OSError, match="disk full"):
        await write_all()
    assert len(target.written) == 2
    await writer.abort()
    assert target.ended == ["discard"]


async def test_abort_discards_after_the_write_under_way(tmp_path: Path) -> None:
    (tmp_path / "out.bin").write_bytes(b"old")
    writer = ThreadedWriter(PathTarget(str(tmp_path / "out.bin")))
    await writer.write(b"new")
    await writer.abort()
    assert (tmp_path / "out.bin").read_bytes() == b"old"
    assert names(tmp_path) == ["out.bin"]
    await ThreadedWriter(GatedTarget()).abort()  # never started: nothing to do


async def test_the_reader_reads_ahead_in_order_and_stops_when_closed(tmp_path: Path) -> None:
    data = bytes(range(256)) * 400
    (tmp_path / "in.bin").write_bytes(data)
    reader = ThreadedReader(str(tmp_path / "in.bin"), 1000)
    chunks = [chunk async for chunk in reader]
    assert b"".join(chunks) == data
    assert max(map(len, chunks)) == 1000
    assert [chunk async for chunk in reader] == []  # ended stays ended
    early = ThreadedReader(str(tmp_path / "in.bin"), 1000)
    assert await anext(early) == data[:1000]
    await early.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(early)
    await ThreadedReader(str(tmp_path / "in.bin"), 1000).aclose()  # never started


async def test_the_reader_raises_a_missing_file_on_first_iteration(tmp_path: Path) -> None:
    reader = ThreadedReader(str(tmp_path / "missing.bin"), 1000)
    with pytest.raises(FileNotFoundError):
        await anext(reader)
    with pytest.raises(StopAsyncIteration):
        await anext(reader)
