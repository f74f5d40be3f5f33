"""The blocking forms, for scripts, WSGI apps and worker processes: the same names, no event loop.

Each call runs the shared core on the calling thread, with the same limits,
deadline, errors and statistics as the async form; run several threads to run
several operations at once. Storage keys are an async-only feature (storage
providers are coroutines): here sources and targets are paths, bytes and files.
"""

from __future__ import annotations

import threading
from types import TracebackType as _TracebackType
from typing import TYPE_CHECKING
from typing import Self as _Self

from infrakit.media._audio import Progress
from infrakit.media._core import MediaCore as _MediaCore
from infrakit.media._core import MediaOptions
from infrakit.media._formats import get_output_content_type
from infrakit.media._io import Source, Target
from infrakit.media._options import AudioOptions, ImageOptions, MediaLimits, VideoOptions
from infrakit.media._options import Deadline as _Deadline
from infrakit.media._protocol import ImageMetadata, MediaInfo, MediaProcessingResult
from infrakit.media._stats import MediaStats
from infrakit.media._stats import StatsRecorder as _StatsRecorder

if TYPE_CHECKING:
    from infrakit.log import Logger

# The value types are re-exported so a blocking caller needs one import.
__all__ = [
    "AudioOptions",
    "ImageMetadata",
    "ImageOptions",
    "ImageProcessor",
    "MediaInfo",
    "MediaLimits",
    "MediaOptions",
    "MediaProcessingResult",
    "MediaProcessor",
    "MediaStats",
    "Progress",
    "Source",
    "Target",
    "VideoOptions",
    "generate_thumbnail",
    "get_output_content_type",
    "probe",
    "process_image",
    "process_media",
    "transcode_audio",
    "transcode_video",
]


class ImageProcessor:
    """The blocking `infrakit.media.ImageProcessor`: same methods, run on the caller's thread.

    Args:
        limits: what inputs are accepted and how long an operation may take.
        logger: defaults to `get_logger("infrakit.media")`.
    """

    def __init__(self, *, limits: MediaLimits | None = None, logger: Logger | None = None) -> None:
        self.limits = limits or MediaLimits()
        self._stats = _StatsRecorder()
        self._core = _MediaCore(self.limits, self._stats, logger)
        self.closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limits={self.limits!r})"

    def _deadline(self) -> _Deadline:
        if self.closed:
            from infrakit.media._errors import MediaBusyError

            raise MediaBusyError("the media processor is closed")
        return _Deadline(self.limits.timeout)

    def process(
        self, source: Source, target: Target, options: ImageOptions | None = None
    ) -> ImageMetadata:
        """Resize and re-encode an image; see `infrakit.media.ImageProcessor.process`."""
        return self._core.process_image(source, target, options or ImageOptions(), self._deadline())

    def generate_thumbnail(
        self, source: Source, target: Target, size: int = 200, *, format: str = "jpeg"
    ) -> Target:
        """Write a thumbnail of an image or a video; returns `target`."""
        self._core.generate_thumbnail(source, target, size, format, self._deadline())
        return target

    def get_stats(self) -> MediaStats:
        """This processor's counters (the queue depth is always 0: there is no queue)."""
        return self._stats.snapshot()

    def health(self) -> bool:
        """True while the processor is open and its decoders import."""
        if self.closed:
            return False
        from infrakit.media._guard import load_av, load_pillow

        load_pillow()
        load_av()
        return True

    def close(self) -> None:
        """Refuse further work (operations already running finish)."""
        self.closed = True

    def __enter__(self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: _TracebackType | None,
    ) -> None:
        self.close()


class MediaProcessor(ImageProcessor):
    """The blocking `infrakit.media.MediaProcessor`; `progress` is called on the caller's thread."""

    @property
    def images(self) -> ImageProcessor:
        """This processor, seen as an `ImageProcessor`."""
        return self

    def probe(self, source: Source) -> MediaInfo:
        """Describe an image, video or audio file from its headers."""
        return self._core.probe(source, self._deadline())

    def process_image(
        self, source: Source, target: Target, options: ImageOptions | None = None
    ) -> ImageMetadata:
        """`ImageProcessor.process`, by the name `process_media` dispatches to."""
        return self.process(source, target, options)

    def process_media(
        self,
        source: Source,
        target: Target,
        options: MediaOptions | None = None,
        *,
        progress: Progress | None = None,
    ) -> MediaProcessingResult:
        """Process any media by its detected kind; see `infrakit.media.MediaProcessor`."""
        return self._core.process_media(source, target, options, self._deadline(), progress)

    def transcode_video(
        self,
        source: Source,
        target: Target,
        options: VideoOptions | None = None,
        *,
        progress: Progress | None = None,
    ) -> MediaProcessingResult:
        """Re-encode a video; see `infrakit.media.MediaProcessor.transcode_video`."""
        chosen = options or VideoOptions()
        return self._core.transcode_video(source, target, chosen, self._deadline(), progress)

    def transcode_audio(
        self,
        source: Source,
        target: Target,
        options: AudioOptions | None = None,
        *,
        progress: Progress | None = None,
    ) -> MediaProcessingResult:
        """Re-encode audio; see `infrakit.media.MediaProcessor.transcode_audio`."""
        chosen = options or AudioOptions()
        return self._core.transcode_audio(source, target, chosen, self._deadline(), progress)


_default: MediaProcessor | None = None
_default_lock = threading.Lock()


def _processor() -> MediaProcessor:
    global _default
    with _default_lock:
        if _default is None:
            _default = MediaProcessor()
        return _default


def probe(source: Source) -> MediaInfo:
    """`MediaProcessor().probe(source)` on a shared default processor."""
    return _processor().probe(source)


def process_image(
    source: Source, target: Target, options: ImageOptions | None = None
) -> ImageMetadata:
    """`MediaProcessor().process_image(...)` on the shared default processor."""
    return _processor().process_image(source, target, options)


def generate_thumbnail(
    source: Source, target: Target, size: int = 200, *, format: str = "jpeg"
) -> Target:
    """`MediaProcessor().generate_thumbnail(...)` on the shared default processor."""
    return _processor().generate_thumbnail(source, target, size, format=format)


def process_media(
    source: Source,
    target: Target,
    options: MediaOptions | None = None,
    *,
    progress: Progress | None = None,
) -> MediaProcessingResult:
    """`MediaProcessor().process_media(...)` on the shared default processor."""
    return _processor().process_media(source, target, options, progress=progress)


def transcode_video(
    source: Source,
    target: Target,
    options: VideoOptions | None = None,
    *,
    progress: Progress | None = None,
) -> MediaProcessingResult:
    """`MediaProcessor().transcode_video(...)` on the shared default processor."""
    return _processor().transcode_video(source, target, options, progress=progress)


def transcode_audio(
    source: Source,
    target: Target,
    options: AudioOptions | None = None,
    *,
    progress: Progress | None = None,
) -> MediaProcessingResult:
    """`MediaProcessor().transcode_audio(...)` on the shared default processor."""
    return _processor().transcode_audio(source, target, options, progress=progress)
