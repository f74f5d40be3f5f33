"""`FsspecStorage`: one storage over local disk (`file://`), memory (`memory://`) and S3.

The storage owns what every backend shares: key checks, content types, signed URLs,
error translation, statistics and health. The backends (`_local`, `_memory`, `_s3`)
only move bytes.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote, urlsplit

from infrakit._internal.secrets import is_sensitive_key, mask_dsn, register_dsn, register_secret
from infrakit.errors import AppError, ConfigurationError, ValidationError
from infrakit.storage._backend import Backend
from infrakit.storage._content_type import SNIFF_BYTES, detect_content_type
from infrakit.storage._data import as_chunks, in_memory
from infrakit.storage._paths import normalize_directory, normalize_key
from infrakit.storage._protocol import (
    DEFAULT_CHUNK_SIZE,
    FileMetadata,
    FileSaveResult,
    SaveData,
    StorageStats,
)
from infrakit.storage._signing import UrlSigner
from infrakit.storage._translate import translate

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["DEFAULT_URL_EXPIRY", "FsspecStorage", "LocalStorage"]

DEFAULT_URL_EXPIRY = 3600.0
"""Seconds a URL from `get_file_url` stays valid when no `expires_in` is given."""

_CREDENTIAL_OPTIONS = frozenset({"key", "secret", "token", "password", "session_token"})


class FsspecStorage:
    """Files under a root URL: `file://./data`, `memory://` or `s3://bucket/prefix`.

    Args:
        url: where the files live. A bare path means `file://`. `memory://` gets a
            store of its own (never fsspec's process-global one). `s3://` needs the
            `s3` extra; credentials may be given as `s3://KEY:SECRET@bucket/prefix`.
        signing_keys: HMAC keys for `get_file_url` on local and memory storage,
            newest first (see `UrlSigner`); by default a random key of this process.
        url_base: what signed local and memory URLs start with (the server's file route).
        durable: fsync local files and their directory on every save (on by default).
        logger: defaults to `get_logger("infrakit.storage")`.
        **storage_options: passed to the fsspec filesystem (for S3: `endpoint_url`,
            `key`, `secret`, `client_kwargs`...). Credentials among them are registered
            as secrets, so the logs mask them wherever they appear.

    Raises:
        ConfigurationError: the URL's scheme is not supported or it names no bucket.
    """

    def __init__(
        self,
        url: str,
        *,
        signing_keys: Sequence[str | bytes] | None = None,
        url_base: str = "/files",
        durable: bool = True,
        logger: Logger | None = None,
        **storage_options: Any,
    ) -> None:
        self.url = register_dsn(url)
        _register_credentials(storage_options)
        self._backend: Backend = _backend_for(url, storage_options, durable)
        self._signer = UrlSigner(signing_keys, base_url=url_base)
        self._logger = logger
        self._healthy: bool | None = None
        self._counts = dict.fromkeys(StorageStats.__slots__, 0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={mask_dsn(self.url)!r})"

    async def save_file(
        self,
        path: str,
        data: SaveData,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = True,
    ) -> FileSaveResult:
        """Store `data` under `path`, streaming it; a failed save leaves the old file.

        Args:
            path: the key, relative to the root.
            data: bytes, text (stored as UTF-8), a binary file object or an async
                iterable of bytes; file objects and iterables are never held whole.
            content_type: stored as given; by default detected from the first bytes,
                then the name (`detect_content_type`).
            metadata: string pairs kept with the file (`get_file_metadata`).
            overwrite: False refuses to replace an existing file.

        Returns:
            The normalised key, size, content type and entity tag.

        Raises:
            InvalidPathError: the path is unsafe.
            ValidationError: `data` or `metadata` is not of an accepted kind.
            StorageFileExistsError: `overwrite=False` and the file exists.
            StorageError: the backend failed.
        """
        key = normalize_key(path)
        if metadata is not None:
            _check_metadata(metadata)
        keep_type = content_type is not None
        whole = in_memory(data)
        if whole is not None:  # the fast path: one backend call, the type sniffed in place
            chosen = content_type or detect_content_type(key, whole).mime_type
            with _Translating(self, "save", key):
                written = await self._backend.write_bytes(
                    key,
                    whole,
                    content_type=chosen,
                    metadata=metadata,
                    keep_type=keep_type,
                    overwrite=overwrite,
                )
        else:
            head, chunks = await _peek(data)
            chosen = content_type or detect_content_type(key, head).mime_type
            with _Translating(self, "save", key):
                written = await self._backend.write(
                    key,
                    chunks,
                    content_type=chosen,
                    metadata=metadata,
                    keep_type=keep_type,
                    overwrite=overwrite,
                )
        counts = self._counts
        counts["saves"] += 1
        counts["bytes_written"] += written.size
        return FileSaveResult(key, written.size, chosen, written.etag)

    async def get_file(self, path: str) -> bytes:
        """The whole file (use `get_file_stream` for large ones).

        Raises:
            StorageNotFoundError: nothing is stored at `path`.
        """
        key = normalize_key(path)
        with _Translating(self, "read", key):
            data = await self._backend.read(key)
        counts = self._counts
        counts["reads"] += 1
        counts["bytes_read"] += len(data)
        return data

    async def get_file_stream(
        self,
        path: str,
        *,
        start: int | None = None,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        """Open the file and return its bytes in chunks, `start` to `end` (exclusive).

        The await checks that the file exists (so a server can answer 404 before it
        starts a response); the chunks are read as they are iterated. The range is
        clipped to the file; HTTP's `Range: bytes=a-b` is `start=a, end=b + 1`.

        Raises:
            StorageNotFoundError: nothing is stored at `path`.
            ValidationError: a negative bound, `end < start`, or `chunk_size < 1`.
        """
        key = normalize_key(path)
        _check_range(start, end, chunk_size)
        with _Translating(self, "read", key):
            size = await self._backend.size(key)
        first = start or 0
        stop = size if end is None else min(end, size)
        self._count(reads=1)
        return self._chunks(key, first, stop, chunk_size)

    async def get_file_metadata(self, path: str) -> FileMetadata:
        """Size, content type, modification time, entity tag and metadata of a file.

        Raises:
            StorageNotFoundError: nothing is stored at `path`.
        """
        key = normalize_key(path)
        with _Translating(self, "stat", key):
            stored = await self._backend.stat(key)
        content_type = stored.content_type or detect_content_type(key).mime_type
        return FileMetadata(
            key, stored.size, content_type, stored.modified, stored.etag, stored.metadata
        )

    async def delete_file(self, path: str) -> bool:
        """Remove the file; True when it was there."""
        key = normalize_key(path)
        with _Translating(self, "delete", key):
            deleted = await self._backend.delete(key)
        self._count(deletes=int(deleted))
        return deleted

    async def file_exists(self, path: str) -> bool:
        """True when a file is stored at `path`."""
        key = normalize_key(path)
        with _Translating(self, "stat", key):
            return await self._backend.exists(key)

    async def list_files(self, directory: str = "", pattern: str | None = None) -> list[str]:
        """Every key below `directory` (recursively), sorted, optionally filtered.

        Args:
            directory: a key prefix ending at a `/` boundary; `""` is the root.
            pattern: a glob (`*`, `?`, `[...]`). Without a `/` it is matched against
                the file name (`*.png`); with one, against the path below `directory`
                (`2024/*/report.pdf`, where `*` also matches `/`).
        """
        prefix = normalize_directory(directory)
        with _Translating(self, "list", prefix):
            keys = await self._backend.keys(prefix)
        if pattern is not None:
            keys = [key for key in keys if _matches(key, prefix, pattern)]
        return sorted(keys)

    async def get_file_url(self, path: str, expires_in: float | None = None) -> str:
        """A URL that fetches the file until `expires_in` seconds from now (default 1 h).

        S3 gives a presigned URL; local and memory storage give a URL under
        `url_base` signed with HMAC-SHA256, which `verify_signed_url` checks.
        """
        key = normalize_key(path)
        seconds = DEFAULT_URL_EXPIRY if expires_in is None else expires_in
        if not seconds > 0:
            raise ValidationError("expires_in must be positive", details={"field": "expires_in"})
        with _Translating(self, "sign", key):
            presigned = await self._backend.presign(key, seconds)
        return presigned if presigned is not None else self._signer.sign(key, seconds)

    def verify_signed_url(self, url: str, *, method: str = "GET") -> str:
        """The key a URL from `get_file_url` grants (local and memory storage).

        Raises:
            SignedUrlError: altered, foreign or expired (`STORAGE_URL_EXPIRED`).
            InvalidPathError: the URL names an unsafe path.
        """
        return self._signer.verify(url, method=method)

    def get_stats(self) -> StorageStats:
        """This instance's counters (no backend call)."""
        return StorageStats(**self._counts)

    async def health(self) -> bool:
        """Ping the backend (local: the root is writable; S3: `HeadBucket`).

        Logs one line when the state changes, never one per probe.
        """
        try:
            await self._backend.ping()
        except Exception as error:
            self._record_health(False, type(error).__name__)
            return False
        self._record_health(True, None)
        return True

    async def close(self) -> None:
        """Release the backend's connections (a memory store is emptied)."""
        await self._backend.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _chunks(
        self, key: str, first: int, stop: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        if first >= stop:
            return
        with _Translating(self, "read", key):
            async with contextlib.aclosing(
                self._backend.stream(key, first, stop, chunk_size)
            ) as chunks:
                async for chunk in chunks:
                    self._counts["bytes_read"] += len(chunk)
                    yield chunk

    def _failed(self, error: BaseException, operation: str, key: str) -> BaseException:
        """What to raise for `error` (None: let it through as it is)."""
        if isinstance(error, _CallerError):
            # The caller's own data failed: theirs to see as it was, not a storage error.
            return error.error
        if isinstance(error, AppError) or not isinstance(error, Exception):
            return error
        translated = translate(error, operation, key)
        if isinstance(error, FileNotFoundError):
            self._counts["not_found"] += 1
            return translated
        self._counts["errors"] += 1
        self._log().warning(
            "storage operation failed",
            operation=operation,
            path=key,
            error_type=type(error).__name__,
            code=translated.code,
        )
        return translated

    def _count(self, **increments: int) -> None:
        for name, value in increments.items():
            self._counts[name] += value

    def _record_health(self, healthy: bool, error_type: str | None) -> None:
        if healthy == self._healthy:
            return
        self._healthy = healthy
        if healthy:
            self._log().info("storage is healthy", url=mask_dsn(self.url))
        else:
            self._log().warning(
                "storage is unhealthy", url=mask_dsn(self.url), error_type=error_type
            )

    def _log(self) -> Logger:
        if self._logger is None:
            from infrakit.log import get_logger

            self._logger = get_logger("infrakit.storage")
        return self._logger


class LocalStorage(FsspecStorage):
    """Files below a local directory: `LocalStorage("./data")` is `FsspecStorage("file://./data")`."""

    def __init__(self, root: str | os.PathLike[str], **options: Any) -> None:
        super().__init__("file://" + os.fspath(root), **options)


class _Translating:
    """`with _Translating(storage, operation, key):` turns backend errors into storage errors.

    A class rather than a `contextmanager` generator: it is on every call's path, and
    entering it costs an object, not a generator frame.
    """

    __slots__ = ("key", "operation", "storage")

    def __init__(self, storage: FsspecStorage, operation: str, key: str) -> None:
        self.storage = storage
        self.operation = operation
        self.key = key

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None:
            return
        raised = self.storage._failed(error, self.operation, self.key)
        if raised is error:
            return
        if isinstance(error, _CallerError):
            raise raised from raised.__cause__
        raise raised from error


def _backend_for(url: str, options: dict[str, Any], durable: bool) -> Backend:
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "file", url
    if scheme == "file":
        from infrakit.storage._local import LocalBackend

        return LocalBackend(rest or ".", durable=durable)
    if scheme == "memory":
        from infrakit.storage._memory import MemoryBackend

        return MemoryBackend()
    if scheme in ("s3", "s3a"):
        return _s3_backend(url, options)
    raise ConfigurationError(
        "the storage URL must start with file://, memory:// or s3://", details={"field": "url"}
    )


def _s3_backend(url: str, options: dict[str, Any]) -> Backend:
    from infrakit.storage._s3 import S3Backend

    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigurationError("an s3:// URL must name a bucket", details={"field": "url"})
    if parts.username is not None:
        options = {**options, "key": unquote(parts.username)}
        if parts.password is not None:
            options["secret"] = unquote(parts.password)
    return S3Backend(parts.hostname, parts.path, options)


def _register_credentials(options: Mapping[str, Any]) -> None:
    """Register every credential among the storage options (nested ones too)."""
    for name, value in options.items():
        if isinstance(value, Mapping):
            _register_credentials(value)
        elif isinstance(value, str) and (name in _CREDENTIAL_OPTIONS or is_sensitive_key(name)):
            register_secret(value)


async def _peek(data: SaveData) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first `SNIFF_BYTES` of `data` (to detect its type) and all of it as chunks."""
    whole = in_memory(data)
    if whole is not None:
        return whole[:SNIFF_BYTES], as_chunks(whole)
    chunks = as_chunks(data)
    buffered: list[bytes] = []
    size = 0
    async for chunk in chunks:
        buffered.append(chunk)
        size += len(chunk)
        if size >= SNIFF_BYTES:
            break
    return b"".join(buffered)[:SNIFF_BYTES], _replay(buffered, chunks)


async def _replay(buffered: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in buffered:
        yield chunk
    buffered.clear()
    try:
        async for chunk in rest:
            yield chunk
    except Exception as error:
        raise _CallerError(error) from error


class _CallerError(Exception):
    """Carries an exception raised by the caller's data through the backend unchanged."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def _check_metadata(metadata: Mapping[str, str] | None) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, Mapping) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in metadata.items()
    ):
        raise ValidationError("metadata must map strings to strings", details={"field": "metadata"})


def _check_range(start: int | None, end: int | None, chunk_size: int) -> None:
    if start is not None and start < 0:
        raise ValidationError("start may not be negative", details={"field": "start"})
    if end is not None and end < (start or 0):
        raise ValidationError("end may not be before start", details={"field": "end"})
    if chunk_size < 1:
        raise ValidationError("chunk_size must be at least 1", details={"field": "chunk_size"})


def _matches(key: str, prefix: str, pattern: str) -> bool:
    if "/" in pattern:
        relative = key[len(prefix) + 1 :] if prefix else key
        return fnmatch.fnmatchcase(relative, pattern)
    return fnmatch.fnmatchcase(key.rpartition("/")[2], pattern)
