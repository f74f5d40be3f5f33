"""`probe`: what a file is, from its headers, without decoding its pixels or samples."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

from infrakit.media._errors import (
    MediaProcessingError,
    MediaTooLargeError,
    UnsupportedMediaError,
)
from infrakit.media._formats import (
    FORMATS,
    name_av_format,
    sniff_av_format,
    sniff_image_format,
)
from infrakit.media._guard import load_av, load_pillow, translated
from infrakit.media._io import SourceFile
from infrakit.media._options import Deadline, MediaLimits
from infrakit.media._protocol import MediaInfo

__all__ = [
    "ORIENTATION_ROTATION",
    "media_duration",
    "open_container",
    "open_image",
    "probe_source",
    "video_stream",
]

# EXIF orientation -> clockwise degrees the picture must turn to stand upright.
ORIENTATION_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}
EXIF_ORIENTATION = 0x0112


def probe_source(
    source: SourceFile, limits: MediaLimits, deadline: Deadline | None = None
) -> MediaInfo:
    """Describe `source`: an image through Pillow, anything else through PyAV."""
    image_format = sniff_image_format(source.head)
    if image_format is not None:
        with open_image(source, image_format, limits) as image:
            return _image_info(image, image_format)
    with open_container(source, limits, deadline) as container:
        return _av_info(container, source.head)


@contextmanager
def open_image(source: SourceFile, image_format: str, limits: MediaLimits) -> Iterator[Any]:
    """Open the header with the one Pillow plugin the bytes announced, and check the size."""
    image_module = load_pillow()
    with translated("image"):
        try:
            image = image_module.open(source.file, formats=[image_format])
        except image_module.UnidentifiedImageError as error:
            # the bytes announced this format, so its plugin refusing them means damage
            raise MediaProcessingError(
                f"the {image_format} header is corrupt or truncated"
            ) from error
    with image:
        limits.check_size(*image.size)
        yield image


def _image_info(image: Any, image_format: str) -> MediaInfo:
    known = FORMATS[image_format.lower()]
    with translated("image"):
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    width, height = image.size
    return MediaInfo(
        kind="image",
        format=known.name,
        content_type=known.content_type,
        width=width,
        height=height,
        rotation=ORIENTATION_ROTATION.get(orientation, 0),
    )


@contextmanager
def open_container(
    source: SourceFile,
    limits: MediaLimits,
    deadline: Deadline | None = None,
    *,
    decode_to_probe: bool = True,
) -> Iterator[Any]:
    """Open an audio/video container with the one demuxer the bytes announce; always closed.

    The duration and every video stream's frame size are checked before a frame is
    decoded, so a file claiming hours or gigapixels is refused up front.

    Args:
        decode_to_probe: let FFmpeg decode the first frames while it reads the stream
            parameters (the pixel format, the reordering delay). A caller that decodes
            anyway passes False: its own decoder finds them, and the open no longer
            costs a keyframe's decode (30-40 ms for 1080p H.264).
    """
    demuxer = sniff_av_format(source.head)
    if demuxer is None:
        raise UnsupportedMediaError("the source is not an image, video or audio file")
    av = load_av()
    # options given to every stream's probing decoder only (the container ignores them)
    options = None if decode_to_probe else {"skip_frame": "all"}
    with translated("media file"):
        # no `timeout=`: PyAV's interrupt callback takes the GIL on every FFmpeg I/O
        # step and slows decoding by a fifth or more; the deadline is checked per frame
        container = av.open(source.path or source.file, "r", format=demuxer, options=options)
    try:
        if deadline is not None:
            deadline.check()  # probing a long or odd file can take a while
        _check_limits(container, limits)
        yield container
    finally:
        container.close()


def _check_limits(container: Any, limits: MediaLimits) -> None:
    if not container.streams.video and not container.streams.audio:
        raise MediaProcessingError("the file has no readable video or audio stream")
    duration = media_duration(container)
    if duration is not None and duration > limits.max_duration:
        raise MediaTooLargeError(
            f"the media lasts {duration:.0f} s, over the limit of {limits.max_duration:g} s",
            details={"duration": duration, "max_duration": limits.max_duration},
        )
    for stream in container.streams.video:
        width, height = stream.codec_context.width, stream.codec_context.height
        if width and height:
            limits.check_size(width, height)


def video_stream(container: Any) -> Any | None:
    """The first video stream that is a picture sequence, not an attached cover image."""
    attached = load_av().stream.Disposition.attached_pic
    for stream in container.streams.video:
        if not stream.disposition & attached:
            return stream
    return None


def media_duration(container: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000
    for stream in container.streams:
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return None


def _av_info(container: Any, head: bytes) -> MediaInfo:
    video = video_stream(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    known = name_av_format(sniff_av_format(head) or "", head, video is not None)
    rate: Fraction | None = (video.average_rate or video.guessed_rate) if video else None
    return MediaInfo(
        kind="video" if video is not None else "audio",
        format=known.name,
        content_type=known.content_type,
        width=video.codec_context.width if video else None,
        height=video.codec_context.height if video else None,
        duration=media_duration(container),
        frame_rate=float(rate) if rate else None,
        video_codec=video.codec_context.codec.canonical_name if video else None,
        audio_codec=audio.codec_context.codec.canonical_name if audio else None,
        bit_rate=container.bit_rate or None,
        rotation=_rotation(video) if video else 0,
        has_audio=audio is not None,
    )


def _rotation(stream: Any) -> int:
    """Clockwise display rotation from the stream's `rotate` tag (0 when absent)."""
    try:
        return int(stream.metadata.get("rotate", 0)) % 360
    except ValueError:
        return 0
