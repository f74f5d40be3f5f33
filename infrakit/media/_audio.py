"""Audio transcoding on PyAV, and the audio half of a video transcode."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from infrakit.media._errors import UnsupportedMediaError
from infrakit.media._formats import FORMATS, Format, format_named
from infrakit.media._guard import load_av, translated
from infrakit.media._io import SourceFile, TargetFile
from infrakit.media._options import AUDIO_ENCODERS, AudioOptions, Deadline, MediaLimits
from infrakit.media._probe import media_duration, open_container
from infrakit.media._protocol import MediaProcessingResult

__all__ = ["AudioTrack", "Progress", "ProgressReporter", "transcode_audio"]

Progress = Callable[[float], None]
"""Called with the fraction done (0.0 to 1.0), from the thread doing the work."""

_DEFAULT_CONTAINER = {"aac": "m4a", "opus": "ogg", "mp3": "mp3", "flac": "flac", "pcm": "wav"}
# Rates an encoder takes; anything else is resampled to the first.
_RATES = {"opus": (48_000, 24_000, 16_000, 12_000, 8_000), "mp3": (44_100, 48_000, 32_000)}


class ProgressReporter:
    """Calls `progress` when the fraction done grows by a percent, and once with 1.0 at the end."""

    def __init__(self, progress: Progress | None, duration: float | None) -> None:
        self._progress = progress
        self._duration = duration
        self._reported = 0.0

    def at(self, seconds: float) -> None:
        if self._progress is None or not self._duration:
            return
        fraction = min(1.0, max(0.0, seconds / self._duration))
        if fraction - self._reported >= 0.01:
            self._reported = fraction
            self._progress(fraction)

    def done(self) -> None:
        if self._progress is not None:
            self._progress(1.0)


class AudioTrack:
    """One output audio stream: resamples whatever the decoder gives into the encoder's format."""

    def __init__(
        self,
        output: Any,
        codec: str,
        bit_rate: int,
        source: Any,
        options: AudioOptions | None = None,
    ) -> None:
        av = load_av()
        rate = _rate(
            codec, (options.sample_rate if options else None) or source.codec_context.sample_rate
        )
        channels = (options.channels if options else None) or min(
            2, source.codec_context.channels or 2
        )
        layout = "mono" if channels == 1 else "stereo"
        self.stream = output.add_stream(AUDIO_ENCODERS[codec], rate=rate, layout=layout)
        if codec not in {"flac", "pcm"}:
            self.stream.bit_rate = bit_rate
        self._output = output
        self._rate = rate
        self._time_base = Fraction(1, rate)
        self._resampler = av.AudioResampler(
            format=self.stream.codec_context.format, layout=layout, rate=rate
        )
        self._samples = 0

    def add(self, frame: Any | None) -> None:
        """Encode a decoded frame (None flushes the resampler and the encoder)."""
        for resampled in self._resampler.resample(frame):
            resampled.pts = self._samples
            resampled.time_base = self._time_base
            self._samples += resampled.samples
            self._output.mux(self.stream.encode(resampled))
        if frame is None:
            self._output.mux(self.stream.encode(None))

    @property
    def duration(self) -> float:
        return self._samples / self._rate


def _rate(codec: str, wanted: int) -> int:
    allowed = _RATES.get(codec)
    return wanted if allowed is None or wanted in allowed else allowed[0]


def container_format(wanted: str | None, destination: object, fallback: str) -> Format:
    """The output container: the one asked for, else the target's extension, else `fallback`."""
    if wanted is not None:
        chosen = format_named(wanted)
        assert chosen is not None  # the options checked it
        return chosen
    if isinstance(destination, str):
        dot = destination.rfind(".")
        named = format_named(destination[dot:]) if dot >= 0 else None
        if named is not None and named.muxer is not None:
            return named
    return FORMATS[fallback]


def transcode_audio(
    source: SourceFile,
    target: TargetFile,
    options: AudioOptions,
    limits: MediaLimits,
    deadline: Deadline,
    progress: Progress | None = None,
    target_name: str | None = None,
) -> MediaProcessingResult:
    """Decode the first audio stream of `source` and encode it per `options` into `target`."""
    chosen = container_format(options.format, target_name, _DEFAULT_CONTAINER[options.codec])
    av = load_av()
    with open_container(source, limits, deadline) as container:
        if not container.streams.audio:
            raise UnsupportedMediaError("the source has no audio stream")
        stream = container.streams.audio[0]
        reporter = ProgressReporter(progress, media_duration(container))
        with translated("audio"), av.open(target.destination, "w", format=chosen.muxer) as output:
            track = AudioTrack(output, options.codec, options.bit_rate, stream, options)
            for frame in container.decode(stream):
                deadline.check()
                limits_check_time(frame.time, limits)
                track.add(frame)
                reporter.at(frame.time or 0.0)
            track.add(None)
    reporter.done()
    return MediaProcessingResult(
        kind="audio",
        format=chosen.name,
        content_type=chosen.content_type,
        size=target.written(),
        duration=track.duration,
    )


def limits_check_time(seconds: float | None, limits: MediaLimits) -> None:
    """Stop a stream whose frames run past the duration limit, whatever its header claimed."""
    if seconds is not None and seconds > limits.max_duration:
        from infrakit.media._errors import MediaTooLargeError

        raise MediaTooLargeError(
            f"the media runs past the limit of {limits.max_duration:g} s",
            details={"max_duration": limits.max_duration},
        )
