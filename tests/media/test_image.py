"""ImageProcessor.process: fits, formats, orientation, metadata and the fast JPEG path."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from infrakit.media import ImageOptions, ImageProcessor, MediaProcessingError, sync
from tests.media import factory


def opened(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def near(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour[:3], expected, strict=True))


@pytest.fixture
async def processor() -> ImageProcessor:
    return ImageProcessor(max_workers=2)


@pytest.mark.parametrize(
    ("fit", "expected"),
    [("cover", (30, 30)), ("contain", (30, 30)), ("fill", (30, 30)), ("inside", (30, 20))],
)
async def test_fits(
    processor: ImageProcessor, images: dict[str, bytes], fit: str, expected: tuple[int, int]
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(
        images["jpeg"],
        output,
        ImageOptions(width=30, height=30, fit=fit),  # type: ignore[arg-type]
    )
    assert (metadata.width, metadata.height) == expected == opened(output.getvalue()).size
    assert metadata.size == len(output.getvalue())


async def test_cover_crops_the_middle(processor: ImageProcessor, images: dict[str, bytes]) -> None:
    output = io.BytesIO()
    await processor.process(images["jpeg"], output, ImageOptions(width=20, height=40, fit="cover"))
    picture = opened(output.getvalue()).convert("RGB")
    # a 60x40 picture cropped to its middle 20x40: the red/blue border runs through it
    assert near(picture.getpixel((2, 20)), factory.LEFT)
    assert near(picture.getpixel((17, 20)), factory.RIGHT)


async def test_one_side_keeps_the_aspect_ratio(
    processor: ImageProcessor, images: dict[str, bytes]
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(images["jpeg"], output, ImageOptions(width=30))
    assert (metadata.width, metadata.height) == (30, 20)


async def test_without_enlargement(processor: ImageProcessor, images: dict[str, bytes]) -> None:
    output = io.BytesIO()
    options = ImageOptions(width=600, height=600, fit="inside", without_enlargement=True)
    metadata = await processor.process(images["jpeg"], output, options)
    assert (metadata.width, metadata.height) == (60, 40)


@pytest.mark.parametrize("source", ["jpeg", "png", "webp", "gif"])
@pytest.mark.parametrize("format", ["jpeg", "png", "webp", "gif"])
async def test_every_format_to_every_format(
    processor: ImageProcessor, images: dict[str, bytes], source: str, format: str
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(
        images[source], output, ImageOptions(width=20, format=format)
    )
    picture = opened(output.getvalue())
    assert picture.format == format.upper()
    assert metadata.format == format
    assert metadata.content_type == f"image/{format}"
    assert picture.width == 20


async def test_alpha_is_kept_where_the_format_has_it(
    processor: ImageProcessor, images: dict[str, bytes]
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(images["png"], output, ImageOptions(width=24, format="webp"))
    picture = opened(output.getvalue()).convert("RGBA")
    assert metadata.has_alpha
    assert picture.getpixel((2, 8))[3] == 255
    assert picture.getpixel((21, 8))[3] == 0


async def test_alpha_is_flattened_on_white_for_jpeg(
    processor: ImageProcessor, images: dict[str, bytes]
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(images["png"], output, ImageOptions(format="jpeg"))
    assert not metadata.has_alpha
    assert near(opened(output.getvalue()).getpixel((40, 16)), (255, 255, 255), 10)


async def test_contain_pads_transparently(
    processor: ImageProcessor, images: dict[str, bytes]
) -> None:
    output = io.BytesIO()
    options = ImageOptions(width=40, height=40, fit="contain", format="png")
    await processor.process(images["jpeg"], output, options)
    picture = opened(output.getvalue()).convert("RGBA")
    assert picture.size == (40, 40)
    assert picture.getpixel((20, 1))[3] == 0
    assert picture.getpixel((20, 20))[3] == 255


async def test_exif_orientation_comes_out_upright(
    processor: ImageProcessor, rotated_jpeg: bytes
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(rotated_jpeg, output, ImageOptions(format="png"))
    picture = opened(output.getvalue()).convert("RGB")
    assert (metadata.width, metadata.height) == (40, 60)
    # orientation 6 turns the picture 90 degrees clockwise: the red left half goes on top
    assert near(picture.getpixel((20, 5)), factory.LEFT)
    assert near(picture.getpixel((20, 55)), factory.RIGHT)


async def test_orientation_applies_before_resizing(
    processor: ImageProcessor, rotated_jpeg: bytes
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(rotated_jpeg, output, ImageOptions(width=20))
    assert (metadata.width, metadata.height) == (20, 30)


async def test_auto_orient_off_keeps_the_stored_picture(
    processor: ImageProcessor, rotated_jpeg: bytes
) -> None:
    output = io.BytesIO()
    metadata = await processor.process(rotated_jpeg, output, ImageOptions(auto_orient=False))
    assert (metadata.width, metadata.height) == (60, 40)


@pytest.mark.parametrize("format", ["jpeg", "png", "webp"])
async def test_metadata_is_stripped_by_default(
    processor: ImageProcessor, rotated_jpeg: bytes, format: str
) -> None:
    output = io.BytesIO()
    await processor.process(rotated_jpeg, output, ImageOptions(width=30, format=format))
    picture = opened(output.getvalue())
    assert not picture.getexif()
    assert "exif" not in picture.info
    assert "comment" not in picture.info
    assert b"TestCamera" not in output.getvalue()
    assert b"private note" not in output.getvalue()


async def test_metadata_kept_on_request_with_orientation_reset(
    processor: ImageProcessor, rotated_jpeg: bytes
) -> None:
    output = io.BytesIO()
    await processor.process(rotated_jpeg, output, ImageOptions(strip_metadata=False))
    exif = opened(output.getvalue()).getexif()
    assert exif[factory.EXIF_MAKE] == "TestCamera"
    assert exif[factory.EXIF_ORIENTATION] == 1


async def test_icc_profile_is_kept(processor: ImageProcessor) -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = io.BytesIO()
    factory.split_picture().save(source, "JPEG", icc_profile=profile)
    output = io.BytesIO()
    await processor.process(source.getvalue(), output, ImageOptions(width=30))
    assert opened(output.getvalue()).info.get("icc_profile") == profile


async def test_large_jpeg_takes_the_draft_path_and_stays_sharp(processor: ImageProcessor) -> None:
    source = factory.jpeg((1600, 1200))
    output = io.BytesIO()
    metadata = await processor.process(
        source, output, ImageOptions(width=100, height=100, fit="inside")
    )
    picture = opened(output.getvalue()).convert("RGB")
    assert (metadata.width, metadata.height) == (100, 75)
    assert near(picture.getpixel((10, 37)), factory.LEFT)
    assert near(picture.getpixel((90, 37)), factory.RIGHT)


@pytest.mark.parametrize(
    ("width", "decoded"),
    [(300, (800, 600)), (100, (200, 150)), (1000, (1600, 1200)), (150, (400, 300))],
)
def test_jpeg_draft_leaves_twice_the_output_for_the_resize(
    width: int, decoded: tuple[int, int]
) -> None:
    # libjpeg scales by 1/2, 1/4 or 1/8: the smallest still at least twice the output
    from infrakit.media._image import _draft

    with Image.open(io.BytesIO(factory.jpeg((1600, 1200)))) as picture:
        _draft(picture, ImageOptions(width=width), 1)
        assert picture.size == decoded


async def test_path_target_is_written_atomically(
    processor: ImageProcessor, images: dict[str, bytes], tmp_path: Path
) -> None:
    target = tmp_path / "out.webp"
    target.write_bytes(b"old content")
    with pytest.raises(MediaProcessingError, match=r"corrupt|truncated"):
        await processor.process(images["jpeg"][:200], target, ImageOptions(format="webp"))
    assert target.read_bytes() == b"old content"
    assert sorted(os.listdir(tmp_path)) == ["out.webp"]
    await processor.process(images["jpeg"], target, ImageOptions(format="webp"))
    assert opened(target.read_bytes()).format == "WEBP"


def test_sync_form_gives_the_same_result(images: dict[str, bytes]) -> None:
    output = io.BytesIO()
    metadata = sync.ImageProcessor().process(images["webp"], output, ImageOptions(width=25))
    assert (metadata.width, metadata.height, metadata.format) == (25, 15, "webp")
