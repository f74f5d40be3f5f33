"""The private half of the storage: what each backend (local, memory, S3) must do.

`FsspecStorage` owns everything the backends share (key checks, content types,
signing, error translation, statistics); a backend only moves bytes. Backends raise
the standard `FileNotFoundError` / `FileExistsError` / `OSError` family, which the
storage translates at its boundary.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["AlreadyStoredError", "Backend", "StoredFile", "Written"]


class AlreadyStoredError(FileExistsError):
    """A save with `overwrite=False` found the key taken (any other FileExistsError,
    such as a file where a directory should be, is a backend failure)."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What a backend knows about a key; `content_type` None means "detect it"."""

    size: int
    modified: datetime
    etag: str
    content_type: str | None
    metadata: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Written:
    size: int
    etag: str


class Backend(Protocol):
    """One storage location.

    `write` streams chunks; `write_bytes` is the fast path for data already whole in
    memory (one thread hop locally, one dictionary store in memory), with the same
    guarantees.
    """

    async def write(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        keep_type: bool,
        overwrite: bool,
    ) -> Written: ...

    async def write_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        keep_type: bool,
        overwrite: bool,
    ) -> Written: ...

    async def read(self, key: str) -> bytes: ...

    async def stat(self, key: str) -> StoredFile: ...

    async def size(self, key: str) -> int: ...

    def stream(
        self, key: str, start: int, stop: int, chunk_size: int
    ) -> AsyncGenerator[bytes, None]: ...

    async def delete(self, key: str) -> bool: ...

    async def exists(self, key: str) -> bool: ...

    async def keys(self, directory: str) -> list[str]: ...

    async def presign(self, key: str, expires_in: float) -> str | None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
