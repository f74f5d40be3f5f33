"""Transforms: async generator functions that take chunks and yield chunks.

Each factory returns a `Transform`; `process_stream` chains them in order. They hold
at most one chunk (gzip: one chunk of output at a time), so a pipeline's memory is
bounded by the chunk size whatever the size of the stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

from infrakit.errors import ValidationError
from infrakit.streams._protocol import DEFAULT_CHUNK_SIZE, Transform

__all__ = [
    "HashStream",
    "gzip_compress",
    "gzip_decompress",
    "hash_stream",
    "limit_size",
    "throttle",
]

_THREAD_THRESHOLD = 256 * 1024  # chunks at least this large are (de)compressed off the loop
_GZIP = 16 + zlib.MAX_WBITS
_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS


def throttle(bytes_per_second: float, burst: int | None = None) -> Transform:
    """Limit the rate to `bytes_per_second` with a token bucket of `burst` bytes.

    At any moment `t` seconds after the first chunk is asked for, at most
    `burst + bytes_per_second * t` bytes have been let through. Chunks larger than
    the bucket are split. Time spent waiting downstream earns tokens, up to `burst`.

    Args:
        bytes_per_second: the sustained rate.
        burst: the bucket size; a tenth of a second's worth by default.

    Raises:
        ValidationError: a rate or burst that is not positive.
    """
    if not bytes_per_second > 0:
        raise ValidationError(
            "bytes_per_second must be positive", details={"field": "bytes_per_second"}
        )
    capacity = max(1, int(bytes_per_second / 10)) if burst is None else burst
    if capacity < 1:
        raise ValidationError("burst must be at least 1 byte", details={"field": "burst"})

    async def throttled(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        tokens = float(capacity)
        last = time.monotonic()
        async for chunk in chunks:
            view = memoryview(chunk)
            for offset in range(0, len(view), capacity):
                piece = view[offset : offset + capacity]
                now = time.monotonic()
                tokens = min(float(capacity), tokens + (now - last) * bytes_per_second)
                last = now
                tokens -= len(piece)
                if tokens < 0:
                    await asyncio.sleep(-tokens / bytes_per_second)
                yield bytes(piece) if len(piece) != len(chunk) else chunk

    return throttled


def limit_size(max_bytes: int) -> Transform:
    """Let at most `max_bytes` through; one more byte raises `ValidationError`.

    The chunk that crosses the limit is not passed on, so a destination never
    receives more than the limit.
    """
    if max_bytes < 0:
        raise ValidationError("max_bytes may not be negative", details={"field": "max_bytes"})

    async def limited(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in chunks:
            seen += len(chunk)
            if seen > max_bytes:
                raise ValidationError(
                    f"the stream is larger than {max_bytes} bytes",
                    details={"field": "size", "limit": max_bytes},
                )
            yield chunk

    return limited


class HashStream:
    """A transform that passes chunks through unchanged and hashes them.

    `hexdigest()` / `digest()` give the hash of everything that went through; read
    them after the stream ended. Use a new instance per stream. Chunks of 256 KiB or
    more are hashed in a worker thread while they travel on (no copy), so the event
    loop stays free and hashing overlaps reading and writing.
    """

    def __init__(self, algorithm: str = "sha256") -> None:
        try:
            self._hash = hashlib.new(algorithm)
        except (ValueError, TypeError) as error:
            raise ValidationError(
                "unknown hash algorithm", details={"field": "algorithm"}
            ) from error
        self.algorithm = algorithm
        self.size = 0

    def __call__(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return self._hashed(chunks)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def digest(self) -> bytes:
        return self._hash.digest()

    async def _hashed(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Hash each chunk while it is passed on and the next one is read.

        A large chunk is yielded at once and hashed in a worker thread meanwhile
        (hashlib releases the GIL; bytes are immutable, so the thread and the next
        stage may both read them); the hash of one chunk ends before the next one's
        begins, and the last before the stream ends. Nothing is copied.
        """
        hashing: asyncio.Future[None] | None = None
        try:
            async for chunk in chunks:
                if hashing is not None:
                    await hashing
                    hashing = None
                if len(chunk) >= _THREAD_THRESHOLD:
                    hashing = asyncio.ensure_future(asyncio.to_thread(self._hash.update, chunk))
                else:
                    self._hash.update(chunk)
                self.size += len(chunk)
                yield chunk
            if hashing is not None:
                await hashing
                hashing = None
        finally:
            if hashing is not None:  # closed early: let the thread finish with the hash
                await asyncio.wait([hashing])


def hash_stream(algorithm: str = "sha256") -> HashStream:
    """A pass-through transform hashing the stream with any `hashlib` algorithm.

    Raises:
        ValidationError: `hashlib` does not know `algorithm`.
    """
    return HashStream(algorithm)


def gzip_compress(level: int = 6) -> Transform:
    """Compress to the gzip format (`level` 0-9); large chunks compress in a thread."""
    if not 0 <= level <= 9:
        raise ValidationError("level must be between 0 and 9", details={"field": "level"})

    async def compressed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP)
        async for chunk in chunks:
            if len(chunk) >= _THREAD_THRESHOLD:
                output = await asyncio.to_thread(compressor.compress, chunk)
            else:
                output = compressor.compress(chunk)
            if output:
                yield output
        yield compressor.flush()

    return compressed


def gzip_decompress(chunk_size: int = DEFAULT_CHUNK_SIZE) -> Transform:
    """Decompress gzip (or zlib) data, yielding at most `chunk_size` bytes at a time.

    The output is bounded per step, so a small "zip bomb" never expands in memory all
    at once; pair it with `limit_size` to bound the total.

    Raises:
        ValidationError: the data is not valid gzip, or it is truncated.
    """

    async def decompressed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        decompressor, fed = zlib.decompressobj(_GZIP_OR_ZLIB), False
        async for chunk in chunks:
            pending = chunk
            while pending:
                if decompressor.eof:  # concatenated gzip members, as gunzip reads them
                    decompressor, fed = zlib.decompressobj(_GZIP_OR_ZLIB), False
                output = await _inflate(decompressor, pending, chunk_size)
                fed = True
                eof = decompressor.eof
                pending = decompressor.unused_data if eof else decompressor.unconsumed_tail
                if output:
                    yield output
        if fed and not decompressor.eof:
            raise ValidationError("the gzip stream is truncated", details={"field": "data"})

    return decompressed


async def _inflate(decompressor: Any, data: bytes, limit: int) -> bytes:
    try:
        if len(data) >= _THREAD_THRESHOLD:
            output: bytes = await asyncio.to_thread(decompressor.decompress, data, limit)
        else:
            output = decompressor.decompress(data, limit)
    except zlib.error as error:
        raise ValidationError("the data is not valid gzip", details={"field": "data"}) from error
    return output
