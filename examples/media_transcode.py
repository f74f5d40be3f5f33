"""Transcode a video to 360p H.264 with progress, pull out its sound, in async and sync forms.

Runs with the `media` extra and no server: `cd examples && python media_transcode.py`.
It makes its own two-second 640 x 480 MP4 with an AAC track.
"""

from __future__ import annotations

import asyncio
import tempfile
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from infrakit.media import AudioOptions, MediaProcessor, VideoOptions, sync


def source_video(path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 640, 480, "yuv420p"
        sound = container.add_stream("aac", rate=48_000)
        for index in range(50):
            frame = av.VideoFrame.from_image(Image.new("RGB", (640, 480), (index * 5, 120, 200)))
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for index in range(96):
            samples = av.AudioFrame(format="s16", layout="mono", samples=1000)
            samples.planes[0].update(bytes(2000))
            samples.sample_rate, samples.pts, samples.time_base = (
                48_000,
                index * 1000,
                Fraction(1, 48_000),
            )
            container.mux(sound.encode(samples))
        container.mux(sound.encode(None))


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        original = folder / "original.mp4"
        source_video(original)
        async with MediaProcessor() as media:
            before = await media.probe(original)
            codecs = f"{before.video_codec}/{before.audio_codec}"
            print(f"original: {before.width}x{before.height} {codecs}, {before.duration:.2f} s")

            marks: list[float] = []
            result = await media.transcode_video(
                original,
                folder / "small.mp4",
                VideoOptions(height=360, crf=28, preset="ultrafast"),
                progress=marks.append,
            )
            print(f"360p: {result.width}x{result.height}, {result.duration:.2f} s, {result.size} B")
            print(f"progress reached {marks[-1]:.0%} in {len(marks)} steps")
            assert (result.width, result.height) == (480, 360)

            sound = await media.transcode_audio(
                original, folder / "sound.m4a", AudioOptions(bit_rate=96_000)
            )
            print(f"sound: {sound.content_type}, {sound.duration:.2f} s")

        # The same operation, blocking, for a script or a WSGI view: same names, same core.
        webm = sync.transcode_video(
            original,
            folder / "small.webm",
            VideoOptions(codec="vp9", width=160, audio_codec="opus"),
        )
        info = sync.probe(folder / "small.webm")
        print(f"sync webm: {webm.width}x{webm.height} {info.video_codec}/{info.audio_codec}")


if __name__ == "__main__":
    asyncio.run(main())
