"""Memory storage: a store per instance, never fsspec's process-global one."""

from __future__ import annotations

import fsspec
import pytest

from infrakit.storage import FsspecStorage, StorageError, StorageFileExistsError


async def test_two_memory_storages_do_not_share_files() -> None:
    first, second = FsspecStorage("memory://"), FsspecStorage("memory://")
    await first.save_file("a.txt", b"first")
    assert not await second.file_exists("a.txt")
    assert await second.list_files() == []


async def test_the_global_fsspec_store_is_untouched() -> None:
    global_fs = fsspec.filesystem("memory")
    before = set(global_fs.store)
    await FsspecStorage("memory://").save_file("isolated/x.txt", b"1")
    assert set(global_fs.store) == before


async def test_close_empties_the_store() -> None:
    storage = FsspecStorage("memory://")
    await storage.save_file("a", b"1")
    await storage.close()
    assert not await storage.file_exists("a")


async def test_a_saved_buffer_is_copied_and_reads_share_the_stored_bytes() -> None:
    storage = FsspecStorage("memory://")
    buffer = bytearray(b"original")
    await storage.save_file("a.bin", buffer)
    buffer[:] = b"changed!"
    first, second = await storage.get_file("a.bin"), await storage.get_file("a.bin")
    assert first == b"original"
    assert first is second  # the fast path hands back the stored (immutable) bytes


async def test_a_file_cannot_be_the_parent_of_another() -> None:
    storage = FsspecStorage("memory://")
    await storage.save_file("a", b"file")
    with pytest.raises(StorageError):
        await storage.save_file("a/b.txt", b"below a file")
    assert await storage.list_files() == ["a"]


async def test_overwrite_false_refuses_a_directory_name() -> None:
    storage = FsspecStorage("memory://")
    await storage.save_file("folder/x.txt", b"1")
    with pytest.raises(StorageFileExistsError):
        await storage.save_file("folder", b"2", overwrite=False)
