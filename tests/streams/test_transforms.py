"""Transforms one by one: throttle, progress, progress_bar, gzip, hash, limit_size."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import time
import zlib
from collections.abc import AsyncIterator

import pytest

from infrakit.errors import ValidationError
from infrakit.streams import (
    gzip_compress,
    gzip_decompress,
    hash_stream,
    limit_size,
    process_stream,
    progress,
    progress_bar,
    throttle,
)

MIB = 1024 * 1024


async def chunks(total: int, size: int) -> AsyncIterator[bytes]:
    block = bytes(size)
    for offset in range(0, total, size):
        yield block[: min(size, total - offset)]


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def timed(stream: AsyncIterator[bytes]) -> tuple[float, list[tuple[float, int]]]:
    """When the first chunk was asked for, and (time, bytes so far) after each chunk."""
    marks: list[tuple[float, int]] = []
    started = time.monotonic()
    total = 0
    async for chunk in stream:
        total += len(chunk)
        marks.append((time.monotonic(), total))
    return started, marks


@pytest.mark.slow
async def test_throttle_holds_one_mib_per_second_over_three_seconds() -> None:
    rate, burst = MIB, 96 * 1024  # at most 3.2% over; absorbs stalls up to 94 ms
    started, marks = await timed(throttle(rate, burst=burst)(chunks(3 * MIB, 256 * 1024)))
    for moment, total in marks:  # never ahead of the bucket, whatever the machine's load
        assert total <= burst + rate * (moment - started) + 1
    elapsed = marks[-1][0] - started
    achieved = marks[-1][1] / elapsed
    assert achieved == pytest.approx(rate, rel=0.05)


async def test_throttle_never_runs_ahead_of_the_bucket() -> None:
    rate, burst = 4 * MIB, 32 * 1024
    started, marks = await timed(throttle(rate, burst=burst)(chunks(MIB, 100_000)))
    assert marks[-1][1] == MIB
    for moment, total in marks:
        assert total <= burst + rate * (moment - started) + 1
    assert marks[-1][0] - started >= (MIB - burst) / rate


async def test_throttle_splits_chunks_larger_than_the_bucket() -> None:
    sizes = [len(chunk) async for chunk in throttle(50 * MIB, burst=1000)(chunks(10_000, 10_000))]
    assert sizes == [1000] * 10


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-5, None), (100, 0)])
def test_throttle_refuses_bad_settings(rate: float, burst: int | None) -> None:
    with pytest.raises(ValidationError):
        throttle(rate, burst=burst)


async def test_progress_reports_fraction_and_bytes_and_once_at_the_end() -> None:
    calls: list[tuple[float | None, int]] = []
    transform = progress(
        lambda fraction, done: calls.append((fraction, done)), total=1000, min_interval=0
    )
    assert len(await collect(transform(chunks(1000, 250)))) == 1000
    assert calls == [(0.25, 250), (0.5, 500), (0.75, 750), (1.0, 1000), (1.0, 1000)]


async def test_progress_with_an_unknown_total_and_a_long_interval() -> None:
    calls: list[tuple[float | None, int]] = []
    transform = progress(lambda fraction, done: calls.append((fraction, done)), min_interval=3600)
    await collect(transform(chunks(1000, 100)))
    assert calls == [(None, 100), (None, 1000)]  # the first chunk, then the end


async def test_progress_awaits_coroutine_callbacks() -> None:
    seen: list[int] = []

    async def callback(fraction: float | None, done: int) -> None:
        seen.append(done)

    await collect(progress(callback, min_interval=0)(chunks(30, 10)))
    assert seen == [10, 20, 30, 30]


async def test_progress_of_an_empty_stream_still_ends() -> None:
    calls: list[tuple[float | None, int]] = []
    await collect(progress(lambda *call: calls.append(call), total=0)(chunks(0, 10)))
    assert calls == [(1.0, 0)]


async def test_progress_bar_prints_plain_lines_when_not_a_terminal() -> None:
    output = io.StringIO()
    bar = progress_bar(total=2 * MIB, description="upload", file=output, min_interval=0)
    await collect(bar(chunks(2 * MIB, MIB)))
    lines = output.getvalue().splitlines()
    assert lines[0] == "upload: 1.0 MiB of 2.0 MiB (50%)"
    assert lines[-1] == "upload: 2.0 MiB of 2.0 MiB (100%)"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_bar_draws_a_tqdm_bar_on_a_terminal() -> None:
    output = Terminal()
    bar = progress_bar(total=MIB, description="download", file=output)
    await collect(bar(chunks(MIB, 64 * 1024)))
    text = output.getvalue()
    assert "download" in text
    assert "100%" in text


async def test_gzip_round_trip_matches_the_standard_library() -> None:
    data = b"infrakit " * 200_000
    compressed = await collect(gzip_compress(level=9)(chunks_of(data, 300_000)))
    assert gzip.decompress(compressed) == data
    assert await collect(gzip_decompress()(chunks_of(gzip.compress(data), 1000))) == data


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def test_gzip_decompress_bounds_each_output_chunk() -> None:
    bomb = gzip.compress(bytes(50 * MIB))  # ~50 KiB that expands a thousand-fold
    sizes = [len(chunk) async for chunk in gzip_decompress(chunk_size=MIB)(chunks_of(bomb, 4096))]
    assert sum(sizes) == 50 * MIB
    assert max(sizes) <= MIB


async def test_gzip_decompress_reads_concatenated_members() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second")
    assert await collect(gzip_decompress()(chunks_of(data, 7))) == b"first second"


@pytest.mark.parametrize(
    "data",
    [b"definitely not gzip", gzip.compress(b"x" * 10_000)[:-20]],
    ids=["invalid", "truncated"],
)
async def test_bad_gzip_is_a_validation_error(data: bytes) -> None:
    with pytest.raises(ValidationError):
        await collect(gzip_decompress()(chunks_of(data, 100)))


def test_gzip_level_is_checked() -> None:
    with pytest.raises(ValidationError):
        gzip_compress(level=11)


async def test_hash_stream_exposes_the_digest() -> None:
    digest = hash_stream("sha256")
    data = await collect(digest(chunks_of(b"abc" * 1000, 77)))
    assert data == b"abc" * 1000
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert digest.digest() == hashlib.sha256(data).digest()
    assert digest.size == 3000
    assert hash_stream("blake2b").algorithm == "blake2b"


async def test_hash_stream_hashes_large_chunks_in_order_while_they_travel() -> None:
    """Chunks from 256 KiB up are hashed in a thread while passed on: still in order."""
    blocks = [os.urandom(size) for size in (300_000, 1000, 2 * MIB, 256 * 1024, 5)]

    async def source() -> AsyncIterator[bytes]:
        for block in blocks:
            yield block

    digest = hash_stream("sha256")
    passed = [chunk async for chunk in digest(source())]
    assert all(out is block for out, block in zip(passed, blocks, strict=True))  # no copies
    assert digest.hexdigest() == hashlib.sha256(b"".join(blocks)).hexdigest()
    assert digest.size == sum(map(len, blocks))


def test_an_unknown_algorithm_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        hash_stream("no-such-hash")


async def test_limit_size_passes_up_to_the_limit_and_refuses_past_it() -> None:
    assert len(await collect(limit_size(1000)(chunks(1000, 100)))) == 1000
    passed: list[int] = []

    async def consume() -> None:
        async for chunk in limit_size(1000)(chunks(1001, 100)):
            passed.append(len(chunk))

    with pytest.raises(ValidationError) as caught:
        await consume()
    assert sum(passed) == 1000  # the crossing chunk is never passed on
    assert caught.value.details == {"field": "size", "limit": 1000}


async def test_throttle_inside_process_stream() -> None:
    target = io.BytesIO()
    stats = await process_stream(io.BytesIO(bytes(200_000)), target, [throttle(10 * MIB)])
    assert stats.bytes_written == 200_000
    assert zlib.crc32(target.getvalue()) == zlib.crc32(bytes(200_000))
