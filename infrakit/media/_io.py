"""Sources and targets: paths, bytes and file objects, opened the same way for every operation.

These are blocking helpers, called in the worker thread. Storage keys never reach
them: the async layer downloads a key to bytes first and uploads a target's bytes
after (see `_processor.py`).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, TypeAlias

from infrakit.media._errors import MediaProcessingError, MediaTooLargeError
from infrakit.media._options import invalid

__all__ = ["Source", "SourceFile", "Target", "TargetFile", "open_source", "open_target"]

Source: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
"""A path, the bytes themselves, or a readable binary file object (read from its start)."""

Target: TypeAlias = str | os.PathLike[str] | IO[bytes]
"""A path (written atomically) or a writable binary file object."""

HEAD_SIZE = 64


@dataclass(frozen=True, slots=True)
class SourceFile:
    """An opened source: a seekable binary file at offset 0, and its path when on disk."""

    file: IO[bytes]
    path: str | None
    size: int
    head: bytes


@dataclass(slots=True)
class TargetFile:
    """Where a writer puts its output: a temporary path beside the target, or the object."""

    destination: str | IO[bytes]
    start: int = 0

    def written(self) -> int:
        """Bytes the writer produced."""
        if isinstance(self.destination, str):
            return os.path.getsize(self.destination)
        return self.destination.tell() - self.start


@contextmanager
def open_source(source: Source, max_bytes: int) -> Iterator[SourceFile]:
    """Open `source` for reading, refusing one larger than `max_bytes` before reading it."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            file = open(path, "rb")  # noqa: SIM115 (closed below, after the caller is done)
        except OSError as error:
            raise MediaProcessingError("the source file cannot be read", cause=error) from error
        with file:
            yield _checked(file, path, os.fstat(file.fileno()).st_size, max_bytes)
        return
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source)
        yield _checked(io.BytesIO(data), None, data.nbytes, max_bytes)
        return
    if not callable(getattr(source, "read", None)):
        raise invalid("source", "must be a path, bytes or a readable binary file object")
    yield _from_file_object(source, max_bytes)


def _from_file_object(source: IO[bytes], max_bytes: int) -> SourceFile:
    """A seekable object is used in place; anything else is read (bounded) into memory."""
    try:
        seekable = source.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    if seekable:
        size = source.seek(0, os.SEEK_END)
        source.seek(0)
        return _checked(source, None, size, max_bytes)
    data = source.read(max_bytes + 1)
    if not isinstance(data, bytes):
        raise invalid("source", "must be opened in binary mode")
    return _checked(io.BytesIO(data), None, len(data), max_bytes)


def _checked(file: IO[bytes], path: str | None, size: int, max_bytes: int) -> SourceFile:
    if size > max_bytes:
        raise MediaTooLargeError(
            f"the source is {size} bytes, over the limit of {max_bytes}",
            details={"size": size, "max_input_bytes": max_bytes},
        )
    if size == 0:
        raise MediaProcessingError("the source is empty", details={"size": 0})
    head = file.read(HEAD_SIZE)
    if not isinstance(head, bytes):
        raise invalid("source", "must be opened in binary mode")
    file.seek(0)
    return SourceFile(file, path, size, head)


@contextmanager
def open_target(target: Target) -> Iterator[TargetFile]:
    """Give the writer a destination; a path target appears only once writing succeeded.

    A path is written to a temporary file in the same directory and renamed over the
    target at the end, so a failed or timed-out operation leaves no partial file and
    the old content intact. A file object is written in place from its position.
    """
    if isinstance(target, str | os.PathLike):
        final = os.fspath(target)
        directory = os.path.dirname(final) or "."
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{PurePath(final).name}.", suffix=".part", dir=directory
        )
        os.close(descriptor)
        try:
            yield TargetFile(temporary)
            os.replace(temporary, final)
        except BaseException:
            _remove_quietly(temporary)
            raise
        return
    if not callable(getattr(target, "write", None)):
        raise invalid("target", "must be a path or a writable binary file object")
    yield TargetFile(target, _position(target))


def _position(file: IO[bytes]) -> int:
    try:
        return file.tell()
    except (OSError, ValueError):
        return 0


def _remove_quietly(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)
