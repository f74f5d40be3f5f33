"""Files in this process's memory, through fsspec's `MemoryFileSystem`.

Each storage gets its own store: fsspec's memory filesystem is process-global by
default (every instance sees the same files), which would let two storages, or two
tests, read each other's files. The calls are dictionary operations that never block,
so they run on the event loop. A save collects the chunks and places the file in one
step at the end, so a failed or cancelled save leaves nothing behind.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import UTC, datetime

from fsspec.implementations.memory import MemoryFileSystem

from infrakit.storage._backend import AlreadyStoredError, StoredFile, Written

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Keys as entries of a private in-memory filesystem."""

    def __init__(self) -> None:
        self.fs = MemoryFileSystem(skip_instance_cache=True)
        # Instance attributes shadow the class-level (process-global) store.
        self.fs.store = {}
        self.fs.pseudo_dirs = [""]
        self._kept: dict[str, StoredFile] = {}
        self._versions = itertools.count(1)

    async def write(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        keep_type: bool,
        overwrite: bool,
    ) -> Written:
        parts = [chunk async for chunk in chunks]
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        path = _path(key)
        if not overwrite and self.fs.exists(path):
            raise AlreadyStoredError(key)
        self.fs.pipe_file(path, data)
        etag = f'"{next(self._versions):x}"'
        size = len(data)
        modified = datetime.now(UTC)
        self._kept[key] = StoredFile(size, modified, etag, content_type, dict(metadata or {}))
        return Written(size, etag)

    async def read(self, key: str) -> bytes:
        data: bytes = self.fs.cat_file(_path(key))
        return data

    async def stat(self, key: str) -> StoredFile:
        if not self.fs.isfile(_path(key)):
            raise FileNotFoundError(key)
        return self._kept[key]

    async def size(self, key: str) -> int:
        return (await self.stat(key)).size

    async def stream(
        self, key: str, start: int, stop: int, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        data = memoryview(self.fs.cat_file(_path(key)))
        for offset in range(start, min(stop, len(data)), chunk_size):
            yield bytes(data[offset : min(offset + chunk_size, stop)])

    async def delete(self, key: str) -> bool:
        path = _path(key)
        if not self.fs.isfile(path):
            return False
        self.fs.rm_file(path)
        self._kept.pop(key, None)
        return True

    async def exists(self, key: str) -> bool:
        return bool(self.fs.isfile(_path(key)))

    async def keys(self, directory: str) -> list[str]:
        top = _path(directory) if directory else "/"
        if not self.fs.isdir(top):
            return []
        return [path.lstrip("/") for path in self.fs.find(top)]

    async def presign(self, key: str, expires_in: float) -> str | None:
        return None

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        self.fs.store.clear()
        self._kept.clear()


def _path(key: str) -> str:
    return "/" + key
