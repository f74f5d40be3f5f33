"""Video on PyAV: the poster frame for thumbnails, and transcoding.

A poster frame is the first keyframe in a short window after the wanted time:
one frame to decode, and the best-quality one. A file with no keyframe there
(one keyframe for the whole clip, as encoders with a long GOP write short clips)
gets an exact seek instead: from the keyframe before, decoding forward on
FFmpeg's frame threads with B-frames skipped, to the first frame at or after the
time. The chosen frame alone is converted, scaled by libswscale while it becomes
RGB, and checked for blackness: fades and title cards often start a video black,
so the next candidate time is tried and the brightest frame wins if all are dark.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from infrakit.media._audio import (
    AudioTrack,
    Progress,
    ProgressReporter,
    container_format,
    limits_check_time,
)
from infrakit.media._errors import MediaProcessingError, UnsupportedMediaError
from infrakit.media._guard import load_av, translated
from infrakit.media._io import SourceFile, TargetFile
from infrakit.media._options import VIDEO_ENCODERS, Deadline, MediaLimits, VideoOptions
from infrakit.media._probe import media_duration, open_container, video_stream
from infrakit.media._protocol import MediaProcessingResult

__all__ = ["poster_frame", "transcode_video"]

POSTER_POSITIONS = (0.10, 0.25, 0.50, 0.75, 0.0)
"""Fractions of the duration tried in turn for a poster frame."""
KEYFRAME_WINDOW = 0.10
"""How far after a wanted time (a fraction of the duration) a keyframe may stand in for it."""
MIN_KEYFRAME_WINDOW = 2.0
"""The window's floor in seconds, so a short clip's 1-2 s GOP (a phone's) still has one."""
POSTER_THREADS = 2
"""Decoding threads for a poster: two frames in flight shorten an exact seek's run when a
core is free; more add memory (each thread holds its frames) and little speed to a run
this short, and the pool already runs one operation per core."""
MAX_FRAMES_AFTER_SEEK = 500
"""Packets decoded past a keyframe looking for the exact time before taking what is there."""
_DARK_MEAN = 24.0
_DARK_SPREAD = 12.0


def poster_frame(
    source: SourceFile, limits: MediaLimits, deadline: Deadline, longest_side: int
) -> Any:
    """An upright RGB picture of the video near 10% of its duration, not a black one.

    Args:
        longest_side: the picture is scaled (by libswscale, during the RGB conversion)
            so that its longest side is at most this, never enlarged.
    """
    # the decoder below finds the stream parameters itself: the open decodes nothing
    with open_container(source, limits, deadline, decode_to_probe=False) as container:
        stream = video_stream(container)
        if stream is None:
            raise UnsupportedMediaError("the source has no video stream")
        context = stream.codec_context
        context.thread_type = "AUTO"  # frame threads, for the exact seek's run of frames
        context.thread_count = POSTER_THREADS
        # B-frames are never needed to reach a later frame: skip them while scanning forward
        context.skip_frame = "NONREF"
        duration = media_duration(container) or 0.0
        window = max(MIN_KEYFRAME_WINDOW, duration * KEYFRAME_WINDOW)
        brightest: tuple[float, Any] | None = None
        for position in POSTER_POSITIONS:
            with translated("video"):
                frame = _frame_near(
                    container, stream, duration * position, window, limits, deadline
                )
            if frame is None:
                continue
            picture = _picture(frame, longest_side)
            brightness, dark = _darkness(picture)
            if not dark:
                return picture
            if brightest is None or brightness > brightest[0]:
                brightest = (brightness, picture)
        if brightest is None:
            raise MediaProcessingError("no frame of the video could be decoded")
        return brightest[1]


def _frame_near(
    container: Any,
    stream: Any,
    seconds: float,
    window: float,
    limits: MediaLimits,
    deadline: Deadline,
) -> Any | None:
    """The first keyframe within `window` s after `seconds`, else the frame at `seconds`."""
    start = stream.start_time or 0
    time_base = stream.time_base
    wanted = start + int(seconds / time_base) if time_base else start
    latest = wanted + int(window / time_base) if time_base else wanted
    frame = _keyframe_after(container, stream, wanted, latest, limits, deadline)
    if frame is None:
        frame = _frame_at(container, stream, wanted, limits, deadline)
    return frame


def _keyframe_after(
    container: Any, stream: Any, wanted: int, latest: int, limits: MediaLimits, deadline: Deadline
) -> Any | None:
    """The keyframe the demuxer's index gives at or after `wanted`, if it is by `latest`.

    Decoding stops at that one packet: draining the decoder hands the frame over at
    once, instead of after the frames its reordering delay would wait for.
    """
    try:
        container.seek(wanted, stream=stream, backward=False, any_frame=False)
    except load_av().error.FFmpegError:
        return None  # no keyframe after it in the index
    for packet in container.demux(stream):
        deadline.check()
        if not packet.size or not packet.is_keyframe or packet.pts is None:
            return None
        if not wanted <= packet.pts <= latest:
            return None
        frames = _checked(stream.codec_context.decode(packet), limits)
        frames += _checked(stream.codec_context.decode(None), limits)
        return frames[0] if frames else None
    return None


def _frame_at(
    container: Any, stream: Any, wanted: int, limits: MediaLimits, deadline: Deadline
) -> Any | None:
    """The first frame at or after `wanted`, decoded forward from the keyframe before it."""
    try:
        container.seek(wanted, stream=stream, backward=True, any_frame=False)
    except load_av().error.FFmpegError:
        container.seek(0)
    context = stream.codec_context
    last = None
    for count, packet in enumerate(container.demux(stream)):
        deadline.check()
        if not packet.size:  # the end: drain what the decoder still holds
            frames = _checked(context.decode(None), limits)
            return next((frame for frame in frames if _at_or_after(frame, wanted)), last)
        # the first packet at or after the time (in decoding order) is a reference frame:
        # once it is in, drain rather than feed the frames the reordering delay waits for
        reached = packet.pts is None or packet.pts >= wanted or count >= MAX_FRAMES_AFTER_SEEK
        frames = _checked(context.decode(packet), limits)
        if reached:
            frames += _checked(context.decode(None), limits)
        for frame in frames:
            last = frame
            if _at_or_after(frame, wanted):
                return frame
        if reached:
            return last
    return last


def _at_or_after(frame: Any, wanted: int) -> bool:
    return frame.pts is None or frame.pts >= wanted


def _checked(frames: list[Any], limits: MediaLimits) -> list[Any]:
    """The frames, once each is within the pixel limits (a stream may change size)."""
    for frame in frames:
        limits.check_size(frame.width, frame.height)
    return frames


def _picture(frame: Any, longest_side: int) -> Any:
    scale = min(1.0, longest_side / max(frame.width, frame.height))
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    with translated("video"):
        picture = frame.to_image(width=width, height=height, interpolation="AREA")
        rotation = frame.rotation % 360
        return picture.rotate(rotation, expand=True) if rotation else picture


def _darkness(picture: Any) -> tuple[float, bool]:
    from PIL import ImageStat

    stat = ImageStat.Stat(
        picture.convert("L").reduce(4) if min(picture.size) >= 8 else picture.convert("L")
    )
    mean, spread = stat.mean[0], stat.stddev[0]
    return mean, mean < _DARK_MEAN and spread < _DARK_SPREAD


def _even_size(width: int, height: int, options: VideoOptions) -> tuple[int, int]:
    """The output frame size: inside the options' box, aspect kept, sides even."""
    scale = 1.0
    if options.width is not None and options.height is not None:
        scale = min(options.width / width, options.height / height)
    elif options.width is not None:
        scale = options.width / width
    elif options.height is not None:
        scale = options.height / height
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _frame_rate(options: VideoOptions, stream: Any) -> Fraction:
    if options.fps is not None:
        return Fraction(options.fps).limit_denominator(1001)
    rate = stream.average_rate or stream.guessed_rate or Fraction(30)
    return min(Fraction(rate), Fraction(240)).limit_denominator(1001)


class _VideoTrack:
    """The output video stream: scales each frame and gives it a constant-rate timestamp.

    Frames whose slot at the output rate is already taken are dropped, which is how a
    lower `fps` is reached and how jittery timestamps are made regular.
    """

    def __init__(
        self, output: Any, options: VideoOptions, size: tuple[int, int], rate: Fraction
    ) -> None:
        self.stream = output.add_stream(VIDEO_ENCODERS[options.codec], rate=rate)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = 1 / rate
        self.stream.options = _encoder_options(options)
        if options.bit_rate is not None:
            self.stream.bit_rate = options.bit_rate
        self._output = output
        self._rate = rate
        self._last = -1
        self._first_time: float | None = None
        self.frames = 0

    def add(self, frame: Any) -> None:
        if self._first_time is None:
            self._first_time = frame.time or 0.0
        slot = round(((frame.time or 0.0) - self._first_time) * self._rate)
        if slot <= self._last:
            return
        self._last = slot
        scaled = frame.reformat(
            width=self.stream.width, height=self.stream.height, format="yuv420p"
        )
        scaled.pts = slot
        scaled.time_base = self.stream.codec_context.time_base
        self._output.mux(self.stream.encode(scaled))
        self.frames += 1

    def close(self) -> None:
        self._output.mux(self.stream.encode(None))

    @property
    def duration(self) -> float:
        return float((self._last + 1) / self._rate) if self._last >= 0 else 0.0


def _display_rotation(container: Any, stream: Any, deadline: Deadline) -> int:
    """The display rotation of the first frame (its display matrix), then back to the start.

    FFmpeg exposes the matrix on decoded frames only, so one frame is decoded; the
    output stream copies it, as players turn the pixels rather than the encoder.
    """
    rotation = 0
    for frame in container.decode(stream):
        deadline.check()
        rotation = int(frame.rotation) % 360
        break
    container.seek(0)
    return rotation


def _encoder_options(options: VideoOptions) -> dict[str, str]:
    if options.codec == "h264":
        chosen = {"preset": options.preset}
        if options.bit_rate is None:
            chosen["crf"] = str(options.crf if options.crf is not None else 23)
        return chosen
    chosen = {"deadline": "realtime", "cpu-used": "8"}
    if options.bit_rate is None:
        chosen.update(crf=str(options.crf if options.crf is not None else 32), b="0")
    return chosen


def transcode_video(
    source: SourceFile,
    target: TargetFile,
    options: VideoOptions,
    limits: MediaLimits,
    deadline: Deadline,
    progress: Progress | None = None,
    target_name: str | None = None,
) -> MediaProcessingResult:
    """Re-encode the first video stream (and the first audio stream) of `source`."""
    fallback = "mp4" if options.codec == "h264" else "webm"
    chosen = container_format(options.format, target_name, fallback)
    av = load_av()
    with open_container(source, limits, deadline) as container:
        video_in = video_stream(container)
        if video_in is None:
            raise UnsupportedMediaError("the source has no video stream")
        video_in.thread_type = "AUTO"
        audio_in = (
            container.streams.audio[0] if options.audio_codec and container.streams.audio else None
        )
        reporter = ProgressReporter(progress, media_duration(container))
        size = _even_size(video_in.codec_context.width, video_in.codec_context.height, options)
        with translated("video"), av.open(target.destination, "w", format=chosen.muxer) as output:
            video = _VideoTrack(output, options, size, _frame_rate(options, video_in))
            rotation = _display_rotation(container, video_in, deadline)
            if rotation:
                video.stream.set_display_rotation(rotation)  # a phone video stays upright
            audio = None
            if audio_in is not None and options.audio_codec is not None:
                audio = AudioTrack(output, options.audio_codec, options.audio_bit_rate, audio_in)
            streams = [video_in] if audio_in is None else [video_in, audio_in]
            for packet in container.demux(*streams):
                deadline.check()
                for frame in packet.decode():
                    limits_check_time(frame.time, limits)
                    if packet.stream is video_in:
                        limits.check_size(frame.width, frame.height)
                        video.add(frame)
                    elif audio is not None:
                        audio.add(frame)
                    reporter.at(frame.time or 0.0)
            video.close()
            if audio is not None:
                audio.add(None)
    reporter.done()
    return MediaProcessingResult(
        kind="video",
        format=chosen.name,
        content_type=chosen.content_type,
        size=target.written(),
        width=size[0],
        height=size[1],
        duration=video.duration,
    )
