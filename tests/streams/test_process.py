"""process_stream end to end: every source and destination kind, errors, cancellation."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import fsspec
import pytest

from infrakit.errors import ValidationError
from infrakit.storage import FsspecStorage
from infrakit.streams import (
    StreamStats,
    create_read_stream,
    create_write_stream,
    gzip_compress,
    gzip_decompress,
    hash_stream,
    limit_size,
    process_stream,
)

DATA = bytes(index % 253 for index in range(3_000_000))


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def generated(size: int, chunk: int = 65536) -> AsyncIterator[bytes]:
    block = bytes(chunk)
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        yield piece


async def test_path_to_path(tmp_path: Path) -> None:
    (tmp_path / "in.bin").write_bytes(DATA)
    stats = await process_stream(tmp_path / "in.bin", str(tmp_path / "out.bin"), chunk_size=100_000)
    assert isinstance(stats, StreamStats)
    assert (stats.bytes_read, stats.bytes_written) == (len(DATA), len(DATA))
    assert stats.duration > 0
    assert stats.throughput == pytest.approx(len(DATA) / stats.duration)
    assert (tmp_path / "out.bin").read_bytes() == DATA
    assert names(tmp_path) == ["in.bin", "out.bin"]


async def test_file_objects_and_async_iterables(tmp_path: Path) -> None:
    target = io.BytesIO()
    stats = await process_stream(io.BytesIO(DATA), target)
    assert target.getvalue() == DATA
    again = io.BytesIO()
    await process_stream(generated(1000, 7), again)
    assert again.getvalue() == bytes(1000)
    with (tmp_path / "f.bin").open("wb") as real_file:
        await process_stream(io.BytesIO(DATA), real_file)
    assert (tmp_path / "f.bin").read_bytes() == DATA
    assert stats.bytes_written == len(DATA)


async def test_fsspec_urls() -> None:
    name = f"memory://infrakit-streams-test/{id(object())}"
    await process_stream(io.BytesIO(DATA), name + "/a.bin")
    target = io.BytesIO()
    await process_stream(name + "/a.bin", target)
    assert target.getvalue() == DATA
    fsspec.filesystem("memory").rm(name.removeprefix("memory://"), recursive=True)


async def test_storage_keys_both_ways() -> None:
    storage = FsspecStorage("memory://")
    await process_stream(io.BytesIO(DATA), "in/data.bin", storage=storage)
    assert await storage.get_file("in/data.bin") == DATA
    await process_stream("in/data.bin", "out/copy.bin", storage=storage, chunk_size=4096)
    assert await storage.get_file("out/copy.bin") == DATA


async def test_read_ranges(tmp_path: Path) -> None:
    (tmp_path / "r.bin").write_bytes(DATA)
    storage = FsspecStorage("memory://")
    await storage.save_file("r.bin", DATA)
    sources = [
        (tmp_path / "r.bin", None),
        (io.BytesIO(DATA), None),
        (generated_data(), None),
        ("r.bin", storage),
    ]
    for source, owner in sources:
        stream = create_read_stream(source, start=100, end=200_100, chunk_size=3000, storage=owner)
        chunks = [chunk async for chunk in stream]
        assert b"".join(chunks) == DATA[100:200_100], source
        assert max(len(chunk) for chunk in chunks) <= 3000 or owner is None


async def generated_data() -> AsyncIterator[bytes]:
    for offset in range(0, len(DATA), 70_001):
        yield DATA[offset : offset + 70_001]


async def test_transforms_compose(tmp_path: Path) -> None:
    digest = hash_stream("sha256")
    after = hash_stream("md5")
    target = io.BytesIO()
    stats = await process_stream(io.BytesIO(DATA), target, [digest, gzip_compress(), after])
    assert digest.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert gzip.decompress(target.getvalue()) == DATA
    assert after.hexdigest() == hashlib.md5(target.getvalue()).hexdigest()
    assert stats.bytes_read == len(DATA)
    assert stats.bytes_written == len(target.getvalue()) < len(DATA)
    restored = io.BytesIO()
    await process_stream(io.BytesIO(target.getvalue()), restored, [gzip_decompress(65536)])
    assert restored.getvalue() == DATA


async def test_a_failure_aborts_a_path_and_keeps_the_old_file(tmp_path: Path) -> None:
    (tmp_path / "out.bin").write_bytes(b"old")
    with pytest.raises(ValidationError):
        await process_stream(io.BytesIO(DATA), tmp_path / "out.bin", [limit_size(1000)])
    assert (tmp_path / "out.bin").read_bytes() == b"old"
    assert names(tmp_path) == ["out.bin"]


async def test_a_failure_leaves_no_storage_key() -> None:
    storage = FsspecStorage("memory://")
    with pytest.raises(ValidationError):
        await process_stream(
            generated(5_000_000), "big.bin", [limit_size(1_000_000)], storage=storage
        )
    assert not await storage.file_exists("big.bin")


async def test_cancellation_closes_every_transform_and_aborts(tmp_path: Path) -> None:
    closed: list[str] = []
    flowing = asyncio.Event()
    passed = [0]

    def tracked(name: str):  # type: ignore[no-untyped-def]
        async def stage(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    passed[0] += 1
                    if passed[0] >= 6:  # a few chunks reached the destination
                        flowing.set()
                    yield chunk
            finally:
                closed.append(name)

        return stage

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"e" * 65536
                await asyncio.sleep(0.001)
        finally:
            closed.append("source")

    storage = FsspecStorage("memory://")
    await storage.save_file("keep.bin", b"old")
    for destination, owner in [(tmp_path / "keep.bin", None), ("keep.bin", storage)]:
        (tmp_path / "keep.bin").write_bytes(b"old")
        closed.clear()
        flowing.clear()
        passed[0] = 0
        task = asyncio.create_task(
            process_stream(
                endless(), destination, [tracked("first"), tracked("second")], storage=owner
            )
        )
        await asyncio.wait_for(flowing.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sorted(closed) == ["first", "second", "source"]  # each closed once
    assert (tmp_path / "keep.bin").read_bytes() == b"old"
    assert names(tmp_path) == ["keep.bin"]
    assert await storage.get_file("keep.bin") == b"old"


async def test_write_stream_context_manager(tmp_path: Path) -> None:
    async with create_write_stream(tmp_path / "w.bin") as stream:  # type: ignore[attr-defined]
        await stream.write(b"a")
        await stream.write(b"b")
    assert (tmp_path / "w.bin").read_bytes() == b"ab"

    async def interrupted() -> None:
        async with create_write_stream(tmp_path / "w.bin") as stream:  # type: ignore[attr-defined]
            await stream.write(b"partial")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        await interrupted()
    assert (tmp_path / "w.bin").read_bytes() == b"ab"


async def test_an_empty_stream_writes_an_empty_file(tmp_path: Path) -> None:
    stats = await process_stream(io.BytesIO(b""), tmp_path / "empty.bin")
    assert (tmp_path / "empty.bin").read_bytes() == b""
    assert stats.bytes_written == 0


@pytest.mark.parametrize("kind", ["source", "destination"])
async def test_unknown_kinds_are_validation_errors(kind: str) -> None:
    factory = create_read_stream if kind == "source" else create_write_stream
    with pytest.raises(ValidationError) as caught:
        factory(12345)  # type: ignore[operator]
    assert caught.value.details["field"] == kind


@pytest.mark.parametrize(("start", "end", "size"), [(-1, None, 10), (5, 1, 10), (None, None, 0)])
def test_bad_ranges(start: int | None, end: int | None, size: int) -> None:
    with pytest.raises(ValidationError):
        create_read_stream(io.BytesIO(b""), start=start, end=end, chunk_size=size)


async def test_a_missing_path_raises_on_iteration(tmp_path: Path) -> None:
    stream = create_read_stream(tmp_path / "missing.bin")
    with pytest.raises(FileNotFoundError):
        await anext(stream)


async def test_a_file_copy_takes_the_one_thread_path(tmp_path: Path) -> None:
    (tmp_path / "in.bin").write_bytes(DATA)
    (tmp_path / "out.bin").write_bytes(b"old")
    stats = await process_stream(f"file://{tmp_path}/in.bin", f"file://{tmp_path}/out.bin")
    assert (stats.bytes_read, stats.bytes_written) == (len(DATA), len(DATA))
    assert (tmp_path / "out.bin").read_bytes() == DATA
    assert names(tmp_path) == ["in.bin", "out.bin"]
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert (await process_stream(empty, tmp_path / "copy.bin")).bytes_written == 0
    assert (tmp_path / "copy.bin").read_bytes() == b""


async def test_a_file_copy_from_a_missing_path_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await process_stream(tmp_path / "missing.bin", tmp_path / "out.bin")
    with pytest.raises(ValidationError):
        await process_stream(tmp_path / "missing.bin", tmp_path / "out.bin", chunk_size=0)
    assert names(tmp_path) == []


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(10_000):  # a bounded poll, never a fixed sleep
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition was never met")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
async def test_a_cancelled_file_copy_keeps_the_old_file(tmp_path: Path) -> None:
    """A pipe as the source: the copy (in its fallback loop) waits for data we control."""
    source, target = tmp_path / "pipe", tmp_path / "out.bin"
    os.mkfifo(source)
    target.write_bytes(b"old")
    task = asyncio.create_task(process_stream(source, target, chunk_size=4096))
    writer = await asyncio.to_thread(open, source, "wb", buffering=0)  # opens once the copy does
    try:
        writer.write(b"x" * 4096)

        def partial() -> bool:
            return any(path.suffix == ".tmp" and path.stat().st_size for path in tmp_path.iterdir())

        await wait_until(partial)
        task.cancel()
        await asyncio.sleep(0)  # the cancellation reaches the copy (it sets the stop flag)
        writer.close()  # wakes the copy thread at the end of the data: it sees the request
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        writer.close()
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.bin", "pipe"]


async def passed_on(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A transform of the caller's own: the pipeline runs it on the loop."""
    async for chunk in chunks:
        yield chunk


async def test_cpu_transforms_between_files_compose(tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.gz"
    source.write_bytes(DATA)
    target.write_bytes(b"old")
    before, after = hash_stream("sha256"), hash_stream("md5")
    stats = await process_stream(
        source, target, [limit_size(len(DATA)), before, gzip_compress(), after], chunk_size=70_000
    )
    compressed = target.read_bytes()
    assert gzip.decompress(compressed) == DATA
    assert before.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert (before.size, after.size) == (len(DATA), len(compressed))
    assert after.hexdigest() == hashlib.md5(compressed).hexdigest()
    assert (stats.bytes_read, stats.bytes_written) == (len(DATA), len(compressed))
    restored = tmp_path / "restored.bin"
    stats = await process_stream(target, restored, [gzip_decompress(100_000)], chunk_size=4096)
    assert restored.read_bytes() == DATA
    assert (stats.bytes_read, stats.bytes_written) == (len(compressed), len(DATA))
    assert names(tmp_path) == ["in.bin", "out.gz", "restored.bin"]


@pytest.mark.parametrize("transform", ["builtin", "async"])
async def test_a_failing_file_to_file_pipeline_keeps_the_old_file(
    tmp_path: Path, transform: str
) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(DATA)
    target.write_bytes(b"old")
    transforms = [limit_size(1_000_000)]
    if transform == "async":
        transforms.append(passed_on)
    with pytest.raises(ValidationError):
        await process_stream(source, target, transforms, chunk_size=100_000)
    with pytest.raises(ValidationError):
        await process_stream(source, target, [gzip_decompress()])  # not gzip
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["in.bin", "out.bin"]


async def test_an_async_transform_between_files_keeps_order_and_chunk_sizes(
    tmp_path: Path,
) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(DATA)
    sizes: list[int] = []

    async def measured(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            sizes.append(len(chunk))
            yield chunk

    digest = hash_stream("sha256")
    stats = await process_stream(source, target, [measured, digest], chunk_size=65_536)
    assert target.read_bytes() == DATA
    assert digest.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert sum(sizes) == len(DATA)
    assert max(sizes) == 65_536
    assert (stats.bytes_read, stats.bytes_written) == (len(DATA), len(DATA))
    with (tmp_path / "copy.bin").open("wb") as real_file:  # a real file: the writer thread
        await process_stream(source, real_file, [measured])
    assert (tmp_path / "copy.bin").read_bytes() == DATA
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert (await process_stream(empty, target, [measured])).bytes_written == 0
    assert target.read_bytes() == b""


async def test_a_missing_source_or_target_directory_through_a_transform(tmp_path: Path) -> None:
    (tmp_path / "in.bin").write_bytes(DATA)
    with pytest.raises(FileNotFoundError):
        await process_stream(tmp_path / "missing.bin", tmp_path / "out.bin", [passed_on])
    with pytest.raises(FileNotFoundError):
        await process_stream(tmp_path / "in.bin", tmp_path / "no" / "out.bin", [passed_on])
    with pytest.raises(FileNotFoundError):
        await process_stream(tmp_path / "in.bin", tmp_path / "no" / "out.bin", [hash_stream()])
    assert names(tmp_path) == ["in.bin"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
@pytest.mark.parametrize("transform", ["builtin", "async"])
async def test_a_cancelled_file_pipeline_keeps_the_old_file(tmp_path: Path, transform: str) -> None:
    """A pipe as the source, with a built-in or an async transform: the reader thread."""
    source, target = tmp_path / "pipe", tmp_path / "out.bin"
    os.mkfifo(source)
    target.write_bytes(b"old")
    closed: list[str] = []

    async def tracked(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            closed.append("transform")

    transforms = [hash_stream()] if transform == "builtin" else [tracked]
    task = asyncio.create_task(process_stream(source, target, transforms, chunk_size=4096))
    writer = await asyncio.to_thread(open, source, "wb", buffering=0)
    try:
        writer.write(b"x" * 16384)  # fits the pipe; past the temporary file's write buffer

        def partial() -> bool:
            return any(path.suffix == ".tmp" and path.stat().st_size for path in tmp_path.iterdir())

        await wait_until(partial)
        task.cancel()
        await asyncio.sleep(0)
        writer.close()  # wakes a thread blocked on the pipe
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        writer.close()
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.bin", "pipe"]
    assert closed == ([] if transform == "builtin" else ["transform"])
