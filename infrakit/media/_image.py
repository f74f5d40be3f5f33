"""Image resizing and re-encoding on Pillow, on the fast path a thumbnail service needs.

The order matters for speed and for correctness: read the header and check the
limits; let libjpeg decode at 1/2, 1/4 or 1/8 scale (`draft`) when the output is
small; turn the picture upright from its EXIF orientation; resize once (Pillow's
`reducing_gap` runs `reduce()` before the final Lanczos pass); write it without
the EXIF, XMP and comments unless asked to keep them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from infrakit.media._errors import UnsupportedMediaError
from infrakit.media._formats import FORMATS, Format, sniff_image_format
from infrakit.media._guard import load_pillow, translated
from infrakit.media._io import SourceFile, TargetFile
from infrakit.media._options import Deadline, ImageOptions, MediaLimits
from infrakit.media._probe import EXIF_ORIENTATION, open_image
from infrakit.media._protocol import ImageMetadata

__all__ = ["output_format", "process_image", "render_image"]

# EXIF orientation -> the Pillow transpose that makes the picture upright.
_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}
_SWAPS_SIDES = {5, 6, 7, 8}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_REDUCING_GAP = 2.0


@dataclass(frozen=True, slots=True)
class Plan:
    """The one resize to run: the output size, the source region, and the padded canvas."""

    size: tuple[int, int]
    box: tuple[float, float, float, float]
    canvas: tuple[int, int] | None = None


def plan_resize(width: int, height: int, options: ImageOptions) -> Plan:
    """Where the pixels go for the options' box and fit (scale-invariant, so it can be re-run
    on the smaller picture a draft decode produced)."""
    full = (0.0, 0.0, float(width), float(height))
    wanted_width, wanted_height = options.width, options.height
    if wanted_width is None and wanted_height is None:
        return Plan((width, height), full)
    if wanted_width is None or wanted_height is None:
        scale = (wanted_width or 0) / width if wanted_width else (wanted_height or 0) / height
        return _scaled(width, height, _limited(scale, options), full)
    if options.fit == "fill":
        size = (wanted_width, wanted_height)
        if options.without_enlargement:
            size = (min(wanted_width, width), min(wanted_height, height))
        return Plan(size, full)
    if options.fit == "cover":
        return _cover(width, height, wanted_width, wanted_height, options)
    scale = _limited(min(wanted_width / width, wanted_height / height), options)
    plan = _scaled(width, height, scale, full)
    canvas = (wanted_width, wanted_height) if options.fit == "contain" else None
    return Plan(plan.size, full, canvas)


def _limited(scale: float, options: ImageOptions) -> float:
    return min(scale, 1.0) if options.without_enlargement else scale


def _scaled(width: int, height: int, scale: float, box: tuple[float, ...]) -> Plan:
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Plan(size, (box[0], box[1], box[2], box[3]))


def _cover(
    width: int, height: int, wanted_width: int, wanted_height: int, options: ImageOptions
) -> Plan:
    scale = _limited(max(wanted_width / width, wanted_height / height), options)
    out_width, out_height = (
        min(wanted_width, round(width * scale)),
        min(wanted_height, round(height * scale)),
    )
    box_width, box_height = out_width / scale, out_height / scale
    left, top = (width - box_width) / 2, (height - box_height) / 2
    return Plan(
        (max(1, out_width), max(1, out_height)), (left, top, left + box_width, top + box_height)
    )


def output_format(source_format: str, options: ImageOptions) -> Format:
    """The format to write: the one asked for, else the source's (GIF and BMP become PNG)."""
    if options.format is not None:
        from infrakit.media._formats import format_named

        chosen = format_named(options.format)
        assert chosen is not None  # ImageOptions checked it
        return chosen
    name = source_format.lower()
    return FORMATS[name] if name in {"jpeg", "png", "webp"} else FORMATS["png"]


def process_image(
    source: SourceFile,
    target: TargetFile,
    options: ImageOptions,
    limits: MediaLimits,
    deadline: Deadline,
) -> ImageMetadata:
    """Resize and re-encode one image from `source` into `target`."""
    image_format = sniff_image_format(source.head)
    if image_format is None:
        raise UnsupportedMediaError("the source is not an image in a supported format")
    chosen = output_format(image_format, options)
    with open_image(source, image_format, limits) as image, translated("image"):
        orientation = image.getexif().get(EXIF_ORIENTATION, 1) if options.auto_orient else 1
        kept = _kept_metadata(image, options)
        _draft(image, options, orientation)
        image.load()
        deadline.check()
        upright = _upright(image, orientation)
        return render_image(upright, target, options, chosen, kept, deadline)


def render_image(
    image: Any,
    target: TargetFile,
    options: ImageOptions,
    chosen: Format,
    kept: dict[str, Any] | None = None,
    deadline: Deadline | None = None,
) -> ImageMetadata:
    """Resize an upright, loaded picture per `options` and write it as `chosen`."""
    image_module = load_pillow()
    with translated("image"):
        picture = _normalised_mode(image, chosen)
        plan = plan_resize(picture.width, picture.height, options)
        if plan.size != picture.size or plan.box != (0, 0, picture.width, picture.height):
            picture = picture.resize(
                plan.size, image_module.Resampling.LANCZOS, box=plan.box, reducing_gap=_REDUCING_GAP
            )
        if plan.canvas is not None:
            picture = _padded(picture, plan.canvas, chosen)
        if deadline is not None:
            deadline.check()
        picture.info = {}
        picture.save(
            target.destination, format=chosen.pillow, **_save_options(chosen, options, kept)
        )
    return ImageMetadata(
        width=picture.width,
        height=picture.height,
        format=chosen.name,
        content_type=chosen.content_type,
        size=target.written(),
        has_alpha=picture.mode in _ALPHA_MODES,
    )


def _kept_metadata(image: Any, options: ImageOptions) -> dict[str, Any]:
    """The ICC profile always; the EXIF (orientation reset when applied) only when asked."""
    kept: dict[str, Any] = {}
    if image.info.get("icc_profile"):
        kept["icc_profile"] = image.info["icc_profile"]
    if not options.strip_metadata:
        exif = image.getexif()
        if options.auto_orient:
            exif[EXIF_ORIENTATION] = 1
        kept["exif"] = exif.tobytes()
    return kept


def _draft(image: Any, options: ImageOptions, orientation: int) -> None:
    """Ask libjpeg for the smallest 1/2^n decode still twice as large as the output needs.

    libjpeg's scaled IDCT is a block shrink, sharper than a fair resample: leaving a
    factor of two for the Lanczos pass keeps the result as `Image.thumbnail` and
    libvips' `thumbnail` make it (they leave the same).
    """
    if image.format != "JPEG" or (options.width is None and options.height is None):
        return
    width, height = image.size
    if orientation in _SWAPS_SIDES:
        width, height = height, width
    plan = plan_resize(width, height, options)
    scale_x = plan.size[0] / (plan.box[2] - plan.box[0]) * _REDUCING_GAP
    scale_y = plan.size[1] / (plan.box[3] - plan.box[1]) * _REDUCING_GAP
    needed = (math.ceil(width * scale_x), math.ceil(height * scale_y))
    if orientation in _SWAPS_SIDES:
        needed = (needed[1], needed[0])
    if needed[0] < image.width and needed[1] < image.height:
        image.draft("RGB" if image.mode == "RGB" else None, needed)


def _upright(image: Any, orientation: int) -> Any:
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def _normalised_mode(image: Any, chosen: Format) -> Any:
    """A mode the encoder takes and the resize keeps exact: palettes expanded, alpha kept
    where the format has it and flattened onto white where it does not."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in {"RGB", "RGBA", "L", "LA"}:
        image = image.convert("RGBA" if image.mode in _ALPHA_MODES else "RGB")
    if chosen.name == "jpeg" and image.mode in {"RGBA", "LA"}:
        image = _flattened(image)
    return image


def _flattened(image: Any) -> Any:
    image_module = load_pillow()
    rgba = image.convert("RGBA")
    background = image_module.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _padded(image: Any, canvas: tuple[int, int], chosen: Format) -> Any:
    image_module = load_pillow()
    transparent = chosen.name != "jpeg"
    mode = "RGBA" if transparent else "RGB"
    fill = (0, 0, 0, 0) if transparent else (255, 255, 255)
    padded = image_module.new(mode, canvas, fill)
    offset = ((canvas[0] - image.width) // 2, (canvas[1] - image.height) // 2)
    padded.paste(image.convert(mode), offset)
    return padded


def _save_options(
    chosen: Format, options: ImageOptions, kept: dict[str, Any] | None
) -> dict[str, Any]:
    params: dict[str, Any] = dict(kept or {})
    if chosen.name in {"jpeg", "webp"}:
        params["quality"] = options.quality
    if chosen.name == "gif":
        params.pop("exif", None)
    return params
