"""Sources and targets given as keys in a real storage provider (memory and local disk)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from infrakit.media import ImageOptions, MediaProcessor, VideoOptions, sync
from infrakit.storage import FsspecStorage, LocalStorage, StorageNotFoundError, StorageProvider
from tests.media import factory


@pytest.fixture(params=["memory", "local"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageProvider:
    if request.param == "memory":
        return FsspecStorage("memory://")
    return LocalStorage(tmp_path / "store")


async def test_image_from_key_to_key_with_content_type(storage: StorageProvider) -> None:
    await storage.save_file("uploads/photo.jpg", factory.jpeg(orientation=6))
    processor = MediaProcessor(storage=storage)
    metadata = await processor.process(
        "uploads/photo.jpg", "thumbs/photo.webp", ImageOptions(width=20, format="webp")
    )
    assert (metadata.width, metadata.height) == (20, 30)
    saved = await storage.get_file_metadata("thumbs/photo.webp")
    assert saved.content_type == "image/webp"
    assert saved.size == metadata.size
    assert sync.probe(await storage.get_file("thumbs/photo.webp")).format == "webp"


async def test_video_thumbnail_and_transcode_between_keys(
    storage: StorageProvider, mp4: bytes
) -> None:
    await storage.save_file("clips/a.mp4", mp4)
    processor = MediaProcessor(storage=storage)
    assert (
        await processor.generate_thumbnail("clips/a.mp4", "clips/a.png", 40, format="png")
        == "clips/a.png"
    )
    result = await processor.transcode_video(
        "clips/a.mp4", "clips/a-small.mp4", VideoOptions(width=80)
    )
    assert result.width == 80
    info = await processor.probe("clips/a-small.mp4")
    assert (info.kind, info.width) == ("video", 80)
    assert (await storage.get_file_metadata("clips/a.png")).content_type == "image/png"


async def test_a_path_object_stays_a_local_path(storage: StorageProvider, tmp_path: Path) -> None:
    source = tmp_path / "local.png"
    source.write_bytes(factory.png_with_alpha())
    processor = MediaProcessor(storage=storage)
    await processor.process(source, "from-disk.png")
    output = io.BytesIO()
    await processor.process("from-disk.png", output)
    assert output.getvalue().startswith(b"\x89PNG")


async def test_a_missing_key_is_the_storage_error(storage: StorageProvider) -> None:
    with pytest.raises(StorageNotFoundError):
        await MediaProcessor(storage=storage).probe("nowhere.jpg")
