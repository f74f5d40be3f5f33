"""What each format is called, which content type it has, and how to recognise it.

One table serves detection (magic bytes), the writers (Pillow format, PyAV muxer)
and `get_output_content_type`, so a format is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FORMATS",
    "IMAGE_FORMATS",
    "Format",
    "MediaKind",
    "format_named",
    "format_of_path",
    "get_output_content_type",
    "name_av_format",
    "sniff_av_format",
    "sniff_image_format",
]

MediaKind = Literal["image", "video", "audio"]


@dataclass(frozen=True, slots=True)
class Format:
    """One output or input format: its name, content type and the encoder that writes it."""

    name: str
    kind: MediaKind
    content_type: str
    extensions: tuple[str, ...]
    pillow: str | None = None  # Pillow's format name, for images
    muxer: str | None = None  # PyAV's container format name, for video and audio


FORMATS: dict[str, Format] = {
    item.name: item
    for item in (
        Format("jpeg", "image", "image/jpeg", (".jpg", ".jpeg", ".jpe"), pillow="JPEG"),
        Format("png", "image", "image/png", (".png",), pillow="PNG"),
        Format("webp", "image", "image/webp", (".webp",), pillow="WEBP"),
        Format("gif", "image", "image/gif", (".gif",), pillow="GIF"),
        Format("bmp", "image", "image/bmp", (".bmp",), pillow="BMP"),
        Format("mp4", "video", "video/mp4", (".mp4", ".m4v"), muxer="mp4"),
        Format("webm", "video", "video/webm", (".webm",), muxer="webm"),
        Format("mkv", "video", "video/x-matroska", (".mkv",), muxer="matroska"),
        Format("mov", "video", "video/quicktime", (".mov",), muxer="mov"),
        Format("m4a", "audio", "audio/mp4", (".m4a",), muxer="ipod"),
        Format("mp3", "audio", "audio/mpeg", (".mp3",), muxer="mp3"),
        Format("ogg", "audio", "audio/ogg", (".ogg", ".oga", ".opus"), muxer="ogg"),
        Format("wav", "audio", "audio/wav", (".wav",), muxer="wav"),
        Format("flac", "audio", "audio/flac", (".flac",), muxer="flac"),
        Format("aac", "audio", "audio/aac", (".aac",), muxer="adts"),
    )
}

ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "m4v": "mp4", "matroska": "mkv", "opus": "ogg"}

IMAGE_FORMATS = tuple(item.pillow for item in FORMATS.values() if item.pillow)
"""The only formats `Image.open` is ever asked to parse (no TIFF, PSD, EPS, ...)."""

# (offset, signature, format): enough to pick the one Pillow plugin to try.
_IMAGE_SIGNATURES = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (8, b"WEBP", "WEBP"),
    (0, b"BM", "BMP"),
)


def sniff_image_format(head: bytes) -> str | None:
    """Return the Pillow format the first bytes announce, or None when it is not an image."""
    for offset, signature, name in _IMAGE_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            if name == "WEBP" and not head.startswith(b"RIFF"):
                continue
            return name
    return None


def format_named(name: str) -> Format | None:
    """The format called `name` (`"jpg"`, `".JPEG"` and `"jpeg"` are one), or None."""
    key = name.strip().lower().lstrip(".")
    return FORMATS.get(ALIASES.get(key, key))


def format_of_path(path: str) -> Format | None:
    """The format a file name's extension names, or None."""
    dot = path.rfind(".")
    return format_named(path[dot:]) if dot >= 0 else None


def get_output_content_type(original_type: str, format: str | None = None) -> str:
    """The content type of a converted file: the format's type, else the original one.

    Args:
        original_type: the source's content type (`"image/png"`).
        format: the output format asked for (`"webp"`, `"jpg"`, `".mp4"`), or None
            when the output keeps the source's format.

    Returns:
        The output's content type; `original_type` when `format` is None or unknown.
    """
    if format is None:
        return original_type
    known = format_named(format)
    return known.content_type if known is not None else original_type


def sniff_av_format(head: bytes) -> str | None:
    """Return the one FFmpeg demuxer the first bytes announce, or None.

    FFmpeg is never left to guess among its hundreds of demuxers: playlist and
    concatenation formats (HLS, concat) can make it open other files, so only the
    containers named here are ever parsed.
    """
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


def name_av_format(demuxer: str, head: bytes, has_video: bool) -> Format:
    """The format to report for a demuxed file (the ISO and Matroska families share one)."""
    if demuxer == "mp4":
        brand = head[8:12]
        if brand == b"qt  ":
            return FORMATS["mov"]
        return FORMATS["mp4"] if has_video else FORMATS["m4a"]
    if demuxer == "matroska":
        return FORMATS["webm"] if b"webm" in head else FORMATS["mkv"]
    return FORMATS[demuxer]
