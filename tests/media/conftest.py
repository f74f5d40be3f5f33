"""Generated media, made once per session (a second or two of tiny video at most)."""

from __future__ import annotations

import pytest

pytest.importorskip("PIL", reason="the media tests need the 'media' extra (Pillow)")
pytest.importorskip("av", reason="the media tests need the 'media' extra (PyAV)")

from tests.media import factory


@pytest.fixture(scope="session")
def mp4() -> bytes:
    """2 s of 160x120 H.264 at 25 fps with AAC audio."""
    return factory.video()


@pytest.fixture(scope="session")
def webm() -> bytes:
    """1 s of 160x120 VP9 with Opus audio."""
    return factory.video("webm", "libvpx-vp9", seconds=1.0, audio="libopus")


@pytest.fixture(scope="session")
def ogg() -> bytes:
    """1 s of Opus audio, no video."""
    return factory.audio()


@pytest.fixture(scope="session")
def rotated_jpeg() -> bytes:
    """60x40 stored, EXIF orientation 6 (shown turned 90 degrees clockwise), with GPS."""
    return factory.jpeg(orientation=6, gps=True)


@pytest.fixture(scope="session")
def images() -> dict[str, bytes]:
    """One small image per input format."""
    return {
        "jpeg": factory.jpeg(),
        "png": factory.png_with_alpha(),
        "webp": factory.webp(),
        "gif": factory.animated_gif(),
    }
