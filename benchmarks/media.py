"""Media benchmark: a 200 px thumbnail of a 6000 x 4000 JPEG, and a video's poster frame.

Run: `.venv/bin/python benchmarks/media.py` (`--quick` or `BENCH_QUICK=1`: 3 rounds on a
smaller video, a smoke run). Every measurement runs in a fresh process, so no
contestant profits from another's warm caches; the contestants take turns within
each round (interleaved). Time is the operation alone (imports done before the
clock starts); memory is the growth of the peak resident set (VmHWM, reset just
before the operation) over the resident set at that moment. Medians over the
rounds, with the min-max spread.

Contestants, each in its fastest honest configuration:
- infrakit: `infrakit.media.sync.generate_thumbnail(path, target, 200)` (and the async
  form through the bounded pool, to show its overhead);
- naive Pillow: open, full-size decode, one LANCZOS `resize`, save;
- `Image.thumbnail` (Pillow's own draft + reduce path);
- pyvips `thumbnail` (libvips' shrink-on-load: the ceiling; the `bench` extra);
- for the poster frame, PyAV seek to 10% and decode forward to that frame, to RGB.
All write a quality-80 JPEG.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUICK = "--quick" in sys.argv[1:] or os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 3 if QUICK else int(os.environ.get("BENCH_ROUNDS", "9"))
VIDEO_SECONDS = 3 if QUICK else 10
SIZE = 200

IMAGE_CONTESTANTS = ("infrakit", "infrakit async", "Image.thumbnail", "naive Pillow", "pyvips")
VIDEO_CONTESTANTS = ("infrakit poster", "PyAV seek+decode")


def make_inputs(directory: Path) -> tuple[Path, Path]:
    """A textured 6000 x 4000 photo-like JPEG, and a 1080p H.264 MP4."""
    from PIL import Image, ImageFilter

    photo = directory / "photo.jpg"
    noise = Image.effect_noise((1500, 1000), 60).filter(ImageFilter.GaussianBlur(1))
    gradient = Image.linear_gradient("L").resize((1500, 1000))
    base = Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))
    base.resize((6000, 4000), Image.Resampling.BICUBIC).save(photo, "JPEG", quality=90)
    video = directory / "clip.mp4"
    _make_video(video, base.resize((1920, 1080)))
    return photo, video


def _make_video(path: Path, picture: object) -> None:
    import av
    from PIL import Image

    assert isinstance(picture, Image.Image)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for index in range(VIDEO_SECONDS * 25):
            shifted = picture.rotate(index % 360, resample=Image.Resampling.NEAREST)
            frame = av.VideoFrame.from_image(shifted)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


# --- the child: one measurement in a fresh process -------------------------------------


def child(name: str, source: str, target: str) -> None:
    import time

    run = _prepare(name)
    _reset_peak()
    rss_before = _status_kib("VmRSS")
    started = time.perf_counter()
    run(source, target)
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM")
    print(json.dumps({"seconds": seconds, "memory_mib": max(0, peak - rss_before) / 1024}))


def _reset_peak() -> None:
    """Start the peak resident set (VmHWM) from now (Linux: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _prepare(name: str):  # type: ignore[no-untyped-def]
    """Import what the contestant needs and return its call (imports are not timed)."""
    if name.startswith("infrakit"):
        from infrakit.media._guard import load_av, load_pillow

        load_pillow(), load_av()  # what `import PIL.Image` / `import av` are for the others
    if name in {"infrakit", "infrakit poster"}:
        from infrakit.media import sync

        return lambda source, target: sync.generate_thumbnail(source, target, SIZE)
    if name == "infrakit async":
        import asyncio

        from infrakit.media import MediaProcessor

        processor = MediaProcessor(max_workers=1)
        return lambda source, target: asyncio.run(
            processor.generate_thumbnail(source, target, SIZE)
        )
    from PIL import Image

    if name == "naive Pillow":

        def naive(source: str, target: str) -> None:
            with Image.open(source) as picture:
                scale = SIZE / max(picture.size)
                size = (round(picture.width * scale), round(picture.height * scale))
                picture.resize(size, Image.Resampling.LANCZOS).save(target, "JPEG", quality=80)

        return naive
    if name == "Image.thumbnail":

        def thumbnail(source: str, target: str) -> None:
            with Image.open(source) as picture:
                picture.thumbnail((SIZE, SIZE))
                picture.save(target, "JPEG", quality=80)

        return thumbnail
    if name == "pyvips":
        import pyvips

        return lambda source, target: pyvips.Image.thumbnail(source, SIZE).jpegsave(target, Q=80)
    if name == "PyAV seek+decode":
        import av

        def poster(source: str, target: str) -> None:
            with av.open(source) as container:
                stream = container.streams.video[0]
                wanted = int(container.duration / 1_000_000 * 0.1 / stream.time_base)
                container.seek(wanted, stream=stream)
                for frame in container.decode(stream):
                    if frame.pts >= wanted:
                        frame.to_image().save(target, "JPEG", quality=80)
                        return

        return poster
    raise SystemExit(f"unknown contestant {name!r}")


# --- the parent: interleaved rounds, medians, ratios ------------------------------------


def measure(name: str, source: Path, directory: Path) -> dict[str, float]:
    target = directory / f"out-{name.replace(' ', '_').replace('+', '_')}.jpg"
    completed = subprocess.run(
        [sys.executable, __file__, "--child", name, str(source), str(target)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run_rounds(
    contestants: tuple[str, ...], source: Path, directory: Path
) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in contestants}
    for round_number in range(ROUNDS):
        order = (
            contestants[round_number % len(contestants) :]
            + contestants[: round_number % len(contestants)]
        )
        for name in order:
            results[name].append(measure(name, source, directory))
    return results


def report(title: str, results: dict[str, list[dict[str, float]]], reference: str) -> None:
    print(f"\n{title} (medians of {ROUNDS} fresh processes; ratio = time / {reference}'s)")
    print(f"{'contestant':<20} {'time ms':>9} {'spread ms':>15} {'ratio':>7} {'peak MiB':>9}")
    medians = {
        name: statistics.median(item["seconds"] for item in runs) for name, runs in results.items()
    }
    for name, runs in results.items():
        times = sorted(item["seconds"] * 1000 for item in runs)
        memory = statistics.median(item["memory_mib"] for item in runs)
        spread = f"{times[0]:.0f}-{times[-1]:.0f}"
        ratio = medians[name] / medians[reference]
        print(f"{name:<20} {medians[name] * 1000:>9.1f} {spread:>15} {ratio:>6.2f}x {memory:>9.1f}")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        return
    print(f"Python {sys.version.split()[0]}{' (quick mode)' if QUICK else ''}")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        photo, video = make_inputs(directory)
        contestants, reference = IMAGE_CONTESTANTS, "pyvips"
        if importlib.util.find_spec("pyvips") is None:
            print("pyvips is not installed (the `bench` extra): left out")
            contestants, reference = contestants[:-1], "Image.thumbnail"
        images = run_rounds(contestants, photo, directory)
        report("200 px thumbnail of a 6000 x 4000 JPEG", images, reference)
        naive = statistics.median(item["seconds"] for item in images["naive Pillow"])
        ours = statistics.median(item["seconds"] for item in images["infrakit"])
        print(f"infrakit / naive Pillow: {ours / naive:.2f}x")
        videos = run_rounds(VIDEO_CONTESTANTS, video, directory)
        report(f"poster frame of a 1080p {VIDEO_SECONDS} s H.264 MP4", videos, "PyAV seek+decode")


if __name__ == "__main__":
    main()
