"""What a caller asks for (image, video, audio options) and what it allows (limits).

Every option is checked when it is made, so a bad value fails at the call site with
a `ValidationError` naming the field, before any file is opened.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from infrakit.errors import FieldError, ValidationError, json_pointer
from infrakit.media._errors import MediaTimeoutError
from infrakit.media._formats import format_named

__all__ = [
    "AUDIO_ENCODERS",
    "VIDEO_ENCODERS",
    "AudioOptions",
    "Deadline",
    "Fit",
    "ImageOptions",
    "MediaLimits",
    "VideoOptions",
    "invalid",
]

Fit = Literal["cover", "contain", "fill", "inside"]
FITS = ("cover", "contain", "fill", "inside")

VIDEO_ENCODERS = {"h264": "libx264", "vp9": "libvpx-vp9", "vp8": "libvpx"}
AUDIO_ENCODERS = {
    "aac": "aac",
    "opus": "libopus",
    "mp3": "libmp3lame",
    "flac": "flac",
    "pcm": "pcm_s16le",
}
MAX_SIDE = 65_535


def invalid(field_name: str, detail: str) -> ValidationError:
    """The one error for a rejected option: names the field, never echoes the value."""
    return ValidationError(
        f"{field_name}: {detail}",
        errors=[FieldError(pointer=json_pointer([field_name]), detail=detail)],
    )


def _check_positive(name: str, value: float | None, maximum: float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise invalid(name, "must be a positive number")
    if maximum is not None and value > maximum:
        raise invalid(name, f"must be at most {maximum}")


def _check_format(name: str, value: str | None, kinds: tuple[str, ...]) -> None:
    if value is None:
        return
    known = format_named(value) if isinstance(value, str) else None
    if known is None or known.kind not in kinds:
        raise invalid(name, f"must be a known {' or '.join(kinds)} format")


def _check_choice(name: str, value: object, choices: Collection[object]) -> None:
    if value not in choices:
        raise invalid(name, "must be one of " + ", ".join(sorted(str(item) for item in choices)))


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What a processor accepts before it decodes anything; hostile files stop here.

    Attributes:
        max_pixels: width x height of an image or a video frame (default 50 MP),
            read from the header before decoding.
        max_dimension: the longest side allowed, in pixels.
        max_duration: seconds of audio or video.
        max_input_bytes: size of a source (bytes, file or storage object).
        timeout: seconds one operation may run before `MediaTimeoutError`.
    """

    max_pixels: int = 50_000_000
    max_dimension: int = 20_000
    max_duration: float = 4 * 3600.0
    max_input_bytes: int = 2 * 1024**3
    timeout: float = 120.0

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_dimension", "max_duration", "max_input_bytes", "timeout"):
            _check_positive(name, getattr(self, name))

    def check_size(self, width: int, height: int) -> None:
        """Refuse a picture over the pixel or side limit (from the header, before decoding)."""
        from infrakit.media._errors import MediaTooLargeError

        if width * height > self.max_pixels:
            raise MediaTooLargeError(
                f"{width}x{height} is over the limit of {self.max_pixels} pixels",
                details={"width": width, "height": height, "max_pixels": self.max_pixels},
            )
        if max(width, height) > self.max_dimension:
            raise MediaTooLargeError(
                f"{width}x{height} has a side over {self.max_dimension} pixels",
                details={"width": width, "height": height, "max_dimension": self.max_dimension},
            )


@dataclass(frozen=True, slots=True)
class ImageOptions:
    """How to resize and re-encode an image.

    Attributes:
        width, height: the box to fit into; give one to keep the aspect ratio, none to
            keep the size.
        fit: `cover` crops to fill the box exactly, `contain` fits inside and pads to
            the box, `fill` stretches, `inside` fits inside without padding.
        format: `jpeg`, `png`, `webp` or `gif`; None keeps the source's (GIF and BMP
            become PNG).
        quality: 1-100, for JPEG and WebP.
        strip_metadata: drop EXIF (GPS, camera, dates), XMP and comments; the ICC
            colour profile is kept because it changes how the pixels look.
        auto_orient: apply the EXIF orientation (before resizing) so the output is upright.
        without_enlargement: never make the image larger than it is.
    """

    width: int | None = None
    height: int | None = None
    fit: Fit = "cover"
    format: str | None = None
    quality: int = 80
    strip_metadata: bool = True
    auto_orient: bool = True
    without_enlargement: bool = False

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise invalid(name, "must be a whole number of pixels")
            _check_positive(name, value, MAX_SIDE)
        _check_choice("fit", self.fit, FITS)
        _check_format("format", self.format, ("image",))
        if isinstance(self.quality, bool) or self.quality not in range(1, 101):
            raise invalid("quality", "must be a whole number from 1 to 100")


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """How to transcode a video (and its first audio track).

    Attributes:
        codec: `h264`, `vp9` or `vp8`.
        width, height: the box the picture is scaled into, keeping its aspect ratio
            (one is enough); sides are rounded to even numbers, as YUV 4:2:0 needs.
        crf: constant quality (lower is better; H.264 23 is the usual default); give
            this or `bit_rate`, not both.
        bit_rate: target bits per second.
        fps: output frame rate; frames are dropped to reach it (never invented).
        audio_codec: `aac`, `opus`, `mp3`, ...; None drops the audio.
        audio_bit_rate: bits per second of the audio.
        format: the container (`mp4`, `webm`, `mkv`, `mov`); None takes it from the
            target's extension, else `mp4` (`webm` for VP8/VP9).
        preset: the encoder's speed/size trade-off (x264 `ultrafast` ... `veryslow`).
    """

    codec: str = "h264"
    width: int | None = None
    height: int | None = None
    crf: int | None = None
    bit_rate: int | None = None
    fps: float | None = None
    audio_codec: str | None = "aac"
    audio_bit_rate: int = 128_000
    format: str | None = None
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        _check_choice("codec", self.codec, VIDEO_ENCODERS)
        for name in ("width", "height"):
            _check_positive(name, getattr(self, name), MAX_SIDE)
        if self.crf is not None and self.bit_rate is not None:
            raise invalid("crf", "give crf or bit_rate, not both")
        if self.crf is not None and (isinstance(self.crf, bool) or self.crf not in range(64)):
            raise invalid("crf", "must be a whole number from 0 to 63")
        _check_positive("bit_rate", self.bit_rate)
        _check_positive("fps", self.fps, 240)
        if self.audio_codec is not None:
            _check_choice("audio_codec", self.audio_codec, AUDIO_ENCODERS)
        _check_positive("audio_bit_rate", self.audio_bit_rate)
        _check_format("format", self.format, ("video",))


@dataclass(frozen=True, slots=True)
class AudioOptions:
    """How to transcode audio (from an audio file, or the audio track of a video).

    Attributes:
        codec: `aac`, `opus`, `mp3`, `flac` or `pcm`.
        bit_rate: bits per second (ignored by lossless codecs).
        sample_rate: output sample rate in Hz; None keeps the source's when the codec
            allows it.
        channels: 1 or 2; None keeps the source's layout (down-mixed to stereo past 2).
        format: the container (`m4a`, `mp3`, `ogg`, `wav`, `flac`, `webm`); None takes
            it from the target's extension, else the codec's usual one.
    """

    codec: str = "aac"
    bit_rate: int = 128_000
    sample_rate: int | None = None
    channels: int | None = None
    format: str | None = None

    def __post_init__(self) -> None:
        _check_choice("codec", self.codec, AUDIO_ENCODERS)
        _check_positive("bit_rate", self.bit_rate)
        _check_positive("sample_rate", self.sample_rate, 384_000)
        if self.channels is not None:
            _check_choice("channels", self.channels, (1, 2))
        _check_format("format", self.format, ("audio", "video"))


@dataclass(slots=True)
class Deadline:
    """The time one operation has left; long loops call `check()` between steps.

    The worker thread stops itself at the deadline, so a timed-out operation frees
    its executor slot instead of running on unseen.
    """

    seconds: float
    expires_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.expires_at = time.monotonic() + self.seconds

    def check(self) -> None:
        """Raise `MediaTimeoutError` once the time is up."""
        if time.monotonic() > self.expires_at:
            raise MediaTimeoutError(
                f"the operation ran past its {self.seconds:g} s limit",
                details={"timeout": self.seconds},
            )
