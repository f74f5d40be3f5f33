"""Streams: copy a file with a progress bar, a checksum, compression and a rate limit.

Run: `python examples/stream_copy_with_progress.py`
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path

from infrakit.storage import FsspecStorage
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


async def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        source = directory / "export.csv"
        source.write_bytes(
            b"id,name,score\n"
            + b"".join(b"%d,user%d,%d\n" % (i, i, i % 97) for i in range(200_000))
        )
        size = source.stat().st_size

        # A copy with a bar on a terminal (tqdm, the `progress` extra), plain lines otherwise.
        digest = hash_stream("sha256")
        stats = await process_stream(
            source,
            directory / "export.csv.gz",
            [digest, progress_bar(total=size, description="compress"), gzip_compress()],
        )
        print(
            f"compressed {stats.bytes_read} -> {stats.bytes_written} bytes "
            f"in {stats.duration:.3f} s ({stats.throughput / MIB:.1f} MiB/s written)"
        )
        assert digest.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()
        print(f"sha256 of the original: {digest.hexdigest()[:16]}...")

        # Into storage, rate-limited, with a progress callback, refusing anything too big.
        storage = FsspecStorage("memory://")
        reports: list[str] = []
        stats = await process_stream(
            directory / "export.csv.gz",
            "archive/export.csv",
            [
                limit_size(10 * MIB),
                gzip_decompress(),
                throttle(32 * MIB),
                progress(lambda fraction, done: reports.append(f"{done} bytes"), min_interval=0.05),
            ],
            storage=storage,
        )
        print(
            f"restored into storage: {stats.bytes_written} bytes, {len(reports)} progress reports"
        )
        assert await storage.get_file("archive/export.csv") == source.read_bytes()
        print("stream example done")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main())
