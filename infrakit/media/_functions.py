"""The module-level coroutines: each one is a method of a shared default `MediaProcessor`."""

from __future__ import annotations

import threading

from infrakit.media._audio import Progress
from infrakit.media._core import MediaOptions
from infrakit.media._io import Source, Target
from infrakit.media._options import AudioOptions, ImageOptions, VideoOptions
from infrakit.media._processor import MediaProcessor
from infrakit.media._protocol import ImageMetadata, MediaInfo, MediaProcessingResult

__all__ = [
    "generate_thumbnail",
    "probe",
    "process_image",
    "process_media",
    "transcode_audio",
    "transcode_video",
]

_default: MediaProcessor | None = None
_default_lock = threading.Lock()


def _processor() -> MediaProcessor:
    """One processor with the default limits and pool, shared by every event loop."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MediaProcessor()
        return _default


async def probe(source: Source) -> MediaInfo:
    """`MediaProcessor.probe` on the shared default processor."""
    return await _processor().probe(source)


async def process_image(
    source: Source, target: Target, options: ImageOptions | None = None
) -> ImageMetadata:
    """`MediaProcessor.process_image` on the shared default processor."""
    return await _processor().process_image(source, target, options)


async def generate_thumbnail(
    source: Source, target: Target, size: int = 200, *, format: str = "jpeg"
) -> Target:
    """`MediaProcessor.generate_thumbnail` on the shared default processor."""
    return await _processor().generate_thumbnail(source, target, size, format=format)


async def process_media(
    source: Source,
    target: Target,
    options: MediaOptions | None = None,
    *,
    progress: Progress | None = None,
) -> MediaProcessingResult:
    """`MediaProcessor.process_media` on the shared default processor."""
    return await _processor().process_media(source, target, options, progress=progress)


async def transcode_video(
    source: Source,
    target: Target,
    options: VideoOptions | None = None,
    *,
    progress: Progress | None = None,
) -> MediaProcessingResult:
    """`MediaProcessor.transcode_video` on the shared default processor."""
    return await _processor().transcode_video(source, target, options, progress=progress)


async def transcode_audio(
    source: Source,
    target: Target,
    options: AudioOptions | None = None,
    *,
    progress: Progress | None = None,
) -> MediaProcessingResult:
    """`MediaProcessor.transcode_audio` on the shared default processor."""
    return await _processor().transcode_audio(source, target, options, progress=progress)
