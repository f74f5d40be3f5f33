"""Media benchmark: a 200 px thumbnail of a 6000 x 4000 JPEG, and a video's poster frame.

Run: `.venv/bin/python benchmarks/media.py` (`--quick` or `BENCH_QUICK=1`: 3 rounds on
3 s clips, a smoke run; `BENCH_BASELINE=<dir>`: the `infrakit` package in `<dir>`, an
earlier checkout, runs too, as `... (baseline)`, for before/after figures from one run).
Every measurement runs in a fresh process, so no contestant profits from another's
warm caches; the contestants take turns within each round (interleaved). Time is the
operation alone: imports are done before the clock starts, for every contestant the
same way (`import pyvips`; `import av`; `PIL.Image` with the standard plugins that
`Image.open` loads on its first call, `Image.preinit()`, for each contestant on
Pillow, infrakit included); what the first call does besides importing is timed.
CPU is the process's CPU time over the operation, all threads (on a busy machine,
the steadier figure; on a quiet one, time below CPU shows threads at work). Memory
is the growth of the peak resident set (VmHWM, reset just before the operation)
over the resident set at that moment. Medians over the rounds, with the min-max
spread of the time.

Contestants, each in its fastest honest configuration, all doing the same work: a
200 px JPEG at quality 80, 4:2:0 chroma, Huffman tables not optimised, no metadata
(pyvips is told `keep=NONE`; the others write none by default):
- infrakit: `infrakit.media.sync.generate_thumbnail(path, target, 200)` (and the async
  form through the bounded pool, to show its overhead);
- naive Pillow: open, full-size decode, one LANCZOS `resize`, save;
- `Image.thumbnail` (Pillow's own draft + reduce path; its default filter is BICUBIC,
  lighter than the Lanczos the others use);
- pyvips `thumbnail` (libvips' shrink-on-load: the ceiling; the `bench` extra);
- for the poster frame: PyAV seek to 10% and decode forward to that frame, to RGB,
  saved by Pillow (what one writes with PyAV); and a keyframe poster in PyAV: seek
  forward to the keyframe at or after 10%, decode that one packet, scale it to 400 px
  in the RGB conversion, `Image.thumbnail`, save.

The clips are 1080p, 25 fps H.264 (libx264 `veryfast`: High profile, CABAC, B-frames,
as FFmpeg and cameras write it) of a turning textured picture. The typical one has a
keyframe every 2 s (GOP 50; phones write one every 1-2 s). The worst case has one
keyframe, at the start: what FFmpeg's default GOP of 250 frames gives a 10 s clip
without scene cuts; a poster near 10% must then be decoded from the start.
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

from _order import turn_orders  # benchmarks/, the script's directory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUICK = "--quick" in sys.argv[1:] or os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 3 if QUICK else int(os.environ.get("BENCH_ROUNDS", "9"))
VIDEO_SECONDS = 3 if QUICK else 10
FPS = 25
TYPICAL_GOP = 2 * FPS
SIZE = 200
BASELINE = os.environ.get("BENCH_BASELINE")
BASELINE_SUFFIX = " (baseline)"

IMAGE_CONTESTANTS = ("infrakit", "infrakit async", "Image.thumbnail", "naive Pillow", "pyvips")
VIDEO_CONTESTANTS = ("infrakit poster", "PyAV seek+decode", "PyAV keyframe")


def make_inputs(directory: Path) -> tuple[Path, Path, Path]:
    """A textured 6000 x 4000 photo-like JPEG, and two 1080p H.264 MP4s: GOP 2 s, one GOP."""
    from PIL import Image, ImageFilter

    photo = directory / "photo.jpg"
    noise = Image.effect_noise((1500, 1000), 60).filter(ImageFilter.GaussianBlur(1))
    gradient = Image.linear_gradient("L").resize((1500, 1000))
    base = Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))
    base.resize((6000, 4000), Image.Resampling.BICUBIC).save(photo, "JPEG", quality=90)
    frame = base.resize((1920, 1080))
    typical, worst = directory / "typical.mp4", directory / "one-keyframe.mp4"
    _make_video(typical, frame, TYPICAL_GOP)
    _make_video(worst, frame, VIDEO_SECONDS * FPS)
    return photo, typical, worst


def _make_video(path: Path, picture: object, gop: int) -> None:
    """`gop` frames from one keyframe to the next (no scene cuts, so exactly that)."""
    import av
    from PIL import Image

    assert isinstance(picture, Image.Image)
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0"
    options = {"preset": "veryfast", "x264-params": params}
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for index in range(VIDEO_SECONDS * FPS):
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
    cpu_started, started = time.process_time(), time.perf_counter()
    run(source, target)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = _status_kib("VmHWM")
    memory = max(0, peak - rss_before) / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "memory_mib": memory}))


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
    if name.endswith(BASELINE_SUFFIX):
        assert BASELINE, "a baseline contestant without BENCH_BASELINE"
        sys.path.insert(0, BASELINE)  # its infrakit package, not this checkout's
        name = name.removesuffix(BASELINE_SUFFIX)
    if name == "pyvips":
        import pyvips

        def vips(source: str, target: str) -> None:
            keep = pyvips.enums.ForeignKeep.NONE  # metadata stripped, as the others
            pyvips.Image.thumbnail(source, SIZE).jpegsave(target, Q=80, keep=keep)

        return vips
    from PIL import Image

    Image.preinit()  # the plugins Image.open imports on its first call: an import
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
    if name == "PyAV keyframe":
        import av

        def keyframe(source: str, target: str) -> None:
            with av.open(source) as container:
                stream = container.streams.video[0]
                wanted = int(container.duration / 1_000_000 * 0.1 / stream.time_base)
                container.seek(wanted, stream=stream, backward=False)
                packet = next(container.demux(stream))
                frames = stream.codec_context.decode(packet) + stream.codec_context.decode(None)
                picture = frames[0].to_image(width=SIZE * 2, height=SIZE * 9 // 8)
                picture.thumbnail((SIZE, SIZE))
                picture.save(target, "JPEG", quality=80)

        return keyframe
    raise SystemExit(f"unknown contestant {name!r}")


# --- the parent: interleaved rounds, medians, ratios ------------------------------------


def measure(name: str, source: Path, directory: Path) -> dict[str, float]:
    """One run in a fresh process, writing a new file (replacing one costs ext4 a flush)."""
    target = directory / f"out-{name.replace(' ', '_').replace('+', '_')}.jpg"
    target.unlink(missing_ok=True)
    completed = subprocess.run(
        [sys.executable, __file__, "--child", name, str(source), str(target)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    target.unlink()
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run_rounds(
    contestants: tuple[str, ...], source: Path, directory: Path
) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in contestants}
    for order in turn_orders(contestants, ROUNDS):
        for name in order:
            results[name].append(measure(name, source, directory))
    return results


def report(title: str, results: dict[str, list[dict[str, float]]], reference: str) -> None:
    print(f"\n{title} (medians of {ROUNDS} fresh processes; ratio = time / {reference}'s)")
    header = f"{'contestant':<28} {'time ms':>9} {'spread ms':>11} {'ratio':>7} {'cpu ms':>7}"
    print(f"{header} {'peak MiB':>9}")
    medians = {
        name: statistics.median(item["seconds"] for item in runs) for name, runs in results.items()
    }
    for name, runs in results.items():
        times = sorted(item["seconds"] * 1000 for item in runs)
        cpu = statistics.median(item["cpu"] for item in runs) * 1000
        memory = statistics.median(item["memory_mib"] for item in runs)
        spread = f"{times[0]:.0f}-{times[-1]:.0f}"
        ratio = medians[name] / medians[reference]
        row = f"{name:<28} {medians[name] * 1000:>9.1f} {spread:>11} {ratio:>6.2f}x {cpu:>7.1f}"
        print(f"{row} {memory:>9.1f}")


def with_baseline(contestants: tuple[str, ...], *ours: str) -> tuple[str, ...]:
    """The contestants, and the baseline checkout's runs of `ours` when one is given."""
    return contestants + tuple(name + BASELINE_SUFFIX for name in ours) if BASELINE else contestants


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        return
    print(f"Python {sys.version.split()[0]}{' (quick mode)' if QUICK else ''}")
    if BASELINE:
        print(f"baseline: the infrakit package in {BASELINE}")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        photo, typical, worst = make_inputs(directory)
        contestants, reference = IMAGE_CONTESTANTS, "pyvips"
        if importlib.util.find_spec("pyvips") is None:
            print("pyvips is not installed (the `bench` extra): left out")
            contestants, reference = contestants[:-1], "Image.thumbnail"
        images = run_rounds(with_baseline(contestants, "infrakit"), photo, directory)
        report("200 px thumbnail of a 6000 x 4000 JPEG", images, reference)
        naive = statistics.median(item["seconds"] for item in images["naive Pillow"])
        ours = statistics.median(item["seconds"] for item in images["infrakit"])
        print(f"infrakit / naive Pillow: {ours / naive:.2f}x")
        videos = with_baseline(VIDEO_CONTESTANTS, "infrakit poster")
        clips = (
            (f"a keyframe every {TYPICAL_GOP // FPS} s (typical)", typical, videos),
            # no keyframe after 10% to take: "PyAV keyframe" has nothing to do
            ("worst case: one keyframe", worst, tuple(v for v in videos if v != "PyAV keyframe")),
        )
        for label, clip, names in clips:
            title = f"poster frame of a 1080p {VIDEO_SECONDS} s H.264 MP4, {label}"
            report(title, run_rounds(names, clip, directory), "PyAV seek+decode")


if __name__ == "__main__":
    main()
