"""probe() reads what a file is from its headers, for every generated format."""

from __future__ import annotations

import io

import pytest

from infrakit.media import MediaInfo, UnsupportedMediaError, probe, sync
from tests.media import factory


@pytest.mark.parametrize(
    ("name", "format", "content_type", "size"),
    [
        ("jpeg", "jpeg", "image/jpeg", (60, 40)),
        ("png", "png", "image/png", (48, 32)),
        ("webp", "webp", "image/webp", (50, 30)),
        ("gif", "gif", "image/gif", (40, 30)),
    ],
)
async def test_probe_images(
    images: dict[str, bytes], name: str, format: str, content_type: str, size: tuple[int, int]
) -> None:
    info = await probe(images[name])
    assert (info.kind, info.format, info.content_type) == ("image", format, content_type)
    assert (info.width, info.height) == size
    assert info.duration is None
    assert not info.has_audio


async def test_probe_reports_exif_rotation(rotated_jpeg: bytes) -> None:
    info = await probe(rotated_jpeg)
    assert (info.width, info.height, info.rotation) == (60, 40, 90)


async def test_probe_mp4(mp4: bytes) -> None:
    info = await probe(mp4)
    assert info == MediaInfo(
        kind="video",
        format="mp4",
        content_type="video/mp4",
        width=160,
        height=120,
        duration=info.duration,
        frame_rate=25.0,
        video_codec="h264",
        audio_codec="aac",
        bit_rate=info.bit_rate,
        rotation=0,
        has_audio=True,
    )
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.bit_rate
    assert info.bit_rate > 0


async def test_probe_webm(webm: bytes) -> None:
    info = await probe(webm)
    assert (info.kind, info.format, info.content_type) == ("video", "webm", "video/webm")
    assert (info.video_codec, info.audio_codec) == ("vp9", "opus")


async def test_probe_audio_only(ogg: bytes) -> None:
    info = await probe(ogg)
    assert (info.kind, info.format, info.content_type) == ("audio", "ogg", "audio/ogg")
    assert info.width is None
    assert info.video_codec is None
    assert info.has_audio
    assert info.audio_codec == "opus"
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_sync_probe_reads_paths_bytes_and_files(tmp_path: object, mp4: bytes) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "clip.mp4"
    path.write_bytes(mp4)
    by_path = sync.probe(path)
    assert by_path == sync.probe(str(path)) == sync.probe(mp4) == sync.probe(io.BytesIO(mp4))
    with path.open("rb") as file:
        assert sync.probe(file) == by_path


def test_a_misleading_extension_does_not_matter(tmp_path: object, images: dict[str, bytes]) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "actually-a-png.jpg"
    path.write_bytes(images["png"])
    assert sync.probe(path).format == "png"


async def test_playlists_are_never_parsed() -> None:
    """FFmpeg's HLS and concat demuxers can open other files; they are never tried."""
    for text in (b"#EXTM3U\n#EXT-X-VERSION:3\nfile:///etc/passwd\n", b"ffconcat version 1.0\n"):
        with pytest.raises(UnsupportedMediaError):
            await probe(text)


def test_factory_video_is_not_empty() -> None:
    assert len(factory.video(seconds=0.2, audio=None)) > 100
