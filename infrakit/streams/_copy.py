"""The fast path of `process_stream`: a local file copied to a local path, no transforms.

With nothing to do between the two ends, handing each chunk from a worker thread to
the event loop and back costs more than the copy itself. Here the whole copy runs in
one worker thread, reading into one reused buffer and writing it out. The guarantees
are the pipeline's: memory bounded by one chunk, the target written to a temporary file beside
it and renamed into place, and cancellation honoured between chunks, after which the
temporary file is removed and the old target is left as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading

from infrakit.streams._write import temporary_beside

__all__ = ["copy_path"]


class _StoppedError(Exception):
    """The copy was cancelled between two chunks."""


async def copy_path(source: str, target: str, chunk_size: int) -> int:
    """Copy `source` to `target` atomically in one worker thread; the bytes copied."""
    stop = threading.Event()
    copying = asyncio.ensure_future(asyncio.to_thread(_copy, source, target, chunk_size, stop))
    try:
        return await asyncio.shield(copying)
    except asyncio.CancelledError:
        stop.set()  # the thread stops within one chunk and removes its temporary file
        # If the copy finished before it saw the request, the new file is in place,
        # as for a cancelled save that had already committed.
        await asyncio.wait([copying])
        if not copying.cancelled():
            copying.exception()  # retrieved: the cancellation is what the caller sees
        raise


def _copy(source: str, target: str, chunk_size: int, stop: threading.Event) -> int:
    with open(source, "rb", buffering=0) as reader:
        temporary = temporary_beside(target)
        try:
            with open(temporary, "wb", buffering=0) as writer:
                copied = _transfer(reader.fileno(), writer.fileno(), chunk_size, stop)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    return copied


def _transfer(reader: int, writer: int, chunk_size: int, stop: threading.Event) -> int:
    """Read into one reused buffer and write it out: no allocation per chunk.

    Measured faster than `os.sendfile` for page-cache copies (a 1 MiB buffer stays in
    the CPU cache), and it works for every kind of file, pipes included.
    """
    copied = 0
    buffer = memoryview(bytearray(chunk_size))
    while size := _checked(stop, os.readv(reader, [buffer])):
        view = buffer[:size]
        while view:
            view = view[os.write(writer, view) :]
        copied += size
    return copied


def _checked(stop: threading.Event, size: int) -> int:
    if stop.is_set():
        raise _StoppedError
    return size
