"""One suite, every backend: local disk, memory and S3 (moto) must agree."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from infrakit.errors import NotFoundError, ValidationError
from infrakit.storage import (
    FileMetadata,
    FsspecStorage,
    InvalidPathError,
    StorageFileExistsError,
    StorageNotFoundError,
    StorageProvider,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[offset : offset + size]


def test_is_a_storage_provider(storage: FsspecStorage) -> None:
    assert isinstance(storage, StorageProvider)


async def test_save_and_get_bytes(storage: FsspecStorage) -> None:
    result = await storage.save_file("docs/a.txt", b"hello")
    assert (result.path, result.size, result.content_type) == ("docs/a.txt", 5, "text/plain")
    assert result.etag
    assert await storage.get_file("docs/a.txt") == b"hello"


@pytest.mark.parametrize(
    "data",
    [
        lambda: "héllo text",
        lambda: bytearray(b"h\xc3\xa9llo text"),
        lambda: memoryview(b"h\xc3\xa9llo text"),
        lambda: io.BytesIO("héllo text".encode()),
    ],
    ids=["str", "bytearray", "memoryview", "file"],
)
async def test_save_accepts_text_buffers_and_files(
    storage: FsspecStorage, data: Callable[[], object]
) -> None:
    await storage.save_file("t.txt", data())  # type: ignore[arg-type]
    assert await storage.get_file("t.txt") == "héllo text".encode()


async def test_save_streams_an_async_iterable(storage: FsspecStorage) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB in 4 KiB chunks
    result = await storage.save_file("stream.bin", chunks_of(data, 4096))
    assert result.size == len(data)
    assert await storage.get_file("stream.bin") == data


async def test_save_streams_a_file_in_a_thread(storage: FsspecStorage, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 3_000_000)
    with source.open("rb") as file:
        result = await storage.save_file("copied.bin", file)
    assert result.size == 3_000_000
    assert await storage.get_file("copied.bin") == b"x" * 3_000_000


async def test_large_upload_in_several_parts(storage: FsspecStorage) -> None:
    """20 MiB: several multipart parts on S3, several writes locally."""
    block = bytes(range(256)) * 4096
    data = block * 20
    result = await storage.save_file("big.bin", chunks_of(data, len(block)))
    assert result.size == len(data)
    metadata = await storage.get_file_metadata("big.bin")
    assert metadata.size == len(data)
    assert metadata.etag == result.etag
    assert await storage.get_file("big.bin") == data


async def test_empty_file(storage: FsspecStorage) -> None:
    result = await storage.save_file("empty", b"")
    assert result.size == 0
    assert await storage.get_file("empty") == b""
    assert await storage.file_exists("empty")


async def test_overwrite_replaces_and_overwrite_false_refuses(storage: FsspecStorage) -> None:
    await storage.save_file("a.txt", b"one")
    await storage.save_file("a.txt", b"two")
    assert await storage.get_file("a.txt") == b"two"
    with pytest.raises(StorageFileExistsError) as caught:
        await storage.save_file("a.txt", b"three", overwrite=False)
    assert caught.value.status_code == 409
    assert await storage.get_file("a.txt") == b"two"
    await storage.save_file("new.txt", b"fresh", overwrite=False)
    assert await storage.get_file("new.txt") == b"fresh"


async def test_missing_file_is_storage_not_found(storage: FsspecStorage) -> None:
    for operation in (
        storage.get_file("nope.txt"),
        storage.get_file_metadata("nope.txt"),
        storage.get_file_stream("nope.txt"),
    ):
        with pytest.raises(StorageNotFoundError) as caught:
            await operation
        assert isinstance(caught.value, NotFoundError)
        assert caught.value.code == "STORAGE_NOT_FOUND"
        assert caught.value.status_code == 404
        assert caught.value.details["path"] == "nope.txt"
    assert storage.get_stats().not_found == 3


async def test_exists_and_delete(storage: FsspecStorage) -> None:
    assert not await storage.file_exists("d/x.bin")
    await storage.save_file("d/x.bin", b"1")
    assert await storage.file_exists("d/x.bin")
    assert not await storage.file_exists("d")  # a prefix is not a file
    assert await storage.delete_file("d/x.bin") is True
    assert await storage.delete_file("d/x.bin") is False
    assert not await storage.file_exists("d/x.bin")


async def test_metadata(storage: FsspecStorage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    saved = await storage.save_file(
        "img/logo.png", PNG, metadata={"owner": "ada", "purpose": "logo"}
    )
    metadata = await storage.get_file_metadata("img/logo.png")
    assert isinstance(metadata, FileMetadata)
    assert metadata.path == "img/logo.png"
    assert metadata.size == len(PNG)
    assert metadata.content_type == "image/png" == saved.content_type
    assert metadata.etag == saved.etag
    assert dict(metadata.metadata) == {"owner": "ada", "purpose": "logo"}
    assert metadata.modified.tzinfo is not None
    assert before <= metadata.modified <= datetime.now(UTC) + timedelta(seconds=5)


async def test_explicit_content_type_is_kept(storage: FsspecStorage) -> None:
    await storage.save_file("data.bin", b"{}", content_type="application/vnd.custom+json")
    metadata = await storage.get_file_metadata("data.bin")
    assert metadata.content_type == "application/vnd.custom+json"


async def test_overwrite_without_metadata_drops_the_old_metadata(storage: FsspecStorage) -> None:
    await storage.save_file("m.txt", b"a", metadata={"k": "v"}, content_type="text/x-old")
    await storage.save_file("m.txt", b"b")
    metadata = await storage.get_file_metadata("m.txt")
    assert dict(metadata.metadata) == {}
    assert metadata.content_type == "text/plain"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, slice(None)),
        (0, 10, slice(0, 10)),
        (10, None, slice(10, None)),
        (None, 7, slice(0, 7)),
        (1000, 5000, slice(1000, 5000)),
        (9990, 20000, slice(9990, None)),  # clipped to the file
        (20000, None, slice(0, 0)),  # past the end: nothing
        (5, 5, slice(0, 0)),
    ],
)
async def test_ranges(
    storage: FsspecStorage, start: int | None, end: int | None, expected: slice
) -> None:
    data = bytes(index % 251 for index in range(10_000))
    await storage.save_file("range.bin", data)
    stream = await storage.get_file_stream("range.bin", start=start, end=end, chunk_size=333)
    chunks = [chunk async for chunk in stream]
    assert b"".join(chunks) == data[expected]
    assert all(len(chunk) <= 333 for chunk in chunks)


@pytest.mark.parametrize(
    ("start", "end", "chunk_size"), [(-1, None, 10), (5, 4, 10), (None, None, 0)]
)
async def test_bad_ranges_are_validation_errors(
    storage: FsspecStorage, start: int | None, end: int | None, chunk_size: int
) -> None:
    await storage.save_file("r.bin", b"0123456789")
    with pytest.raises(ValidationError):
        await storage.get_file_stream("r.bin", start=start, end=end, chunk_size=chunk_size)


async def test_stream_closed_early_releases_the_file(storage: FsspecStorage) -> None:
    await storage.save_file("early.bin", b"z" * 100_000)
    stream = await storage.get_file_stream("early.bin", chunk_size=1000)
    async for _chunk in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert await storage.delete_file("early.bin")


async def test_list_files(storage: FsspecStorage) -> None:
    for key in ["a.txt", "img/1.png", "img/2.png", "img/old/3.png", "img/readme.md", "imgx/4.png"]:
        await storage.save_file(key, b"x")
    assert await storage.list_files() == [
        "a.txt",
        "img/1.png",
        "img/2.png",
        "img/old/3.png",
        "img/readme.md",
        "imgx/4.png",
    ]
    assert await storage.list_files("img") == [
        "img/1.png",
        "img/2.png",
        "img/old/3.png",
        "img/readme.md",
    ]
    assert await storage.list_files("img/", "*.png") == ["img/1.png", "img/2.png", "img/old/3.png"]
    assert await storage.list_files("img", "old/*") == ["img/old/3.png"]
    assert await storage.list_files("", "?.txt") == ["a.txt"]
    assert await storage.list_files("nothing-here") == []


async def test_list_refuses_unsafe_directories(storage: FsspecStorage) -> None:
    with pytest.raises(InvalidPathError):
        await storage.list_files("../")


async def test_keys_are_normalised(storage: FsspecStorage) -> None:
    result = await storage.save_file("a//b/./c.txt", b"x")
    assert result.path == "a/b/c.txt"
    assert await storage.get_file("a/b/c.txt") == b"x"
    assert await storage.list_files() == ["a/b/c.txt"]


async def test_unicode_keys(storage: FsspecStorage) -> None:
    await storage.save_file("straße/日本 語.txt", b"x")
    assert await storage.list_files() == ["straße/日本 語.txt"]
    assert await storage.get_file("straße/日本 語.txt") == b"x"


async def test_invalid_data_is_a_validation_error(storage: FsspecStorage) -> None:
    with pytest.raises(ValidationError) as caught:
        await storage.save_file("x", 12345)  # type: ignore[arg-type]
    assert caught.value.details["field"] == "data"
    with pytest.raises(ValidationError):
        await storage.save_file("x", b"1", metadata={"n": 1})  # type: ignore[dict-item]
    assert not await storage.file_exists("x")


async def test_async_iterable_of_non_bytes_is_refused_and_nothing_is_stored(
    storage: FsspecStorage,
) -> None:
    async def bad() -> AsyncIterator[object]:
        yield b"a" * 5000
        yield "not bytes"

    with pytest.raises(ValidationError):
        await storage.save_file("bad.bin", bad())  # type: ignore[arg-type]
    assert not await storage.file_exists("bad.bin")


async def test_failing_upload_keeps_old_content(storage: FsspecStorage) -> None:
    await storage.save_file("keep.bin", b"old content")

    async def failing() -> AsyncIterator[bytes]:
        yield b"n" * 10_000_000
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError, match="went away"):
        await storage.save_file("keep.bin", failing())
    assert await storage.get_file("keep.bin") == b"old content"
    assert await storage.list_files() == ["keep.bin"]


async def test_cancelled_upload_leaves_nothing(storage: FsspecStorage) -> None:
    await storage.save_file("cancel.bin", b"old content")
    several_sent = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        sent = 0
        while True:
            yield b"c" * 3_000_000
            sent += 1
            if sent >= 4:  # more than a part on S3, several writes locally
                several_sent.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(storage.save_file("cancel.bin", endless()))
    await asyncio.wait_for(several_sent.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await storage.get_file("cancel.bin") == b"old content"
    assert await storage.list_files() == ["cancel.bin"]
    assert not await storage.file_exists("never.bin")


async def test_concurrent_writers_never_tear_a_file(storage: FsspecStorage) -> None:
    size = 2_000_000
    payloads = [bytes([letter]) * size for letter in b"abcdef"]
    await asyncio.gather(
        *(storage.save_file("race.bin", chunks_of(data, 65536)) for data in payloads)
    )
    final = await storage.get_file("race.bin")
    assert final in payloads


async def test_signed_url_round_trip(storage: FsspecStorage) -> None:
    await storage.save_file("s/file.txt", b"x")
    url = await storage.get_file_url("s/file.txt", expires_in=60)
    if url.startswith("http"):  # S3 presigned
        assert "Signature" in url or "X-Amz-Signature" in url
        return
    assert storage.verify_signed_url(url) == "s/file.txt"


async def test_stats_count_own_operations(storage: FsspecStorage) -> None:
    await storage.save_file("s.txt", b"12345")
    await storage.get_file("s.txt")
    stream = await storage.get_file_stream("s.txt")
    assert b"".join([chunk async for chunk in stream]) == b"12345"
    await storage.delete_file("s.txt")
    stats = storage.get_stats()
    assert (stats.saves, stats.reads, stats.deletes) == (1, 2, 1)
    assert (stats.bytes_written, stats.bytes_read) == (5, 10)
    assert stats.errors == 0


async def test_health(storage: FsspecStorage) -> None:
    assert await storage.health() is True


async def test_overwrite_false_refuses_a_large_upload_too(storage: FsspecStorage) -> None:
    """Above one S3 part the save is a multipart upload; it must refuse all the same."""
    await storage.save_file("taken.bin", b"first")
    big = bytes(9 * 1024 * 1024)
    with pytest.raises(StorageFileExistsError):
        await storage.save_file("taken.bin", chunks_of(big, 1024 * 1024), overwrite=False)
    assert await storage.get_file("taken.bin") == b"first"
    await storage.save_file("free.bin", chunks_of(big, 1024 * 1024), overwrite=False)
    assert (await storage.get_file_metadata("free.bin")).size == len(big)
