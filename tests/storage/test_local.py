"""Local disk: atomic renames, no temporary left behind, errors translated."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infrakit.storage import (
    FsspecStorage,
    LocalStorage,
    StorageError,
    StorageNotFoundError,
    _local,
)
from infrakit.storage._translate import translate
from tests.recording import RecordingLogger


def leftovers(root: Path) -> list[str]:
    return sorted(path.name for path in root.rglob("*") if "tmp" in path.name)


async def test_bare_paths_and_file_urls_are_local(tmp_path: Path) -> None:
    for storage in (FsspecStorage(str(tmp_path / "a")), FsspecStorage(f"file://{tmp_path}/b")):
        await storage.save_file("x.txt", b"1")
    assert (tmp_path / "a" / "x.txt").read_bytes() == b"1"
    assert (tmp_path / "b" / "x.txt").read_bytes() == b"1"


async def test_a_cancelled_stream_leaves_no_temporary(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    writing = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        sent = 0
        while True:
            yield b"x" * 100_000
            sent += 1
            if sent >= 3:  # asked for a fourth: the first three are in the temporary
                writing.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(storage.save_file("dir/file.bin", slow()))
    await asyncio.wait_for(writing.wait(), 10)
    assert leftovers(tmp_path), "the upload should be writing a temporary file"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "dir" / "file.bin").exists()


async def test_the_temporary_sits_beside_the_target(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    seen: list[list[Path]] = []

    async def watching() -> AsyncIterator[bytes]:
        yield b"a" * 5000
        yield b"b" * 5000
        seen.append(sorted((tmp_path / "deep" / "er").iterdir()))

    await storage.save_file("deep/er/file.bin", watching())
    assert len(seen[0]) == 1
    assert seen[0][0].name.startswith(".infrakit-tmp-")
    assert sorted(path.name for path in (tmp_path / "deep" / "er").iterdir()) == ["file.bin"]


async def test_files_get_the_default_mode(tmp_path: Path) -> None:
    await LocalStorage(tmp_path).save_file("m.txt", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.txt").stat().st_mode & 0o777 == 0o666 & ~umask


async def test_not_durable_still_atomic(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, durable=False)
    await storage.save_file("a.txt", b"1")
    await storage.save_file("a.txt", b"2")
    assert await storage.get_file("a.txt") == b"2"
    assert leftovers(tmp_path) == []


def test_permission_denied_is_a_storage_error() -> None:
    """Translated at the boundary (tests run as root, for whom file modes do not bind)."""
    error = translate(PermissionError(13, "Permission denied"), "save", "x")
    assert isinstance(error, StorageError)
    assert error.code == "STORAGE_PERMISSION_DENIED"


@pytest.mark.parametrize(
    "failure", [ConnectionRefusedError(111, "refused"), TimeoutError("slow")], ids=repr
)
def test_unreachable_backends_are_unavailable(failure: Exception) -> None:
    error = translate(failure, "read", "x")
    assert (error.code, error.status_code) == ("STORAGE_UNAVAILABLE", 503)


async def test_a_backend_failure_is_chained_and_logged(
    tmp_path: Path, recording_logger: RecordingLogger
) -> None:
    (tmp_path / "file").write_bytes(b"not a directory")
    storage = LocalStorage(tmp_path, logger=recording_logger)
    with pytest.raises(StorageError) as caught:
        await storage.save_file("file/below.txt", b"1")  # a file where a directory must be
    assert caught.value.code == "STORAGE_ERROR"
    assert isinstance(caught.value.__cause__, OSError)
    assert storage.get_stats().errors == 1
    assert recording_logger.messages("warning") == ["storage operation failed"]


async def test_health_logs_once_per_state_change(
    tmp_path: Path, recording_logger: RecordingLogger
) -> None:
    (tmp_path / "blocker").write_bytes(b"a file where the root should be")
    storage = LocalStorage(tmp_path / "blocker", logger=recording_logger)
    assert await storage.health() is False
    assert await storage.health() is False
    (tmp_path / "blocker").unlink()
    assert await storage.health() is True
    assert await storage.health() is True
    assert recording_logger.messages("warning") == ["storage is unhealthy"]
    assert recording_logger.messages("info") == ["storage is healthy"]


async def test_sidecars_are_not_listed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.save_file("a.txt", b"x", metadata={"k": "v"})
    assert await storage.list_files() == ["a.txt"]
    assert (tmp_path / ".infrakit-meta" / "a.txt.json").exists()
    await storage.delete_file("a.txt")
    assert not (tmp_path / ".infrakit-meta" / "a.txt.json").exists()


async def test_a_file_cannot_be_the_parent_of_another(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.save_file("a", b"file")
    with pytest.raises(StorageError):
        await storage.save_file("a/b.txt", b"below a file")
    assert await storage.list_files() == ["a"]
    assert leftovers(tmp_path) == []


async def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.save_file("folder/x.txt", b"1")
    with pytest.raises(StorageNotFoundError):
        await storage.get_file("folder")


async def test_saves_create_missing_directories_in_one_go(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, durable=False)
    result = await storage.save_file("deep/er/still/x.txt", b"text")
    assert result.size == 4
    assert (tmp_path / "deep" / "er" / "still" / "x.txt").read_bytes() == b"text"


def test_a_taken_temporary_name_gets_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = tmp_path / "taken"
    taken.write_bytes(b"someone else's")
    names = iter(["taken", "taken", "free"])
    monkeypatch.setattr(_local, "_temporary_name", lambda: next(names))
    temporary, descriptor = _local._create_temporary(str(tmp_path / "target"))
    os.close(descriptor)
    assert temporary == str(tmp_path / "free")
    assert taken.read_bytes() == b"someone else's"


def test_a_file_that_grew_after_its_size_was_taken_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "growing.bin"
    path.write_bytes(b"x" * 10_000)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        assert _local._read_all(descriptor, 100) == b"x" * 10_000
    finally:
        os.close(descriptor)


async def test_empty_and_large_reads(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    large = os.urandom(3 * 1024 * 1024 + 7)
    await storage.save_file("empty", b"")
    await storage.save_file("large", large)
    assert await storage.get_file("empty") == b""
    assert await storage.get_file("large") == large
