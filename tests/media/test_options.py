"""Options and limits are checked when made; content types follow the output format."""

from __future__ import annotations

import io
import sys

import pytest

from infrakit.errors import MissingDependencyError, ValidationError
from infrakit.media import (
    AudioOptions,
    ImageOptions,
    MediaLimits,
    VideoOptions,
    get_output_content_type,
    sync,
)
from tests.media import factory


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: ImageOptions(width=0), "width"),
        (lambda: ImageOptions(height=70_000), "height"),
        (lambda: ImageOptions(width=1.5), "width"),  # type: ignore[arg-type]
        (lambda: ImageOptions(fit="stretch"), "fit"),  # type: ignore[arg-type]
        (lambda: ImageOptions(format="secret-tiff"), "format"),
        (lambda: ImageOptions(format="mp4"), "format"),
        (lambda: ImageOptions(quality=0), "quality"),
        (lambda: VideoOptions(codec="hevc-secret"), "codec"),
        (lambda: VideoOptions(crf=20, bit_rate=1_000_000), "crf"),
        (lambda: VideoOptions(crf=99), "crf"),
        (lambda: VideoOptions(fps=-1), "fps"),
        (lambda: VideoOptions(audio_codec="wma"), "audio_codec"),
        (lambda: VideoOptions(format="png"), "format"),
        (lambda: AudioOptions(channels=6), "channels"),
        (lambda: AudioOptions(sample_rate=0), "sample_rate"),
        (lambda: MediaLimits(max_pixels=0), "max_pixels"),
        (lambda: MediaLimits(timeout=-1), "timeout"),
    ],
)
def test_bad_options_name_the_field_not_the_value(make: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make()  # type: ignore[operator]
    assert [error["pointer"] for error in caught.value.errors] == [f"#/{field}"]
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(("size", "format"), [(0, "jpeg"), (200, "gif"), (200, "bmp")])
def test_thumbnail_arguments_are_checked(size: int, format: str) -> None:
    with pytest.raises(ValidationError):
        sync.generate_thumbnail(factory.jpeg(), io.BytesIO(), size, format=format)


def test_a_source_that_is_not_a_file_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="source"):
        sync.probe(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("original", "format", "expected"),
    [
        ("image/png", "webp", "image/webp"),
        ("image/png", ".JPG", "image/jpeg"),
        ("image/png", None, "image/png"),
        ("video/quicktime", "mp4", "video/mp4"),
        ("audio/wav", "m4a", "audio/mp4"),
        ("audio/wav", "mp3", "audio/mpeg"),
        ("application/x-thing", "unknown", "application/x-thing"),
    ],
)
def test_get_output_content_type(original: str, format: str | None, expected: str) -> None:
    assert get_output_content_type(original, format) == expected


def test_a_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    video = factory.video(seconds=0.2, audio=None)
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r"infrakit\[media\]"):
        sync.probe(video)
