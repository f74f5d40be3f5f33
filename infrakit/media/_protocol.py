"""The shapes media hands back: what a probe found and what an operation wrote."""

from __future__ import annotations

from dataclasses import dataclass

from infrakit.media._formats import MediaKind

__all__ = ["ImageMetadata", "MediaInfo", "MediaProcessingResult"]


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What `probe` found, read from the headers (nothing is decoded).

    `width` and `height` are the stored picture's; `rotation` (0, 90, 180, 270,
    clockwise) is how it is meant to be shown (EXIF orientation, or a video's display
    matrix). `duration` and `bit_rate` are None when the container does not say.
    """

    kind: MediaKind
    format: str
    content_type: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None
    rotation: int = 0
    has_audio: bool = False


@dataclass(frozen=True, slots=True)
class ImageMetadata:
    """The image `ImageProcessor.process` wrote: its size, format and byte count."""

    width: int
    height: int
    format: str
    content_type: str
    size: int
    has_alpha: bool


@dataclass(frozen=True, slots=True)
class MediaProcessingResult:
    """What `process_media` produced, whatever the kind of its input."""

    kind: MediaKind
    format: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None
