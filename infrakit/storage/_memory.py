"""Files in this process's memory, in a private fsspec `MemoryFileSystem` store.

Each storage gets its own store: fsspec's memory filesystem is process-global by
default (every instance sees the same files), which would let two storages, or two
tests, read each other's files. The calls are dictionary operations that never block,
so they run on the event loop. A save collects the chunks and places the file in one
step at the end, so a failed or cancelled save leaves nothing behind.

The hot calls (save, read) go to the store directly, with the same checks fsspec's
`open` makes (a file where a directory should be, a directory where the file should
be), instead of through `open`, which strips protocols and builds file objects that
only matter for real filesystems. A read hands back the stored bytes without a copy.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Mapping

from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

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
        return self._place(key, data, content_type, metadata, overwrite)

    async def write_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        keep_type: bool,
        overwrite: bool,
    ) -> Written:
        return self._place(key, data, content_type, metadata, overwrite)

    async def read(self, key: str) -> bytes:
        data: bytes = self._file(key).getvalue()  # the stored bytes object itself: no copy
        return data

    async def stat(self, key: str) -> StoredFile:
        if _path(key) not in self.fs.store:
            raise FileNotFoundError(key)
        return self._kept[key]

    async def size(self, key: str) -> int:
        return (await self.stat(key)).size

    async def stream(
        self, key: str, start: int, stop: int, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        data = memoryview(self._file(key).getvalue())
        for offset in range(start, min(stop, len(data)), chunk_size):
            yield bytes(data[offset : min(offset + chunk_size, stop)])

    async def delete(self, key: str) -> bool:
        path = _path(key)
        if path not in self.fs.store:
            return False
        self.fs.rm_file(path)
        self._kept.pop(key, None)
        return True

    async def exists(self, key: str) -> bool:
        return _path(key) in self.fs.store

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

    def _file(self, key: str) -> MemoryFile:
        try:
            file: MemoryFile = self.fs.store[_path(key)]
        except KeyError:
            raise FileNotFoundError(key) from None
        return file

    def _place(
        self,
        key: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str] | None,
        overwrite: bool,
    ) -> Written:
        path = _path(key)
        store = self.fs.store
        if not overwrite and (path in store or self.fs.exists(path)):
            raise AlreadyStoredError(key)
        self._check_place(path)
        file = MemoryFile(self.fs, path, data)  # shares `data`: BytesIO copies only on write
        store[path] = file
        etag = f'"{next(self._versions):x}"'
        kept = dict(metadata) if metadata else {}
        self._kept[key] = StoredFile(len(data), file.modified, etag, content_type, kept)
        return Written(len(data), etag)

    def _check_place(self, path: str) -> None:
        """Refuse what fsspec's `open(path, "wb")` refuses: a directory, a file as parent."""
        if path in self.fs.pseudo_dirs:
            raise IsADirectoryError(path)
        store = self.fs.store
        parent = path.rfind("/")
        while parent > 0:
            if path[:parent] in store:
                raise FileExistsError(path[:parent])
            parent = path.rfind("/", 0, parent)


def _path(key: str) -> str:
    return "/" + key
