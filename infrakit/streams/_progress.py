"""Progress: a callback as the original has it, and a terminal bar (tqdm) or plain lines."""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, Any

from infrakit.errors import ValidationError, import_optional
from infrakit.streams._protocol import Transform

__all__ = ["ProgressCallback", "progress", "progress_bar"]

ProgressCallback = Callable[[float | None, int], Awaitable[None] | None]
"""`callback(fraction_or_None, bytes_so_far)`; the fraction is None when the total is unknown."""


def progress(
    callback: ProgressCallback, total: int | None = None, min_interval: float = 0.1
) -> Transform:
    """Report progress to `callback`, at most every `min_interval` seconds, and once at the end.

    The callback gets `(fraction, bytes_so_far)`: the fraction of `total` (capped at
    1.0), or None when `total` is unknown. A coroutine callback is awaited. The first
    chunk is reported at once; the final call comes when the stream ends, even if the
    last report was just before.
    """
    if total is not None and total < 0:
        raise ValidationError("total may not be negative", details={"field": "total"})

    async def reported(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        seen = 0
        last = float("-inf")
        async for chunk in chunks:
            seen += len(chunk)
            now = time.monotonic()
            if now - last >= min_interval:
                last = now
                await _call(callback, _fraction(seen, total), seen)
            yield chunk
        await _call(callback, _fraction(seen, total, final=True), seen)

    return reported


def progress_bar(
    total: int | None = None,
    description: str = "transfer",
    *,
    file: IO[str] | None = None,
    min_interval: float | None = None,
) -> Transform:
    """Draw progress: a tqdm bar on a terminal, plain lines otherwise (logs, CI).

    A terminal needs tqdm: `pip install 'infrakit[progress]'`. Plain lines look like
    `transfer: 12.0 MiB of 100.0 MiB (12%)` and come at most every `min_interval`
    seconds (1 s by default; 0.1 s on a terminal).

    Args:
        total: bytes expected, if known.
        description: the label.
        file: where to draw; `sys.stderr` by default.
        min_interval: seconds between updates.

    Raises:
        MissingDependencyError: a terminal, and tqdm is not installed.
    """
    output = file if file is not None else sys.stderr
    if _is_terminal(output):
        return _tqdm_bar(total, description, output, 0.1 if min_interval is None else min_interval)
    return progress(
        _LinePrinter(description, total, output),
        total,
        1.0 if min_interval is None else min_interval,
    )


class _LinePrinter:
    def __init__(self, description: str, total: int | None, output: IO[str]) -> None:
        self.description, self.total, self.output = description, total, output

    def __call__(self, fraction: float | None, done: int) -> None:
        text = f"{self.description}: {_size(done)}"
        if self.total is not None:
            text += f" of {_size(self.total)}"
        if fraction is not None:
            text += f" ({fraction:.0%})"
        print(text, file=self.output, flush=True)


def _tqdm_bar(total: int | None, description: str, output: IO[str], interval: float) -> Transform:
    tqdm = import_optional("tqdm", extra="progress")

    async def drawn(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        bar = tqdm.tqdm(
            total=total,
            desc=description,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=output,
            mininterval=interval,
        )
        try:
            async for chunk in chunks:
                bar.update(len(chunk))
                yield chunk
        finally:
            bar.close()

    return drawn


async def _call(callback: ProgressCallback, fraction: float | None, seen: int) -> None:
    outcome: Any = callback(fraction, seen)
    if inspect.isawaitable(outcome):
        await outcome


def _fraction(seen: int, total: int | None, *, final: bool = False) -> float | None:
    if total is None:
        return None
    if total == 0:
        return 1.0 if final else 0.0
    return min(1.0, seen / total)


def _is_terminal(output: IO[str]) -> bool:
    try:
        return output.isatty()
    except (AttributeError, ValueError):
        return False


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
