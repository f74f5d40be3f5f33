"""Every media operation, written once, blocking: the async and the sync forms both call it.

The async form runs these methods on a worker thread and adds the storage I/O
around them; the sync form calls them on the caller's thread. Statistics, the
deadline and the translation of unexpected failures live here, so both forms
count, stop and fail the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, TypeVar

from infrakit.errors import AppError
from infrakit.media._audio import Progress, transcode_audio
from infrakit.media._errors import MediaProcessingError, UnsupportedMediaError
from infrakit.media._formats import format_named, sniff_image_format
from infrakit.media._image import output_format, process_image, render_image
from infrakit.media._io import Source, SourceFile, Target, open_source, open_target
from infrakit.media._options import (
    AudioOptions,
    Deadline,
    ImageOptions,
    MediaLimits,
    VideoOptions,
    invalid,
)
from infrakit.media._probe import probe_source
from infrakit.media._protocol import ImageMetadata, MediaInfo, MediaProcessingResult
from infrakit.media._stats import StatsRecorder
from infrakit.media._video import poster_frame, transcode_video

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["MediaCore", "MediaOptions", "target_name", "thumbnail_options"]

T = TypeVar("T")
MediaOptions = ImageOptions | VideoOptions | AudioOptions


def target_name(target: object) -> str | None:
    """The name a target's extension is read from (a path, a key, a named file object)."""
    if isinstance(target, str | os.PathLike):
        return os.fspath(target)
    name = getattr(target, "name", None)
    return name if isinstance(name, str) else None


def thumbnail_options(size: int, format: str) -> ImageOptions:
    """A thumbnail is the picture scaled inside a `size` square, never enlarged."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise invalid("size", "must be a whole number of pixels, at least 1")
    known = format_named(format) if isinstance(format, str) else None
    if known is None or known.name not in {"jpeg", "webp", "png"}:
        raise invalid("format", "must be jpeg, webp or png")
    return ImageOptions(
        width=size, height=size, fit="inside", format=known.name, without_enlargement=True
    )


class MediaCore:
    """The operations on sources and targets, with limits, deadline and statistics."""

    def __init__(self, limits: MediaLimits, stats: StatsRecorder, logger: Logger | None) -> None:
        self.limits = limits
        self.stats = stats
        self._logger = logger

    def run(self, kind: str, deadline: Deadline, operation: Callable[[], T]) -> T:
        """Run one operation: check the deadline first, count it, translate what escapes."""
        started = time.perf_counter()
        self.stats.started()
        failure: BaseException | None = None
        try:
            deadline.check()
            return operation()
        except AppError as error:
            failure = error
            raise
        except Exception as error:
            failure = MediaProcessingError(f"the {kind} operation failed unexpectedly")
            raise failure from error
        finally:
            self.stats.finished(kind, time.perf_counter() - started, failure)
            if failure is not None:
                self._log_failure(kind, failure)

    def _log_failure(self, kind: str, failure: BaseException) -> None:
        logger = self._logger
        if logger is None:
            from infrakit.log import get_logger

            logger = self._logger = get_logger("infrakit.media")
        code = failure.code if isinstance(failure, AppError) else "INTERNAL_ERROR"
        logger.warning("media operation failed", operation=kind, code=code)

    def probe(self, source: Source, deadline: Deadline) -> MediaInfo:
        return self.run("probe", deadline, lambda: self._probe(source, deadline))

    def _probe(self, source: Source, deadline: Deadline) -> MediaInfo:
        with open_source(source, self.limits.max_input_bytes) as opened:
            return probe_source(opened, self.limits, deadline)

    def process_image(
        self, source: Source, target: Target, options: ImageOptions, deadline: Deadline
    ) -> ImageMetadata:
        def operation() -> ImageMetadata:
            with open_source(source, self.limits.max_input_bytes) as opened:
                return self._image(opened, target, options, deadline)

        return self.run("image", deadline, operation)

    def _image(
        self, opened: SourceFile, target: Target, options: ImageOptions, deadline: Deadline
    ) -> ImageMetadata:
        with open_target(target) as output:
            return process_image(opened, output, options, self.limits, deadline)

    def generate_thumbnail(
        self, source: Source, target: Target, size: int, format: str, deadline: Deadline
    ) -> ImageMetadata:
        options = thumbnail_options(size, format)

        def operation() -> ImageMetadata:
            with open_source(source, self.limits.max_input_bytes) as opened:
                if sniff_image_format(opened.head) is not None:
                    return self._image(opened, target, options, deadline)
                return self._poster(opened, target, options, deadline)

        return self.run("thumbnail", deadline, operation)

    def _poster(
        self, opened: SourceFile, target: Target, options: ImageOptions, deadline: Deadline
    ) -> ImageMetadata:
        longest = max(options.width or 0, options.height or 0) * 2
        picture = poster_frame(opened, self.limits, deadline, longest)
        with open_target(target) as output:
            return render_image(
                picture, output, options, output_format("png", options), None, deadline
            )

    def transcode_video(
        self,
        source: Source,
        target: Target,
        options: VideoOptions,
        deadline: Deadline,
        progress: Progress | None = None,
        name: str | None = None,
    ) -> MediaProcessingResult:
        return self._transcode("video", source, target, options, deadline, progress, name)

    def transcode_audio(
        self,
        source: Source,
        target: Target,
        options: AudioOptions,
        deadline: Deadline,
        progress: Progress | None = None,
        name: str | None = None,
    ) -> MediaProcessingResult:
        return self._transcode("audio", source, target, options, deadline, progress, name)

    def _transcode(
        self,
        kind: str,
        source: Source,
        target: Target,
        options: VideoOptions | AudioOptions,
        deadline: Deadline,
        progress: Progress | None,
        name: str | None,
    ) -> MediaProcessingResult:
        def operation() -> MediaProcessingResult:
            with open_source(source, self.limits.max_input_bytes) as opened:
                return self._encoded(opened, target, options, deadline, progress, name)

        return self.run(kind, deadline, operation)

    def _encoded(
        self,
        opened: SourceFile,
        target: Target,
        options: VideoOptions | AudioOptions,
        deadline: Deadline,
        progress: Progress | None,
        name: str | None,
    ) -> MediaProcessingResult:
        """Run the video or audio encoder the options are for, into `target`."""
        chosen_name = name or target_name(target)
        with open_target(target) as output:
            if isinstance(options, VideoOptions):
                return transcode_video(
                    opened, output, options, self.limits, deadline, progress, chosen_name
                )
            return transcode_audio(
                opened, output, options, self.limits, deadline, progress, chosen_name
            )

    def process_media(
        self,
        source: Source,
        target: Target,
        options: MediaOptions | None,
        deadline: Deadline,
        progress: Progress | None = None,
        name: str | None = None,
    ) -> MediaProcessingResult:
        """Probe, then run the operation the detected kind and the options call for."""
        with ExitStack() as stack:

            def inspect() -> tuple[SourceFile, MediaInfo]:
                opened = stack.enter_context(open_source(source, self.limits.max_input_bytes))
                return opened, probe_source(opened, self.limits, deadline)

            opened, info = self.run("probe", deadline, inspect)
            opened.file.seek(0)
            kind, operation = self._dispatch(
                info, opened, target, options, deadline, progress, name
            )
            return self.run(kind, deadline, operation)

    def _dispatch(
        self,
        info: MediaInfo,
        opened: SourceFile,
        target: Target,
        options: MediaOptions | None,
        deadline: Deadline,
        progress: Progress | None,
        name: str | None,
    ) -> tuple[str, Callable[[], MediaProcessingResult]]:
        if info.kind == "image" or (info.kind == "video" and isinstance(options, ImageOptions)):
            image_options = options if isinstance(options, ImageOptions) else ImageOptions()
            if info.kind == "image":
                return "image", lambda: _as_result(
                    self._image(opened, target, image_options, deadline)
                )
            return "thumbnail", lambda: _as_result(
                self._poster(opened, target, image_options, deadline)
            )
        if isinstance(options, ImageOptions):
            raise UnsupportedMediaError("image options do not apply to an audio file")
        if info.kind == "video" and not isinstance(options, AudioOptions):
            video_options = options if isinstance(options, VideoOptions) else VideoOptions()
            return "video", lambda: self._encoded(
                opened, target, video_options, deadline, progress, name
            )
        if isinstance(options, VideoOptions):
            raise UnsupportedMediaError("video options do not apply to an audio file")
        audio_options = options if isinstance(options, AudioOptions) else AudioOptions()
        return "audio", lambda: self._encoded(
            opened, target, audio_options, deadline, progress, name
        )


def _as_result(metadata: ImageMetadata) -> MediaProcessingResult:
    return MediaProcessingResult(
        kind="image",
        format=metadata.format,
        content_type=metadata.content_type,
        size=metadata.size,
        width=metadata.width,
        height=metadata.height,
    )
