"""The media errors: one class per answer a caller can act on, each with a stable code."""

from __future__ import annotations

from infrakit.errors import AppError

__all__ = [
    "MediaBusyError",
    "MediaError",
    "MediaProcessingError",
    "MediaTimeoutError",
    "MediaTooLargeError",
    "UnsupportedMediaError",
]


class MediaError(AppError):
    """Base of every media failure; catch it to handle them all."""

    code = "MEDIA_ERROR"
    default_message = "A media operation failed."


class UnsupportedMediaError(MediaError):
    """The input is not a format this processor accepts (or not media at all)."""

    code = "MEDIA_UNSUPPORTED"
    status_code = 415
    default_message = "The media format is not supported."
    expose_message = True


class MediaProcessingError(MediaError):
    """The input looked like media but could not be decoded (corrupt, truncated, invalid)."""

    code = "MEDIA_INVALID"
    status_code = 422
    default_message = "The media could not be processed."
    expose_message = True


class MediaTooLargeError(MediaError):
    """The input is over a limit (pixels, dimensions, duration, bytes), checked before decoding."""

    code = "MEDIA_TOO_LARGE"
    status_code = 413
    default_message = "The media is over the configured limits."
    expose_message = True


class MediaTimeoutError(MediaError):
    """The operation ran past its time limit and was stopped."""

    code = "MEDIA_TIMEOUT"
    status_code = 504
    default_message = "The media operation took too long."
    expose_message = True


class MediaBusyError(MediaError):
    """The processor's queue stayed full for longer than the caller was willing to wait."""

    code = "MEDIA_BUSY"
    status_code = 503
    default_message = "The media processor is busy; try again later."
    expose_message = True
