"""Transcoding, audio extraction, poster frames and process_media's dispatch."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from infrakit.media import (
    AudioOptions,
    ImageOptions,
    MediaProcessor,
    UnsupportedMediaError,
    VideoOptions,
    generate_thumbnail,
    sync,
    transcode_video,
)
from tests.media import factory


@pytest.fixture
async def processor() -> MediaProcessor:
    return MediaProcessor(max_workers=2)


async def test_two_second_mp4_to_360p_h264(tmp_path: Path) -> None:
    source = factory.video(size=(640, 480), seconds=2.0)
    target = tmp_path / "small.mp4"
    result = await transcode_video(
        source, target, VideoOptions(height=360, crf=30, preset="ultrafast")
    )
    info = sync.probe(target)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (
        480,
        360,
        "h264",
        "aac",
    )
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert (result.width, result.height, result.format) == (480, 360, "mp4")
    assert result.duration == pytest.approx(2.0, abs=0.05)
    assert result.size == target.stat().st_size


async def test_webm_to_mp4_with_lower_frame_rate(processor: MediaProcessor, webm: bytes) -> None:
    output = io.BytesIO()
    await processor.transcode_video(webm, output, VideoOptions(width=80, fps=10, format="mp4"))
    info = sync.probe(output.getvalue())
    assert (info.width, info.height, info.frame_rate) == (80, 60, 10.0)
    assert info.duration == pytest.approx(1.0, abs=0.15)


async def test_mp4_to_vp9_webm_without_audio(
    processor: MediaProcessor, mp4: bytes, tmp_path: Path
) -> None:
    target = tmp_path / "clip.webm"
    options = VideoOptions(codec="vp9", width=64, audio_codec=None, bit_rate=100_000)
    result = await processor.transcode_video(mp4, target, options)
    info = sync.probe(target)
    assert (result.format, info.format, info.video_codec, info.has_audio) == (
        "webm",
        "webm",
        "vp9",
        False,
    )


async def test_progress_is_reported_on_the_loop_up_to_one(
    processor: MediaProcessor, mp4: bytes
) -> None:
    import threading

    seen: list[tuple[float, bool]] = []
    loop_thread = threading.get_ident()

    def progress(fraction: float) -> None:
        seen.append((fraction, threading.get_ident() == loop_thread))

    await processor.transcode_video(mp4, io.BytesIO(), VideoOptions(width=32), progress=progress)
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(fractions) > 5
    assert all(on_loop for _, on_loop in seen)


async def test_transcode_audio_from_video_and_audio(
    processor: MediaProcessor, mp4: bytes, ogg: bytes, tmp_path: Path
) -> None:
    extracted = await processor.transcode_audio(mp4, tmp_path / "sound.m4a")
    assert (extracted.kind, extracted.format, extracted.content_type) == (
        "audio",
        "m4a",
        "audio/mp4",
    )
    assert extracted.duration == pytest.approx(2.0, abs=0.1)
    mp3 = io.BytesIO()
    await processor.transcode_audio(
        ogg, mp3, AudioOptions(codec="mp3", channels=1, bit_rate=64_000)
    )
    info = sync.probe(mp3.getvalue())
    assert (info.kind, info.format, info.audio_codec) == ("audio", "mp3", "mp3")


async def test_transcode_audio_refuses_a_silent_video(processor: MediaProcessor) -> None:
    with pytest.raises(UnsupportedMediaError):
        await processor.transcode_audio(factory.video(seconds=0.4, audio=None), io.BytesIO())


@pytest.mark.parametrize("format", ["jpeg", "webp", "png"])
async def test_video_thumbnail(mp4: bytes, format: str) -> None:
    output = io.BytesIO()
    assert await generate_thumbnail(mp4, output, 64, format=format) is output
    picture = Image.open(io.BytesIO(output.getvalue()))
    assert picture.format == format.upper()
    assert picture.size == (64, 48)


async def test_video_thumbnail_skips_black_frames(processor: MediaProcessor) -> None:
    # black for the first 30%: the 10% and 25% candidates are black, 50% is not
    source = factory.video(seconds=2.0, black_until=0.6, audio=None)
    output = io.BytesIO()
    await processor.generate_thumbnail(source, output, 32, format="png")
    brightest = Image.open(io.BytesIO(output.getvalue())).convert("L").getextrema()[1]
    assert brightest > 40


async def test_image_thumbnail(processor: MediaProcessor, images: dict[str, bytes]) -> None:
    for data in images.values():
        output = io.BytesIO()
        await processor.generate_thumbnail(data, output, 16)
        picture = Image.open(io.BytesIO(output.getvalue()))
        assert picture.format == "JPEG"
        assert max(picture.size) == 16


async def test_process_media_dispatches_on_the_detected_kind(
    processor: MediaProcessor, images: dict[str, bytes], mp4: bytes, ogg: bytes
) -> None:
    image = await processor.process_media(images["png"], io.BytesIO(), ImageOptions(width=10))
    assert (image.kind, image.content_type, image.width) == ("image", "image/png", 10)
    video = await processor.process_media(mp4, io.BytesIO(), VideoOptions(width=32))
    assert (video.kind, video.content_type, video.width) == ("video", "video/mp4", 32)
    poster = await processor.process_media(mp4, io.BytesIO(), ImageOptions(width=20, format="webp"))
    assert (poster.kind, poster.content_type, poster.width) == ("image", "image/webp", 20)
    audio = await processor.process_media(
        ogg, io.BytesIO(), AudioOptions(format="ogg", codec="opus")
    )
    assert (audio.kind, audio.content_type) == ("audio", "audio/ogg")
    with pytest.raises(UnsupportedMediaError):
        await processor.process_media(ogg, io.BytesIO(), ImageOptions(width=10))
    with pytest.raises(UnsupportedMediaError):
        await processor.process_media(ogg, io.BytesIO(), VideoOptions())
    assert processor.get_stats().operations == {
        "probe": 6,
        "image": 1,
        "video": 1,
        "thumbnail": 1,
        "audio": 1,
    }


def test_sync_transcode_reports_progress_on_the_calling_thread(mp4: bytes) -> None:
    seen: list[float] = []
    result = sync.MediaProcessor().transcode_video(
        mp4, io.BytesIO(), VideoOptions(width=32), progress=seen.append
    )
    assert result.width == 32
    assert seen[-1] == 1.0


async def test_poster_frame_of_a_rotated_video_is_upright(processor: MediaProcessor) -> None:
    output = io.BytesIO()
    await processor.generate_thumbnail(factory.rotated_video(90), output, 64, format="png")
    picture = Image.open(io.BytesIO(output.getvalue())).convert("RGB")
    assert picture.size == (32, 64)
    # turned 90 degrees counter-clockwise, as FFmpeg shows it: the left (red) half is below
    red, blue = picture.getpixel((16, 56)), picture.getpixel((16, 8))
    assert red[0] > 150 > red[2]
    assert blue[2] > 150 > blue[0]


@pytest.mark.parametrize("name", ["mp4", "webm"])
async def test_every_video_format_thumbnails_and_gives_its_sound(
    processor: MediaProcessor, mp4: bytes, webm: bytes, name: str
) -> None:
    source = {"mp4": mp4, "webm": webm}[name]
    output = io.BytesIO()
    await processor.generate_thumbnail(source, output, 40, format="webp")
    assert Image.open(io.BytesIO(output.getvalue())).size == (40, 30)
    sound = io.BytesIO()
    result = await processor.transcode_audio(source, sound, AudioOptions(codec="opus"))
    assert (result.format, sync.probe(sound.getvalue()).audio_codec) == ("ogg", "opus")


async def test_transcoding_keeps_a_phone_video_upright(processor: MediaProcessor) -> None:
    output = io.BytesIO()
    await processor.transcode_video(factory.rotated_video(90), output, VideoOptions(width=32))
    thumbnail = io.BytesIO()
    await processor.generate_thumbnail(output.getvalue(), thumbnail, 64, format="png")
    assert Image.open(io.BytesIO(thumbnail.getvalue())).size == (16, 32)


def poster_colour(source: bytes) -> tuple[int, int, int]:
    output = io.BytesIO()
    sync.generate_thumbnail(source, output, 16, format="png")
    picture = Image.open(io.BytesIO(output.getvalue())).convert("RGB")
    colour = picture.getpixel((8, 6))
    assert isinstance(colour, tuple)
    return colour[0], colour[1], colour[2]


def test_poster_is_the_keyframe_after_ten_percent_when_one_is_near() -> None:
    # 4 s, a keyframe every second: 10% is 0.4 s (frame 10); the keyframe after is frame 25
    red = poster_colour(factory.video(seconds=4.0, gop=25, audio=None))[0]
    assert abs(red - factory.frame_colour(25)[0]) <= 8


def test_poster_of_a_one_keyframe_clip_is_decoded_to_ten_percent() -> None:
    # no keyframe after 0.4 s: decoded forward from the start to frame 10 (or the next
    # reference frame, B-frames being skipped), not the keyframe at 0 nor one far after
    red = poster_colour(factory.video(seconds=4.0, gop=250))[0]
    assert factory.frame_colour(10)[0] - 4 <= red <= factory.frame_colour(14)[0] + 4


def test_poster_skips_black_keyframes() -> None:
    # black until 55%, a keyframe every 10 frames: the keyframes taken for 10%, 25% and
    # 50% (frames 10, 30, 50) are black; the one for 75% (frame 80) is not
    source = factory.video(seconds=4.0, gop=10, black_until=2.2, audio=None)
    red = poster_colour(source)[0]
    assert abs(red - factory.frame_colour(80)[0]) <= 8


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_threaded_poster_decode_leaves_no_thread_or_descriptor(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(factory.video(seconds=2.0, gop=10, size=(320, 240)))
    sync.generate_thumbnail(source, tmp_path / "warm.jpg", 32)  # libraries' own threads
    threads, descriptors = len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))
    for index in range(3):
        sync.generate_thumbnail(source, tmp_path / f"poster{index}.jpg", 32)
    assert len(os.listdir("/proc/self/task")) == threads
    assert len(os.listdir("/proc/self/fd")) == descriptors
