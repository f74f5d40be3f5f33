"""Media the tests make for themselves with Pillow and PyAV: tiny, deterministic, in memory."""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction

import av
from PIL import Image

LEFT, RIGHT = (220, 20, 20), (20, 20, 220)
EXIF_ORIENTATION, EXIF_MAKE, EXIF_GPS = 0x0112, 0x010F, 0x8825


def split_picture(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """Red left half, blue right half: a rotation shows where the red went."""
    picture = Image.new("RGB", size, RIGHT)
    picture.paste(LEFT, (0, 0, size[0] // 2, size[1]))
    return picture


def jpeg(
    size: tuple[int, int] = (60, 40), *, orientation: int | None = None, gps: bool = False
) -> bytes:
    picture = split_picture(size)
    exif = Image.Exif()
    if orientation is not None:
        exif[EXIF_ORIENTATION] = orientation
    if gps:
        exif[EXIF_MAKE] = "TestCamera"
        gps_ifd = exif.get_ifd(EXIF_GPS)
        gps_ifd[1] = "N"
        gps_ifd[2] = (52.0, 22.0, 30.0)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90, exif=exif.tobytes(), comment=b"private note")
    return buffer.getvalue()


def png_with_alpha(size: tuple[int, int] = (48, 32)) -> bytes:
    picture = Image.new("RGBA", size, (0, 200, 0, 0))
    picture.paste((0, 200, 0, 255), (0, 0, size[0] // 2, size[1]))
    return _saved(picture, "PNG")


def webp(size: tuple[int, int] = (50, 30)) -> bytes:
    return _saved(split_picture(size), "WEBP", quality=80)


def animated_gif(size: tuple[int, int] = (40, 30), frames: int = 3) -> bytes:
    pictures = [Image.new("P", size, index * 60) for index in range(frames)]
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return buffer.getvalue()


def _saved(picture: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format, **options)
    return buffer.getvalue()


def video(
    format: str = "mp4",
    codec: str = "libx264",
    *,
    seconds: float = 2.0,
    size: tuple[int, int] = (160, 120),
    rate: int = 25,
    audio: str | None = "aac",
    black_until: float = 0.0,
    gop: int | None = None,
) -> bytes:
    """A small video whose frames change colour; frames before `black_until` s are black.

    Frame `index` is `frame_colour(index)`. With `gop` (libx264 only), a keyframe every
    `gop` frames and nowhere else; without, the encoder's default (one, for clips this
    short).
    """
    buffer = io.BytesIO()
    options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"} if gop else {}
    with av.open(buffer, "w", format=format) as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        sound = container.add_stream(audio, rate=48_000) if audio else None
        for index in range(int(seconds * rate)):
            colour = (0, 0, 0) if index / rate < black_until else frame_colour(index)
            frame = av.VideoFrame.from_image(Image.new("RGB", size, colour))
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            _add_silence(container, sound, seconds)
    return buffer.getvalue()


def frame_colour(index: int) -> tuple[int, int, int]:
    """The colour of frame `index` of `video()` (past its black start): red tells the frame."""
    shade = 60 + (index * 7) % 180
    return (shade, 255 - shade, 90)


def audio(format: str = "ogg", codec: str = "libopus", *, seconds: float = 1.0) -> bytes:
    """An audio-only file of a quiet tone-free signal."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=format) as container:
        sound = container.add_stream(codec, rate=48_000)
        _add_silence(container, sound, seconds)
    return buffer.getvalue()


def _add_silence(
    container: av.container.OutputContainer, sound: av.AudioStream, seconds: float
) -> None:
    samples = 0
    for _ in range(int(seconds * 48)):
        frame = av.AudioFrame(format="s16", layout="mono", samples=1000)
        frame.planes[0].update(bytes(2000))
        frame.sample_rate = 48_000
        frame.pts, frame.time_base = samples, Fraction(1, 48_000)
        samples += 1000
        container.mux(sound.encode(frame))
    container.mux(sound.encode(None))


def png_bomb(width: int = 20_000, height: int = 20_000, *, rows: int | None = 200) -> bytes:
    """A PNG claiming width x height 1-bit pixels, all zero, of a few kilobytes.

    With `rows=None` every row is there (about 50 KB); by default only the first
    rows are, as in a bomb made to be small: a decoder that trusted the header would
    allocate the full picture before finding out.
    """
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    count = height if rows is None else rows
    data = b"".join(compressor.compress(row) for _ in range(count)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims a size and whose pixel data is missing."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is patched to claim another size."""
    data = bytearray(jpeg((16, 16)))
    marker = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, marker + 5, height, width)
    return bytes(data)


def rotated_video(degrees: int = 90) -> bytes:
    """A 64x32 clip (red left half, blue right) whose display matrix turns it `degrees` CCW."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(degrees)
        for index in range(10):
            frame = av.VideoFrame.from_image(split_picture((64, 32)))
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
