"""A 1 GiB stream through process_stream grows resident memory by less than 50 MiB."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import pytest

from infrakit.streams import (
    gzip_compress,
    gzip_decompress,
    hash_stream,
    limit_size,
    process_stream,
    progress,
)

GIB = 1024**3
MIB = 1024**2
STATM = Path("/proc/self/statm")

pytestmark = pytest.mark.skipif(not STATM.exists(), reason="reads RSS from /proc (Linux)")


def open_devnull() -> BinaryIO:
    return open(os.devnull, "wb")


def resident_bytes() -> int:
    return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def generated(total: int, chunk_size: int) -> AsyncIterator[bytes]:
    """Fresh bytes per chunk (as a real reader makes them), none kept."""
    for offset in range(0, total, chunk_size):
        yield os.urandom(16) * (min(chunk_size, total - offset) // 16)


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_one_gib_stream_keeps_memory_bounded() -> None:
    gc.collect()
    baseline = resident_bytes()
    peak = [baseline]

    def sample(fraction: float | None, done: int) -> None:
        peak[0] = max(peak[0], resident_bytes())

    digest = hash_stream("sha256")
    with open_devnull() as sink:
        stats = await process_stream(
            generated(GIB, MIB),
            sink,
            [
                limit_size(GIB),
                gzip_compress(level=1),
                gzip_decompress(chunk_size=MIB),
                digest,
                progress(sample, total=GIB, min_interval=0.05),
            ],
        )
    assert stats.bytes_read == GIB
    assert stats.bytes_written == GIB
    assert digest.size == GIB
    growth = peak[0] - baseline
    assert growth < 50 * MIB, f"resident memory grew by {growth / MIB:.1f} MiB"
