"""`with_media()`: sized from the configuration, stopped and pinged with the rest."""

from __future__ import annotations

import io
from pathlib import Path

from infrakit import Infra
from infrakit.media import MediaProcessor
from infrakit.storage import FsspecStorage
from tests.media import factory


async def test_media_from_the_config(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "MEDIA_MAX_WORKERS=1\nMEDIA_MAX_QUEUE=2\nMEDIA_MAX_PIXELS=1000000\nMEDIA_TIMEOUT=15\n",
        encoding="utf-8",
    )
    infra = Infra.builder(env="test", directory=tmp_path).with_media().build()
    async with infra:
        media = infra.media
        assert infra.container.resolve(MediaProcessor) is media
        assert (media.limits.max_pixels, media.limits.timeout) == (1_000_000, 15.0)
        assert "max_workers=1, max_queue=2" in repr(media)
        assert (await infra.health())["media"].healthy
        assert (await media.probe(factory.jpeg())).kind == "image"
    assert not await media.health()


async def test_media_with_storage_keys(tmp_path: Path) -> None:
    storage = FsspecStorage("memory://")
    await storage.save_file("in.png", factory.png_with_alpha())
    infra = Infra.builder(env="test", directory=tmp_path).with_media(storage=storage).build()
    async with infra:
        await infra.media.generate_thumbnail("in.png", "thumb.webp", 16, format="webp")
        output = io.BytesIO(await storage.get_file("thumb.webp"))
        assert output.getvalue()[8:12] == b"WEBP"
