"""Memory storage: a store per instance, never fsspec's process-global one."""

from __future__ import annotations

import fsspec

from infrakit.storage import FsspecStorage


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
