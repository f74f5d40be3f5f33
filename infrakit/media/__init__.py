"""Media: probe, resize, thumbnail and transcode images, video and audio, safely and off the loop.

Only the names in `__all__` are public; see `docs/media.md`. The coroutines here
run the CPU work in a bounded pool; `infrakit.media.sync` has the blocking forms
under the same names. Pillow and PyAV (the `media` extra) are imported on first
use, so `import infrakit.media` works without them.
"""

from infrakit.media._audio import Progress
from infrakit.media._core import MediaOptions
from infrakit.media._errors import (
    MediaBusyError,
    MediaError,
    MediaProcessingError,
    MediaTimeoutError,
    MediaTooLargeError,
    UnsupportedMediaError,
)
from infrakit.media._formats import MediaKind, get_output_content_type
from infrakit.media._functions import (
    generate_thumbnail,
    probe,
    process_image,
    process_media,
    transcode_audio,
    transcode_video,
)
from infrakit.media._io import Source, Target
from infrakit.media._options import AudioOptions, Fit, ImageOptions, MediaLimits, VideoOptions
from infrakit.media._processor import ImageProcessor, MediaProcessor
from infrakit.media._protocol import ImageMetadata, MediaInfo, MediaProcessingResult
from infrakit.media._settings import MediaSettings
from infrakit.media._stats import MediaStats

__all__ = [
    "AudioOptions",
    "Fit",
    "ImageMetadata",
    "ImageOptions",
    "ImageProcessor",
    "MediaBusyError",
    "MediaError",
    "MediaInfo",
    "MediaKind",
    "MediaLimits",
    "MediaOptions",
    "MediaProcessingError",
    "MediaProcessingResult",
    "MediaProcessor",
    "MediaSettings",
    "MediaStats",
    "MediaTimeoutError",
    "MediaTooLargeError",
    "Progress",
    "Source",
    "Target",
    "UnsupportedMediaError",
    "VideoOptions",
    "generate_thumbnail",
    "get_output_content_type",
    "probe",
    "process_image",
    "process_media",
    "transcode_audio",
    "transcode_video",
]
