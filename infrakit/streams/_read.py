"""Read streams: chunks from a path, an fsspec URL, a storage key or a file object."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterable, AsyncIterator
from typing import IO, TYPE_CHECKING, Any, cast

from infrakit.errors import ValidationError
from infrakit.streams._protocol import DEFAULT_CHUNK_SIZE, Source

if TYPE_CHECKING:
    from infrakit.storage import StorageProvider

__all__ = ["check_chunk_size", "create_read_stream", "is_url", "local_path"]


def create_read_stream(
    source: Source,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    start: int | None = None,
    end: int | None = None,
    storage: StorageProvider | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of `source`, `start` to `end` (exclusive), in chunks of `chunk_size`.

    Blocking reads run in a worker thread (in-memory `BytesIO` is read directly). The
    source is opened on first iteration, so an unused stream holds nothing open.

    Args:
        source: a path, an fsspec URL (`memory://x`, `s3://bucket/key`), a storage key
            when `storage` is given, a binary file object (read from its position; not
            closed), or an async iterable of bytes.
        chunk_size: the largest chunk yielded.
        start, end: the byte range; clipped to the data.
        storage: a `StorageProvider` whose keys `source` names.

    Raises:
        ValidationError: a bad range or chunk size, or a source of no known kind.
    """
    _check(chunk_size, start, end)
    first, stop = start or 0, end
    if storage is not None and isinstance(source, str):
        return _from_storage(storage, source, first, stop, chunk_size)
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        if is_url(text):
            return _from_url(text, first, stop, chunk_size)
        return _from_path(text, first, stop, chunk_size)
    if hasattr(source, "__aiter__"):
        return _sliced(cast(AsyncIterable[bytes], source), first, stop)
    if hasattr(source, "read"):
        return _from_file(source, first, stop, chunk_size)
    raise ValidationError(
        "a source must be a path, URL, storage key, binary file or async iterable of bytes",
        details={"field": "source"},
    )


def is_url(text: str) -> bool:
    """True for `scheme://...` other than `file://` (which is a path)."""
    scheme, separator, _ = text.partition("://")
    return bool(separator) and scheme.isidentifier() and scheme != "file"


def local_path(text: str) -> str:
    return text.removeprefix("file://")


async def _from_path(
    path: str, start: int, stop: int | None, chunk_size: int
) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(open, local_path(path), "rb")
    try:
        async for chunk in _read(file, start, stop, chunk_size):
            yield chunk
    finally:
        file.close()


async def _from_url(
    url: str, start: int, stop: int | None, chunk_size: int
) -> AsyncIterator[bytes]:
    import fsspec

    opened = fsspec.open(url, "rb")
    file = await asyncio.to_thread(opened.open)
    try:
        async for chunk in _read(file, start, stop, chunk_size):
            yield chunk
    finally:
        await asyncio.to_thread(file.close)


async def _from_file(
    file: IO[bytes], start: int, stop: int | None, chunk_size: int
) -> AsyncIterator[bytes]:
    async for chunk in _read(file, start, stop, chunk_size, relative=True):
        yield chunk


async def _read(
    file: Any, start: int, stop: int | None, chunk_size: int, *, relative: bool = False
) -> AsyncIterator[bytes]:
    in_process = isinstance(file, io.BytesIO)
    if start:
        origin = file.tell() if relative else 0
        file.seek(origin + start)
    remaining = None if stop is None else stop - start
    while remaining is None or remaining > 0:
        size = chunk_size if remaining is None else min(chunk_size, remaining)
        chunk = file.read(size) if in_process else await asyncio.to_thread(file.read, size)
        if not chunk:
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield bytes(chunk)


async def _from_storage(
    storage: StorageProvider, key: str, start: int, stop: int | None, chunk_size: int
) -> AsyncIterator[bytes]:
    chunks = await storage.get_file_stream(key, start=start, end=stop, chunk_size=chunk_size)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        closing = getattr(chunks, "aclose", None)
        if closing is not None:
            await closing()


async def _sliced(
    source: AsyncIterable[bytes], start: int, stop: int | None
) -> AsyncIterator[bytes]:
    position = 0
    iterator = aiter(source)
    try:
        async for chunk in iterator:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise ValidationError(
                    "an async source must yield bytes", details={"field": "source"}
                )
            low, high = position, position + len(chunk)
            position = high
            if high <= start:
                continue
            if stop is not None and low >= stop:
                return
            cut = chunk[max(start - low, 0) : None if stop is None else stop - low]
            if cut:
                yield bytes(cut)
    finally:
        closing = getattr(iterator, "aclose", None)
        if closing is not None:
            await closing()


def check_chunk_size(chunk_size: int) -> None:
    if chunk_size < 1:
        raise ValidationError("chunk_size must be at least 1", details={"field": "chunk_size"})


def _check(chunk_size: int, start: int | None, end: int | None) -> None:
    check_chunk_size(chunk_size)
    if start is not None and start < 0:
        raise ValidationError("start may not be negative", details={"field": "start"})
    if end is not None and end < (start or 0):
        raise ValidationError("end may not be before start", details={"field": "end"})
