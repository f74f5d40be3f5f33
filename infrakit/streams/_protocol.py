"""The shapes a stream pipeline is built from: sources, sinks, transforms, statistics."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Destination",
    "Source",
    "StreamStats",
    "Transform",
    "WriteStream",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk read from a path, URL, file object or storage key."""

Transform: TypeAlias = Callable[[AsyncIterator[bytes]], AsyncIterator[bytes]]
"""A stage of a pipeline: takes the chunks so far, yields new ones (an async generator
function, as `throttle(...)`, `gzip_compress()` and the other factories return)."""


@runtime_checkable
class WriteStream(Protocol):
    """Where `process_stream` writes: `close()` commits, `abort()` discards.

    Also an async context manager: it commits on a normal exit and aborts on an error.
    """

    async def write(self, chunk: bytes) -> None: ...

    async def close(self) -> None: ...

    async def abort(self) -> None: ...


Source: TypeAlias = str | os.PathLike[str] | IO[bytes] | AsyncIterable[bytes]
"""A path, an fsspec URL (`memory://`, `s3://`...), a storage key (with `storage=`), a
binary file object, or an async iterable of bytes."""

Destination: TypeAlias = str | os.PathLike[str] | IO[bytes] | WriteStream
"""A path, an fsspec URL, a storage key (with `storage=`), a binary file object, or a
`WriteStream`."""


@dataclass(frozen=True, slots=True)
class StreamStats:
    """What one `process_stream` moved: bytes in and out, seconds, bytes per second out."""

    bytes_read: int
    bytes_written: int
    duration: float
    throughput: float
