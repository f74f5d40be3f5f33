"""Files on the local disk, written atomically.

A save writes a temporary file in the target's own directory (so the rename never
crosses a filesystem), flushes and fsyncs it, then renames it over the target: a
reader sees the old file or the new one, never a mix, and a failed or cancelled save
leaves the old file untouched and no temporary behind. Every blocking call runs in a
worker thread. Content types and metadata given to `save_file` are kept in a JSON
sidecar under `.infrakit-meta/` (no sidecar when there is nothing to keep: the type
is then detected from the bytes and the name, as it was when saving).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import stat
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from infrakit.storage._backend import AlreadyStoredError, StoredFile, Written
from infrakit.storage._content_type import SNIFF_BYTES, detect_content_type
from infrakit.storage._errors import InvalidPathError
from infrakit.storage._paths import RESERVED_PREFIX, inside_root, key_inside_root, root_prefix

__all__ = ["LocalBackend"]

_META_DIRECTORY = RESERVED_PREFIX + "-meta"
_TEMP_PREFIX = RESERVED_PREFIX + "-tmp-"
_SALT = secrets.token_hex(4)
_SEQUENCE = itertools.count()  # next() on it is atomic under the GIL: safe across threads
_NAME_ATTEMPTS = 4
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC
_BUFFER = 1024 * 1024
_LARGEST_READ = 1 << 30  # Linux returns at most ~2 GiB per read(): read larger files in steps
_READ_STEP = 8 * 1024 * 1024


class LocalBackend:
    """Keys as files below `root`; `durable=False` skips the fsyncs (tests, caches)."""

    def __init__(self, root: str, *, durable: bool = True) -> None:
        self.root = os.path.realpath(root)
        self.durable = durable
        self._prefix = root_prefix(self.root)  # + a normalised key: its path

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
        sidecar = _sidecar_text(content_type, metadata, keep_type)
        first = await anext(chunks, b"")
        second = await anext(chunks, None)
        if second is None:
            return await asyncio.to_thread(self._write_whole, key, first, sidecar, overwrite)
        upload = await asyncio.to_thread(_Upload.begin, self, key)
        try:
            await upload.write(first)
            await upload.write(second)
            async for chunk in chunks:
                await upload.write(chunk)
            return await upload.commit(overwrite, sidecar)
        except BaseException:
            await asyncio.shield(upload.discard())
            raise

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
        sidecar = _sidecar_text(content_type, metadata, keep_type)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._write_whole, key, data, sidecar, overwrite)

    async def read(self, key: str) -> bytes:
        # The loop's executor directly: these functions read no context variables, so
        # the context copy `asyncio.to_thread` makes would be pure overhead.
        return await asyncio.get_running_loop().run_in_executor(None, self._read, key)

    async def stat(self, key: str) -> StoredFile:
        return await asyncio.to_thread(self._stat, key)

    async def size(self, key: str) -> int:
        return await asyncio.to_thread(self._size, key)

    async def stream(
        self, key: str, start: int, stop: int, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        file = await asyncio.to_thread(self._open, key, start)
        try:
            remaining = stop - start
            while remaining > 0:
                chunk = await asyncio.to_thread(file.read, min(chunk_size, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> bool:
        return await asyncio.to_thread(self._delete, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(lambda: os.path.isfile(self._path(key)))

    async def keys(self, directory: str) -> list[str]:
        return await asyncio.to_thread(self._keys, directory)

    async def presign(self, key: str, expires_in: float) -> str | None:
        return None

    async def ping(self) -> None:
        await asyncio.to_thread(self._ping)

    async def close(self) -> None:
        """Nothing to release."""

    def _path(self, key: str) -> str:
        if not key_inside_root(self.root, key):
            raise InvalidPathError(
                "a file path may not lead outside the storage root", details={"field": "path"}
            )
        return self._prefix + key

    def _write_whole(self, key: str, data: bytes, sidecar: str | None, overwrite: bool) -> Written:
        """The whole save in one thread hop: check, create, write, fsync, stat, rename."""
        target = self._path(key)
        temporary, descriptor = _create_temporary(target)
        try:
            _write_all(descriptor, data)
            if self.durable:
                os.fsync(descriptor)
            info = os.fstat(descriptor)
        except BaseException:
            os.close(descriptor)
            _remove_quietly(temporary)
            raise
        os.close(descriptor)
        self._place(key, temporary, target, overwrite, sidecar)
        return Written(info.st_size, _etag(info))

    def _place(
        self, key: str, temporary: str, target: str, overwrite: bool, sidecar: str | None
    ) -> None:
        """Rename the finished temporary file over `target` (or link it: no overwrite)."""
        try:
            if overwrite:
                os.replace(temporary, target)
            else:
                try:
                    os.link(temporary, target)
                except FileExistsError as error:
                    raise AlreadyStoredError(key) from error
                os.unlink(temporary)
        except BaseException:
            _remove_quietly(temporary)
            raise
        if self.durable:
            _fsync_directory(os.path.dirname(target))
        self._save_sidecar(key, sidecar)

    def _read(self, key: str) -> bytes:
        """Open, size and read in one go: one `read` call for a file that is not growing."""
        descriptor = _open_descriptor(self._path(key))
        try:
            info = os.fstat(descriptor)
            if stat.S_ISDIR(info.st_mode):
                raise FileNotFoundError(key)
            return _read_all(descriptor, info.st_size)
        finally:
            os.close(descriptor)

    def _open(self, key: str, start: int) -> IO[bytes]:
        file = _open_file(self._path(key))
        if start:
            file.seek(start)
        return file

    def _size(self, key: str) -> int:
        info = os.stat(self._path(key))
        if stat.S_ISDIR(info.st_mode):
            raise FileNotFoundError(key)
        return info.st_size

    def _stat(self, key: str) -> StoredFile:
        path = self._path(key)
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise FileNotFoundError(key)
        kept = self._load_sidecar(key)
        content_type = kept.get("content_type")
        if content_type is None:
            with _open_file(path) as file:
                content_type = detect_content_type(key, file.read(SNIFF_BYTES)).mime_type
        modified = datetime.fromtimestamp(info.st_mtime, UTC)
        return StoredFile(
            info.st_size, modified, _etag(info), content_type, kept.get("metadata", {})
        )

    def _delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        _remove_quietly(self._sidecar_path(key))
        return True

    def _keys(self, directory: str) -> list[str]:
        top = self._path(directory) if directory else self.root
        found: list[str] = []
        for folder, folders, files in os.walk(top):
            folders[:] = [name for name in folders if not name.startswith(RESERVED_PREFIX)]
            for name in files:
                path = os.path.join(folder, name)
                if name.startswith(RESERVED_PREFIX):
                    continue
                if not os.path.islink(path) or inside_root(self.root, path):
                    found.append(os.path.relpath(path, self.root).replace(os.sep, "/"))
        return found

    def _ping(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise PermissionError("the storage root is not writable")

    def _sidecar_path(self, key: str) -> str:
        return f"{self._prefix}{_META_DIRECTORY}/{key}.json"

    def _load_sidecar(self, key: str) -> dict[str, Any]:
        try:
            with open(self._sidecar_path(key), encoding="utf-8") as file:
                loaded = json.load(file)
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _save_sidecar(self, key: str, text: str | None) -> None:
        path = self._sidecar_path(key)
        if text is None:
            _remove_quietly(path)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{secrets.token_hex(6)}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)


class _Upload:
    """A temporary file beside its target; every blocking step runs in a thread.

    Only one step is in flight at a time; `discard` waits for it before closing the
    file, so a cancelled save never closes a descriptor a worker thread still writes.
    """

    def __init__(
        self, backend: LocalBackend, key: str, target: str, temporary: str, descriptor: int
    ) -> None:
        self.backend = backend
        self.key = key
        self.target = target
        self.temporary = temporary
        # An explicit buffer size: open() would otherwise ask the kernel whether it is a tty.
        self.file: IO[bytes] = open(descriptor, "wb", buffering=_BUFFER)  # noqa: SIM115
        self._in_flight: asyncio.Future[Any] | None = None

    @classmethod
    def begin(cls, backend: LocalBackend, key: str) -> _Upload:
        target = backend._path(key)
        temporary, descriptor = _create_temporary(target)
        return cls(backend, key, target, temporary, descriptor)

    async def write(self, chunk: bytes) -> None:
        await self._run(self.file.write, chunk)

    async def commit(self, overwrite: bool, sidecar: str | None) -> Written:
        written: Written = await self._run(self.finish, overwrite, sidecar)
        return written

    async def discard(self) -> None:
        if self._in_flight is not None:
            await asyncio.wait([self._in_flight])
        await asyncio.to_thread(self.remove)

    def finish(self, overwrite: bool, sidecar: str | None) -> Written:
        self.file.flush()
        if self.backend.durable:
            os.fsync(self.file.fileno())
        info = os.fstat(self.file.fileno())
        self.file.close()
        self.backend._place(self.key, self.temporary, self.target, overwrite, sidecar)
        return Written(info.st_size, _etag(info))

    def remove(self) -> None:
        self.file.close()
        _remove_quietly(self.temporary)

    async def _run(self, function: Any, *arguments: Any) -> Any:
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(function, *arguments))
        return await asyncio.shield(self._in_flight)


def _create_temporary(target: str) -> tuple[str, int]:
    """A fresh temporary file beside `target`, its directories made on first need.

    O_EXCL makes the file ours alone (a name taken, by another process or a crashed
    save, gets a new one); mode 0o666 lets the umask apply as for open().
    """
    # The last separator of either kind (a key's `/`, the root's `os.sep`), without
    # `os.path.dirname`'s normalising: this runs on every save.
    directory = target[: max(target.rfind("/"), target.rfind(os.sep))] or os.sep
    for attempt in range(_NAME_ATTEMPTS):
        temporary = f"{directory}/{_temporary_name()}"
        try:
            return temporary, os.open(temporary, _CREATE_FLAGS, 0o666)
        except FileExistsError:
            if attempt == _NAME_ATTEMPTS - 1:
                raise
        except (FileNotFoundError, NotADirectoryError):
            if attempt:
                raise
            os.makedirs(directory, exist_ok=True)
    raise AssertionError("unreachable")  # pragma: no cover


def _temporary_name() -> str:
    """Unique per process and call without a system call for randomness."""
    return f"{_TEMP_PREFIX}{_SALT}-{os.getpid():x}-{next(_SEQUENCE):x}"


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _open_descriptor(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | _CLOEXEC)
    except NotADirectoryError as error:
        raise FileNotFoundError(path) from error


def _read_all(descriptor: int, size: int) -> bytes:
    """Everything from `descriptor`; asking for one byte more than `size` detects EOF."""
    data = os.read(descriptor, size + 1)
    if len(data) <= size < _LARGEST_READ:
        return data
    parts = [data]
    while more := os.read(descriptor, _READ_STEP):
        parts.append(more)
    return b"".join(parts)


def _open_file(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except (IsADirectoryError, NotADirectoryError) as error:
        raise FileNotFoundError(path) from error


def _sidecar_text(
    content_type: str, metadata: Mapping[str, str] | None, keep_type: bool
) -> str | None:
    if not keep_type and not metadata:
        return None
    return json.dumps({"content_type": content_type, "metadata": dict(metadata or {})})


def _etag(info: os.stat_result) -> str:
    return f'"{info.st_ino:x}-{info.st_mtime_ns:x}-{info.st_size:x}"'


def _fsync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_quietly(path: str) -> None:
    # Not contextlib.suppress: this runs on every save (for a stale sidecar).
    try:  # noqa: SIM105
        os.unlink(path)
    except FileNotFoundError:
        pass
