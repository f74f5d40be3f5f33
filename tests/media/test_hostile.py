"""A corpus of hostile files: each one ends in its documented error, in time, in bounded memory.

Never a Pillow or PyAV exception, never a hang, never the picture a bomb's header
claims allocated in memory.
"""

from __future__ import annotations

import io
import random
import resource
import struct
from collections.abc import Callable

import pytest

from infrakit.media import (
    MediaLimits,
    MediaProcessingError,
    MediaProcessor,
    MediaTooLargeError,
    UnsupportedMediaError,
)
from infrakit.media import sync as media_sync
from tests.media import factory

INVALID, TOO_LARGE, UNSUPPORTED = MediaProcessingError, MediaTooLargeError, UnsupportedMediaError


class Unseekable(io.RawIOBase):
    """A pipe-like stream: readable, not seekable."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _corrupted(data: bytes, start: int, seed: int = 7) -> bytes:
    noise = random.Random(seed).randbytes(len(data) - start)
    return data[:start] + noise


def _corpus() -> list[tuple[str, Callable[[], object], type[Exception]]]:
    noise = random.Random(1)
    jpeg = factory.jpeg((64, 48))
    png = factory.png_with_alpha((64, 48))
    webp = factory.webp((64, 48))
    gif = factory.animated_gif()
    mp4 = factory.video(seconds=0.5, size=(64, 48))
    webm = factory.video("webm", "libvpx-vp9", seconds=0.5, size=(64, 48), audio=None)
    ogg = factory.audio(seconds=0.5)
    wav = factory.audio("wav", "pcm_s16le", seconds=0.5)
    flac = factory.audio("flac", "flac", seconds=0.5)
    return [
        ("zero bytes", lambda: b"", INVALID),
        ("one byte", lambda: b"\xff", UNSUPPORTED),
        ("random 1 KiB", lambda: noise.randbytes(1024), UNSUPPORTED),
        ("random 64 KiB", lambda: noise.randbytes(65536), UNSUPPORTED),
        ("text named like a jpeg", lambda: b"just some text, not a picture\n" * 10, UNSUPPORTED),
        ("html", lambda: b"<!doctype html><html><script>alert(1)</script></html>", UNSUPPORTED),
        ("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', UNSUPPORTED),
        ("pdf", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", UNSUPPORTED),
        ("zip", lambda: b"PK\x03\x04" + bytes(100), UNSUPPORTED),
        ("tiff is not accepted", lambda: _tiff(), UNSUPPORTED),
        ("hls playlist", lambda: b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", UNSUPPORTED),
        ("ffconcat script", lambda: b"ffconcat version 1.0\nfile /etc/passwd\n", UNSUPPORTED),
        ("jpeg soi only", lambda: b"\xff\xd8\xff", INVALID),
        ("jpeg truncated in the header", lambda: jpeg[:40], INVALID),
        ("jpeg truncated in the scan", lambda: jpeg[: len(jpeg) * 3 // 4], INVALID),
        ("jpeg with a noise scan", lambda: _corrupted(jpeg, len(jpeg) // 2), INVALID),
        ("jpeg claiming 60000x60000", lambda: factory.jpeg_claiming(60000, 60000), TOO_LARGE),
        ("jpeg claiming 0x0", lambda: factory.jpeg_claiming(0, 0), INVALID),
        ("png signature only", lambda: png[:8], INVALID),
        ("png truncated", lambda: png[: len(png) // 2], INVALID),
        ("png with noise after the header", lambda: _corrupted(png, 33), INVALID),
        ("png bomb 20000x20000, a few KB", lambda: factory.png_bomb(), TOO_LARGE),
        ("png bomb 20000x20000, every row", lambda: factory.png_bomb(rows=None), TOO_LARGE),
        ("png 1 x 100000", lambda: factory.png_header(1, 100_000), TOO_LARGE),
        ("png header without data", lambda: factory.png_header(64, 64), INVALID),
        ("gif header only", lambda: gif[:13], INVALID),
        ("gif truncated", lambda: gif[: len(gif) // 2], INVALID),
        (
            "gif claiming 65535x65535",
            lambda: b"GIF89a" + struct.pack("<HH", 65535, 65535) + gif[10:],
            TOO_LARGE,
        ),
        ("webp truncated", lambda: webp[: len(webp) // 2], INVALID),
        ("webp riff header only", lambda: webp[:16], INVALID),
        ("bmp claiming 30000x30000", lambda: _bmp(30000, 30000), TOO_LARGE),
        ("mp4 ftyp only", lambda: mp4[:32], INVALID),
        ("mp4 truncated", lambda: mp4[: len(mp4) // 2], INVALID),
        ("mp4 with noise after ftyp", lambda: _corrupted(mp4, 32), INVALID),
        ("webm ebml header only", lambda: webm[:40], INVALID),
        ("webm truncated", lambda: webm[: len(webm) // 3], INVALID),
        ("ogg truncated", lambda: ogg[:60], INVALID),
        ("wav header only", lambda: wav[:12], INVALID),
        ("flac header only", lambda: flac[:8], INVALID),
        ("id3 tag without audio", lambda: b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16), INVALID),
    ]


def _tiff() -> bytes:
    buffer = io.BytesIO()
    factory.split_picture().save(buffer, "TIFF")
    return buffer.getvalue()


def _bmp(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info


CORPUS = _corpus()
# Damaged after an intact header: probe (which reads only headers) describes them.
HEADER_INTACT = {"jpeg with a noise scan", "gif truncated"}
LIMITS = MediaLimits(timeout=20.0)


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize(("name", "make", "expected"), CORPUS, ids=[name for name, _, _ in CORPUS])
def test_hostile_file_ends_in_its_documented_error(
    name: str, make: Callable[[], bytes], expected: type[Exception]
) -> None:
    data = make()
    processor = media_sync.MediaProcessor(limits=LIMITS)
    if name in HEADER_INTACT:
        assert processor.probe(data).kind == "image"
    else:
        with pytest.raises(expected):
            processor.probe(data)
    for operation in (
        lambda: processor.generate_thumbnail(data, io.BytesIO(), 32),
        lambda: processor.process_media(data, io.BytesIO()),
    ):
        with pytest.raises(expected) as caught:
            operation()
        error = caught.value
        assert error.code == expected.code  # type: ignore[attr-defined]
        assert error.__cause__ is None or not isinstance(error.__cause__, MediaProcessingError)
    failures = processor.get_stats().failures_by_code
    count = 2 if name in HEADER_INTACT else 3
    assert failures == {expected.code: count}  # type: ignore[attr-defined]


def test_foreign_exceptions_are_chained_not_raised() -> None:
    with pytest.raises(MediaProcessingError) as caught:
        media_sync.probe(factory.jpeg()[:300])
    assert caught.value.__cause__ is not None
    assert type(caught.value.__cause__).__module__.split(".")[0] in {"PIL", "builtins"}
    assert caught.value.to_problem()["status"] == 422


def test_an_unseekable_stream_is_read_within_the_limit() -> None:
    limits = MediaLimits(max_input_bytes=1000)
    processor = media_sync.MediaProcessor(limits=limits)
    with pytest.raises(MediaTooLargeError):
        processor.probe(Unseekable(bytes(5000)))  # type: ignore[arg-type]
    assert processor.probe(Unseekable(factory.jpeg())).format == "jpeg"  # type: ignore[arg-type]


def test_duration_and_dimension_limits_apply_to_video(mp4: bytes) -> None:
    with pytest.raises(MediaTooLargeError, match="lasts"):
        media_sync.MediaProcessor(limits=MediaLimits(max_duration=1.0)).probe(mp4)
    with pytest.raises(MediaTooLargeError, match="pixels"):
        media_sync.MediaProcessor(limits=MediaLimits(max_pixels=100 * 100)).probe(mp4)


def test_the_whole_corpus_keeps_memory_bounded() -> None:
    """Resident memory may not grow by anything near the pictures the bombs claim (1.6 GB)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    processor = media_sync.MediaProcessor(limits=LIMITS)
    for _, make, expected in CORPUS:
        with pytest.raises(expected):
            processor.process_media(make(), io.BytesIO())
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200


async def test_async_form_gives_the_same_errors() -> None:
    processor = MediaProcessor(limits=LIMITS, max_workers=2)
    for _name, make, expected in CORPUS:
        with pytest.raises(expected):
            await processor.generate_thumbnail(make(), io.BytesIO(), 32)
    assert processor.get_stats().failures == len(CORPUS)
    await processor.close()
