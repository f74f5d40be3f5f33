"""The storage contract every backend implements, what it returns, and its statistics."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FileMetadata",
    "FileSaveResult",
    "SaveData",
    "StorageProvider",
    "StorageStats",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk of `get_file_stream` unless told otherwise."""

SaveData: TypeAlias = bytes | bytearray | memoryview | str | IO[bytes] | AsyncIterable[bytes]
"""What `save_file` accepts: text is stored as UTF-8; file objects and async iterables
are streamed chunk by chunk, never held whole in memory."""


@dataclass(frozen=True, slots=True)
class FileSaveResult:
    """What `save_file` stored: the normalised key, its size, type and entity tag."""

    path: str
    size: int
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class FileMetadata:
    """What is known about a stored file without reading it.

    `modified` is timezone-aware (UTC); `etag` equals the one `save_file` returned;
    `metadata` is the mapping given to `save_file` (string keys and values).
    """

    path: str
    size: int
    content_type: str
    modified: datetime
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StorageStats:
    """Counters of one storage instance since it was created (never a backend call)."""

    saves: int
    reads: int
    deletes: int
    bytes_written: int
    bytes_read: int
    not_found: int
    errors: int


@runtime_checkable
class StorageProvider(Protocol):
    """Files under keys: save, read (whole, streamed or by range), inspect, list, sign.

    Paths are keys relative to the storage root (`images/a.png`); an unsafe one raises
    `InvalidPathError`. A missing file raises `StorageNotFoundError`; a failing backend
    raises `StorageError` with the backend's exception chained.
    """

    async def save_file(
        self,
        path: str,
        data: SaveData,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = True,
    ) -> FileSaveResult: ...

    async def get_file(self, path: str) -> bytes: ...

    async def get_file_stream(
        self,
        path: str,
        *,
        start: int | None = None,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]: ...

    async def get_file_metadata(self, path: str) -> FileMetadata: ...

    async def delete_file(self, path: str) -> bool: ...

    async def file_exists(self, path: str) -> bool: ...

    async def list_files(self, directory: str = "", pattern: str | None = None) -> list[str]: ...

    async def get_file_url(self, path: str, expires_in: float | None = None) -> str: ...

    def verify_signed_url(self, url: str, *, method: str = "GET") -> str: ...

    def get_stats(self) -> StorageStats: ...

    async def health(self) -> bool: ...

    async def close(self) -> None: ...
