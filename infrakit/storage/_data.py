"""Turning what `save_file` accepts into a stream of byte chunks."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterable, AsyncIterator
from typing import IO, cast

from infrakit.errors import ValidationError
from infrakit.storage._protocol import DEFAULT_CHUNK_SIZE, SaveData

__all__ = ["as_chunks", "in_memory"]


def in_memory(data: SaveData) -> bytes | None:
    """The bytes of `data` when it is already whole in memory, else None (stream it)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    return None


def as_chunks(data: SaveData, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Chunks of `data`; file objects are read in a thread unless they live in memory.

    Raises:
        ValidationError: `data` is none of the accepted kinds (raised on first use).
    """
    whole = in_memory(data)
    if whole is not None:
        return _single(whole)
    if hasattr(data, "__aiter__"):
        return _checked(cast(AsyncIterable[bytes], data))
    if hasattr(data, "read"):
        return _read_file(cast(IO[bytes], data), chunk_size)
    raise _invalid()


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _checked(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for chunk in source:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise _invalid()
        if chunk:
            yield bytes(chunk)


async def _read_file(file: IO[bytes], chunk_size: int) -> AsyncIterator[bytes]:
    in_process = isinstance(file, io.BytesIO)
    while True:
        chunk = (
            file.read(chunk_size) if in_process else await asyncio.to_thread(file.read, chunk_size)
        )
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise _invalid()
        if not chunk:
            return
        yield bytes(chunk)


def _invalid() -> ValidationError:
    return ValidationError(
        "data must be bytes, str, a binary file object or an async iterable of bytes",
        details={"field": "data"},
    )
