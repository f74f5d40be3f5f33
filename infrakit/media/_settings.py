"""`MediaSettings`: the `MEDIA_*` keys and the `MediaProcessor` they size."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from infrakit.errors import ConfigurationError
from infrakit.media._options import MediaLimits

if TYPE_CHECKING:
    from infrakit.config import ConfigReader
    from infrakit.log import Logger
    from infrakit.media._processor import MediaProcessor
    from infrakit.storage import StorageProvider

__all__ = ["MediaSettings"]


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """How big a processor is and what it accepts.

    Attributes:
        limits: `MEDIA_MAX_PIXELS` and `MEDIA_TIMEOUT` (seconds per operation) over the
            `MediaLimits` defaults.
        max_workers: `MEDIA_MAX_WORKERS`, operations at once (None: CPU count, at most 4).
        max_queue: `MEDIA_MAX_QUEUE`, operations waiting for a worker (None: 4 per worker).
        queue_timeout: `MEDIA_QUEUE_TIMEOUT`, seconds a caller waits for room (30).
    """

    limits: MediaLimits = field(default_factory=MediaLimits)
    max_workers: int | None = None
    max_queue: int | None = None
    queue_timeout: float = 30.0

    @classmethod
    def from_config(cls, config: ConfigReader) -> MediaSettings:
        """Read the `MEDIA_*` keys and check them before any thread starts.

        Raises:
            ConfigurationError: a key is not a number, or out of range; `details["key"]`
                names it (the value is not repeated).
        """
        settings = cls(
            limits=_limits(config),
            max_workers=config.get_int("MEDIA_MAX_WORKERS", None),
            max_queue=config.get_int("MEDIA_MAX_QUEUE", None),
            queue_timeout=config.get_float("MEDIA_QUEUE_TIMEOUT", 30.0),
        )
        _check_at_least("MEDIA_MAX_WORKERS", settings.max_workers, 1)
        _check_at_least("MEDIA_MAX_QUEUE", settings.max_queue, 0)
        _check_at_least("MEDIA_QUEUE_TIMEOUT", settings.queue_timeout, 0)
        return settings

    def create(
        self, *, storage: StorageProvider | None = None, logger: Logger | None = None
    ) -> MediaProcessor:
        """A `MediaProcessor` of this size; given `storage`, `str` sources are keys in it."""
        from infrakit.media._processor import MediaProcessor

        return MediaProcessor(
            limits=self.limits,
            max_workers=self.max_workers,
            max_queue=self.max_queue,
            queue_timeout=self.queue_timeout,
            storage=storage,
            logger=logger,
        )


def _limits(config: ConfigReader) -> MediaLimits:
    defaults = MediaLimits()
    max_pixels = config.get_int("MEDIA_MAX_PIXELS", defaults.max_pixels)
    timeout = config.get_float("MEDIA_TIMEOUT", defaults.timeout)
    _check_positive("MEDIA_MAX_PIXELS", max_pixels)
    _check_positive("MEDIA_TIMEOUT", timeout)
    return MediaLimits(max_pixels=max_pixels, timeout=timeout)


def _check_positive(key: str, value: float) -> None:
    if not value > 0:  # NaN too
        raise ConfigurationError(f"{key} must be a positive number", details={"key": key})


def _check_at_least(key: str, value: float | None, minimum: float) -> None:
    if value is not None and not value >= minimum:
        raise ConfigurationError(f"{key} must be at least {minimum}", details={"key": key})
