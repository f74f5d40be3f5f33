"""Thumbnails of a phone photo and of a video, safely: upright, no GPS, hostile files refused.

Runs with the `media` extra and no server: `cd examples && python media_thumbnails.py`.
It makes its own media: a JPEG with an EXIF orientation and a GPS position, a short
MP4 that starts black, and a 20,000 x 20,000 PNG "bomb" of a few hundred bytes.
"""

from __future__ import annotations

import asyncio
import io
import struct
import tempfile
import zlib
from pathlib import Path

import av
from PIL import Image

from infrakit.media import (
    ImageOptions,
    MediaError,
    MediaProcessor,
    get_output_content_type,
)


def phone_photo() -> bytes:
    """A landscape sensor image that the camera says to turn 90 degrees, with a GPS tag."""
    picture = Image.new("RGB", (1200, 800), (30, 90, 200))
    picture.paste((230, 60, 30), (0, 0, 600, 800))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to show
    exif.get_ifd(0x8825)[2] = (52.0, 22.0, 30.0)  # GPS latitude
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def clip(path: Path) -> None:
    """Two seconds of 320 x 240 H.264 whose first half second is black."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(50):
            colour = (0, 0, 0) if index < 12 else (40 + index * 4, 160, 90)
            frame = av.VideoFrame.from_image(Image.new("RGB", (320, 240), colour))
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def png_bomb() -> bytes:
    """A PNG whose header claims 20,000 x 20,000 pixels: 400 megapixels in 600 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 20_000, 20_000, 1, 0, 0, 0, 0)
    data = zlib.compress(bytes(2501) * 100, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


async def main() -> None:
    async with MediaProcessor(max_workers=2) as media:
        with tempfile.TemporaryDirectory() as directory:
            folder = Path(directory)
            photo = folder / "photo.jpg"
            photo.write_bytes(phone_photo())
            info = await media.probe(photo)
            print(f"photo: stored {info.width}x{info.height}, shown turned {info.rotation} degrees")

            thumbnail = folder / "photo-thumb.webp"
            await media.generate_thumbnail(photo, thumbnail, 200, format="webp")
            with Image.open(thumbnail) as made:
                width, height = made.size
                print(f"thumbnail: {width}x{height} {made.format}, EXIF: {dict(made.getexif())}")
                assert made.size == (133, 200)
                assert not made.getexif()

            square = await media.process(
                photo,
                folder / "avatar.png",
                ImageOptions(width=96, height=96, fit="cover", format="png"),
            )
            print(
                f"avatar: {square.width}x{square.height} {square.content_type}, {square.size} bytes"
            )

            video = folder / "clip.mp4"
            clip(video)
            poster = folder / "poster.jpg"
            await media.generate_thumbnail(video, poster, 160)
            with Image.open(poster) as made:
                brightness = max(made.convert("L").getextrema())
                width, height = made.size
                print(f"poster frame: {width}x{height}, not black (brightest {brightness})")
                assert brightness > 40

            for name, hostile in (
                ("png bomb", png_bomb()),
                ("truncated jpeg", phone_photo()[:500]),
            ):
                try:
                    await media.generate_thumbnail(hostile, io.BytesIO(), 200)
                except MediaError as error:
                    print(f"{name}: refused with {error.code} ({error.status_code}): {error}")
        print(
            "content type of a PNG converted to WebP:", get_output_content_type("image/png", "webp")
        )
        stats = media.get_stats()
        print(f"operations: {dict(stats.operations)}, failures: {dict(stats.failures_by_code)}")


if __name__ == "__main__":
    asyncio.run(main())
