"""The async form: coroutines that run the shared core on the bounded executor.

Storage I/O happens here, on the event loop (the provider's coroutines); decoding
and encoding happen on a worker thread. With `storage`, a `str` source or target
is a key in it; a `pathlib.Path` stays a local path.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

from infrakit.media._audio import Progress
from infrakit.media._core import MediaCore, MediaOptions, target_name
from infrakit.media._errors import MediaBusyError
from infrakit.media._executor import MediaExecutor
from infrakit.media._formats import format_named
from infrakit.media._io import Source, Target
from infrakit.media._options import (
    AudioOptions,
    Deadline,
    ImageOptions,
    MediaLimits,
    VideoOptions,
)
from infrakit.media._protocol import ImageMetadata, MediaInfo, MediaProcessingResult
from infrakit.media._stats import MediaStats, StatsRecorder

if TYPE_CHECKING:
    from infrakit.log import Logger
    from infrakit.storage import StorageProvider

__all__ = ["ImageProcessor", "MediaProcessor"]

R = TypeVar("R")
_HEALTH_TIMEOUT = 5.0


class ImageProcessor:
    """Resize, convert and thumbnail images off the event loop, within limits.

    Args:
        limits: what inputs are accepted and how long an operation may take.
        max_workers: operations running at once (default: CPU count, at most 4).
        max_queue: operations waiting for a worker before callers wait (default: 4 per worker).
        queue_timeout: seconds a caller waits for room before `MediaBusyError`; None: forever.
        storage: an `infrakit.storage.StorageProvider` in which `str` sources and
            targets are keys (only its Protocol is used: any provider works).
        logger: defaults to `get_logger("infrakit.media")`.
    """

    def __init__(
        self,
        *,
        limits: MediaLimits | None = None,
        max_workers: int | None = None,
        max_queue: int | None = None,
        queue_timeout: float | None = 30.0,
        storage: StorageProvider | None = None,
        logger: Logger | None = None,
    ) -> None:
        self.limits = limits or MediaLimits()
        self.storage = storage
        self._stats = StatsRecorder()
        self._core = MediaCore(self.limits, self._stats, logger)
        self._executor = MediaExecutor(max_workers, max_queue, queue_timeout)
        self._logger = logger
        self._healthy: bool | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(max_workers={self._executor.max_workers}, "
            f"max_queue={self._executor.max_queue}, limits={self.limits!r})"
        )

    async def process(
        self, source: Source, target: Target, options: ImageOptions | None = None
    ) -> ImageMetadata:
        """Resize and re-encode an image (EXIF orientation applied, metadata stripped).

        Args:
            source: a path, bytes, a binary file object, or a key when `storage` is set.
            target: a path (written atomically), a binary file object, or a key.
            options: size, fit, format and quality; the defaults re-encode as is.

        Returns:
            What was written: size, format, content type, byte count.

        Raises:
            UnsupportedMediaError: not an image in a supported format.
            MediaTooLargeError: over a limit (checked from the header).
            MediaProcessingError: corrupt or truncated.
            MediaTimeoutError, MediaBusyError: out of time, or no room in the queue.
        """
        chosen = options or ImageOptions()
        return await self._produce(
            source, target, lambda core, s, t, d: core.process_image(s, t, chosen, d)
        )

    async def generate_thumbnail(
        self, source: Source, target: Target, size: int = 200, *, format: str = "jpeg"
    ) -> Target:
        """Write a thumbnail inside a `size` square, of an image or of a video's poster frame.

        A video's poster frame is taken near 10% of its duration, skipping black frames.

        Args:
            source: an image or a video (path, bytes, file object or storage key).
            target: where the thumbnail goes.
            size: the longest side, in pixels (never enlarged).
            format: `jpeg`, `webp` or `png`.

        Returns:
            `target`.
        """
        await self._produce(
            source,
            target,
            lambda core, s, t, d: core.generate_thumbnail(s, t, size, format, d),
        )
        return target

    def get_stats(self) -> MediaStats:
        """This processor's counters (operations by kind, failures, queue depth, time spent)."""
        return self._stats.snapshot(self._executor.queue_depth)

    async def health(self) -> bool:
        """True while open with its decoders importable; one log line each time that changes.

        A busy pool is healthy: the ping never queues behind media work (the import
        check runs once, on a thread of its own, then is cached).
        """
        healthy = False
        if not self._executor.closed:
            try:
                healthy = await asyncio.wait_for(asyncio.to_thread(_available), _HEALTH_TIMEOUT)
            except Exception:
                healthy = False
        if healthy != self._healthy:
            self._healthy = healthy
            logger = self._core_logger()
            if healthy:
                logger.info("media processor healthy")
            else:
                logger.warning("media processor unhealthy")
        return healthy

    async def close(self, grace: float = 10.0) -> None:
        """Stop taking work; wait up to `grace` seconds for running operations."""
        left = await self._executor.close(grace)
        if left:
            self._core_logger().warning("media operations still running at close", running=left)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _core_logger(self) -> Logger:
        if self._logger is None:
            from infrakit.log import get_logger

            self._logger = get_logger("infrakit.media")
        return self._logger

    async def _produce(
        self,
        source: Source,
        target: Target,
        work: Callable[[MediaCore, Source, Target, Deadline], R],
    ) -> R:
        """Fetch a storage source, run `work` on a worker, store a storage target."""
        deadline = Deadline(self.limits.timeout)
        data = await self._fetch(source)
        if not self._is_key(target):
            return await self._run(lambda: work(self._core, data, target, deadline))
        assert isinstance(target, str)
        buffer = io.BytesIO()
        result = await self._run(lambda: work(self._core, data, buffer, deadline))
        await self._store(target, buffer.getvalue(), _content_type(result, target))
        return result

    async def _run(self, call: Callable[[], R]) -> R:
        try:
            return await self._executor.run(self.limits.timeout, call)
        except MediaBusyError:
            self._stats.rejected()
            raise

    def _is_key(self, value: object) -> bool:
        return self.storage is not None and isinstance(value, str)

    async def _fetch(self, source: Source) -> Source:
        if self.storage is not None and isinstance(source, str):
            return await self.storage.get_file(source)
        return source

    async def _store(self, key: str, data: bytes, content_type: str | None) -> None:
        assert self.storage is not None
        await self.storage.save_file(key, data, content_type=content_type)


def _content_type(result: object, key: str) -> str | None:
    found = getattr(result, "content_type", None)
    if isinstance(found, str):
        return found
    dot = key.rfind(".")
    known = format_named(key[dot:]) if dot >= 0 else None
    return known.content_type if known else None


def _available() -> bool:
    """The health check: Pillow and PyAV import (a cached lookup after the first time)."""
    from infrakit.media._guard import load_av, load_pillow

    load_pillow()
    load_av()
    return True


class MediaProcessor(ImageProcessor):
    """Probe, thumbnail, resize and transcode images, video and audio, off the event loop.

    Takes the same arguments as `ImageProcessor` (whose `process` it inherits as
    `process_image`); `images` is that part on its own.
    """

    @property
    def images(self) -> ImageProcessor:
        """This processor, seen as an `ImageProcessor`."""
        return self

    async def probe(self, source: Source) -> MediaInfo:
        """Describe an image, video or audio file from its headers (nothing decoded).

        Raises:
            UnsupportedMediaError, MediaTooLargeError, MediaProcessingError.
        """
        deadline = Deadline(self.limits.timeout)
        data = await self._fetch(source)
        return await self._run(lambda: self._core.probe(data, deadline))

    async def process_image(
        self, source: Source, target: Target, options: ImageOptions | None = None
    ) -> ImageMetadata:
        """`ImageProcessor.process`, by the name `process_media` dispatches to."""
        return await self.process(source, target, options)

    async def process_media(
        self,
        source: Source,
        target: Target,
        options: MediaOptions | None = None,
        *,
        progress: Progress | None = None,
    ) -> MediaProcessingResult:
        """Process any media by its detected kind.

        An image is resized (`ImageOptions`); a video is transcoded (`VideoOptions`),
        or gives its poster frame when given `ImageOptions`, or its audio when given
        `AudioOptions`; an audio file is transcoded (`AudioOptions`). No options
        means each kind's defaults.

        Raises:
            UnsupportedMediaError: the options do not fit the kind, or the format is unknown.
        """
        name, report = target_name(target), self._threadsafe(progress)
        return await self._produce(
            source,
            target,
            lambda core, s, t, d: core.process_media(s, t, options, d, report, name),
        )

    async def transcode_video(
        self,
        source: Source,
        target: Target,
        options: VideoOptions | None = None,
        *,
        progress: Progress | None = None,
    ) -> MediaProcessingResult:
        """Re-encode a video (H.264/AAC in MP4 by default), scaled and re-timed per `options`.

        Args:
            progress: called on the event loop with the fraction done (0.0-1.0).
        """
        chosen = options or VideoOptions()
        name, report = target_name(target), self._threadsafe(progress)
        return await self._produce(
            source,
            target,
            lambda core, s, t, d: core.transcode_video(s, t, chosen, d, report, name),
        )

    async def transcode_audio(
        self,
        source: Source,
        target: Target,
        options: AudioOptions | None = None,
        *,
        progress: Progress | None = None,
    ) -> MediaProcessingResult:
        """Re-encode the audio of an audio or video file (AAC in M4A by default)."""
        chosen = options or AudioOptions()
        name, report = target_name(target), self._threadsafe(progress)
        return await self._produce(
            source,
            target,
            lambda core, s, t, d: core.transcode_audio(s, t, chosen, d, report, name),
        )

    def _threadsafe(self, progress: Progress | None) -> Progress | None:
        """Deliver progress on the caller's event loop, never on the worker thread."""
        if progress is None:
            return None
        loop = asyncio.get_running_loop()

        def report(fraction: float) -> None:
            loop.call_soon_threadsafe(progress, fraction)

        return report
