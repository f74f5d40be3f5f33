"""The boundary: Pillow and PyAV failures become media errors, with the original chained.

Everything a hostile file can make a decoder raise ends here as one of three
answers (unsupported, too large, invalid); nothing else escapes, not even a
`struct.error` from a plugin's header parser.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from infrakit.errors import AppError, import_optional
from infrakit.media._errors import (
    MediaProcessingError,
    MediaTooLargeError,
    UnsupportedMediaError,
)

__all__ = ["load_av", "load_pillow", "translated"]

_pillow: ModuleType | None = None


def load_pillow() -> ModuleType:
    """`PIL.Image`, with its decompression-bomb warning turned into an error, once."""
    global _pillow
    if _pillow is None:
        image = import_optional("PIL.Image", extra="media")
        warnings.filterwarnings("error", category=image.DecompressionBombWarning)
        _pillow = image
    return _pillow


def load_av() -> ModuleType:
    """`av`, or `MissingDependencyError` naming `infrakit[media]`."""
    return import_optional("av", extra="media")


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn any decoder failure inside the block into a media error about `what`."""
    try:
        yield
    except AppError:
        raise
    except MemoryError as error:
        raise MediaTooLargeError(f"the {what} needs more memory than is available") from error
    except Exception as error:
        raise _translate(what, error) from error


def _translate(what: str, error: Exception) -> AppError:
    image = load_pillow()
    if isinstance(error, image.DecompressionBombError | image.DecompressionBombWarning):
        return MediaTooLargeError(f"the {what} is a decompression bomb (too many pixels)")
    if isinstance(error, image.UnidentifiedImageError):
        return UnsupportedMediaError(f"the {what} is not an image in a supported format")
    av = load_av()
    not_found = (av.error.DemuxerNotFoundError, av.error.DecoderNotFoundError)
    if isinstance(error, not_found):
        return UnsupportedMediaError(f"the {what} uses a format or codec that is not supported")
    return MediaProcessingError(f"the {what} is corrupt, truncated or invalid")
