"""Write streams: a path (atomic), an fsspec URL, a storage key, or a file object.

Every kind commits on `close()` and discards on `abort()`. A path is written to a
temporary file beside it and renamed into place on close, so an aborted stream leaves
the old file; a storage key is handed to `save_file` as the chunks arrive (one chunk
in flight: backpressure), and an abort cancels the save, which the storage guarantees
leaves no half-written file.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self

from infrakit.errors import ValidationError
from infrakit.streams._protocol import Destination, WriteStream
from infrakit.streams._read import is_url, local_path

if TYPE_CHECKING:
    from infrakit.storage import StorageProvider

__all__ = ["FileTarget", "PathTarget", "create_write_stream", "temporary_beside"]


def create_write_stream(
    destination: Destination,
    *,
    storage: StorageProvider | None = None,
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> WriteStream:
    """A `WriteStream` to `destination`; use it as an async context manager.

    Args:
        destination: a path, an fsspec URL, a storage key when `storage` is given, a
            binary file object (flushed on close, never closed), or a `WriteStream`
            (returned as it is).
        storage: a `StorageProvider` whose keys `destination` names.
        content_type, metadata: passed to `save_file` for a storage key.

    Raises:
        ValidationError: a destination of no known kind.
    """
    if storage is not None and isinstance(destination, str):
        return _StorageSink(storage, destination, content_type, metadata)
    if isinstance(destination, str | os.PathLike):
        text = os.fspath(destination)
        return _UrlSink(text) if is_url(text) else _PathSink(local_path(text))
    if isinstance(destination, WriteStream):
        return destination
    if hasattr(destination, "write"):
        return _FileSink(destination)
    raise ValidationError(
        "a destination must be a path, URL, storage key, binary file or WriteStream",
        details={"field": "destination"},
    )


class _Sink:
    """`async with` commits on success and aborts on failure or cancellation."""

    async def write(self, chunk: bytes) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def abort(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.close()
        else:
            await asyncio.shield(self.abort())


class _FileSink(_Sink):
    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self._in_process = isinstance(file, io.BytesIO)

    async def write(self, chunk: bytes) -> None:
        if self._in_process:
            self.file.write(chunk)
        else:
            await asyncio.to_thread(self.file.write, chunk)

    async def close(self) -> None:
        await asyncio.to_thread(self.file.flush)

    async def abort(self) -> None:
        """The caller owns the file: what was written stays."""


class _PathSink(_Sink):
    """A `PathTarget` driven from the loop, each blocking call in a worker thread."""

    def __init__(self, path: str) -> None:
        self.target = PathTarget(path)
        self._in_flight: asyncio.Future[Any] | None = None

    async def write(self, chunk: bytes) -> None:
        await self._run(self.target.write, chunk)

    async def close(self) -> None:
        await self._run(self.target.commit)

    async def abort(self) -> None:
        if self._in_flight is not None:
            await asyncio.wait([self._in_flight])
        await asyncio.to_thread(self.target.discard)

    async def _run(self, function: Any, *arguments: Any) -> Any:
        # Shielded, so a cancelled stream waits for the thread before closing its file.
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(function, *arguments))
        return await asyncio.shield(self._in_flight)


class PathTarget:
    """A temporary file beside `path`, renamed over it on `commit()`; blocking calls."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.temporary = temporary_beside(path)
        self._file: IO[bytes] | None = None

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            self._file = open(self.temporary, "wb")  # noqa: SIM115 - closed by commit or discard
        self._file.write(chunk)

    def commit(self) -> None:
        if self._file is None:  # nothing was written: an empty file
            with open(self.temporary, "wb"):
                pass
        else:
            self._file.close()
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temporary)


class FileTarget:
    """A caller's binary file: written, flushed on `commit()`, never closed; blocking calls."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)

    def commit(self) -> None:
        self.file.flush()

    def discard(self) -> None:
        """The caller owns the file: what was written stays."""


class _UrlSink(_Sink):
    """An fsspec file opened for writing; blocking calls run in a thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._file: Any = None

    async def write(self, chunk: bytes) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(self._open)
        await asyncio.to_thread(self._file.write, chunk)

    async def close(self) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(self._open)
        await asyncio.to_thread(self._file.close)

    async def abort(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(_discard_url_file, self._file, self.url)

    def _open(self) -> Any:
        import fsspec

        return fsspec.open(self.url, "wb").open()


def temporary_beside(path: str) -> str:
    """A temporary file name in `path`'s directory (so the rename stays on one filesystem)."""
    directory = os.path.dirname(os.path.abspath(path))
    return os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")


def _discard_url_file(file: Any, url: str) -> None:
    """Buffered remote files can drop their upload; others are closed and removed."""
    discard = getattr(file, "discard", None)
    if discard is not None:
        discard()
        return
    import fsspec

    file.close()
    filesystem, path = fsspec.core.url_to_fs(url)
    if filesystem.exists(path):
        filesystem.rm_file(path)


class _StorageSink(_Sink):
    """Chunks handed to `storage.save_file` through a queue of one (backpressure)."""

    def __init__(
        self,
        storage: StorageProvider,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
    ) -> None:
        self.storage = storage
        self.key = key
        self.result: Any = None
        self.content_type = content_type
        self.metadata = metadata
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        self._task: asyncio.Task[Any] | None = None

    async def write(self, chunk: bytes) -> None:
        await self._send(chunk)

    async def close(self) -> None:
        await self._send(None)
        assert self._task is not None
        self.result = await self._task

    async def abort(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _send(self, item: bytes | None) -> None:
        if self._task is None:
            save = self.storage.save_file(
                self.key, self._chunks(), content_type=self.content_type, metadata=self.metadata
            )
            self._task = asyncio.create_task(save)
        put = asyncio.ensure_future(self._queue.put(item))
        try:
            await asyncio.wait([put, self._task], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            put.cancel()
            raise
        if not put.done():
            put.cancel()
            self._task.result()  # the save ended early: raise its error
            raise RuntimeError("the storage save ended before the stream")

    async def _chunks(self) -> AsyncIterator[bytes]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk
