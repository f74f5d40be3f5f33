"""Per-call cost of structured logging: infrakit.log against stdlib, structlog and loguru.

Run: `.venv/bin/python benchmarks/log.py` (about 30-60 s). Two cases, each to /dev/null:

* a JSON record with two metadata fields (`user_id`, `path`) written to a stream;
* a filtered-out debug call (the logger is at INFO).

Every library writes one flat JSON line per record to the same /dev/null stream and
flushes it, as each one's stream handler does. Figures are the best of several repeats
(best of 3 interleaved rounds of 3 repeats: the machine is shared, so the minimum is
the least noisy estimate); the ratio column
divides by stdlib logging's cost for the same case.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import timeit
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

NUMBER = 20_000
REPEATS = 3
ROUNDS = 3

Cases = tuple[Callable[[], None], Callable[[], None]]


def best_microseconds(call: Callable[[], None], number: int = NUMBER) -> float:
    timer = timeit.Timer(call)
    return min(timer.repeat(repeat=REPEATS, number=number)) / number * 1e6


class StdlibJsonFormatter(logging.Formatter):
    """A lean hand-written stdlib JSON formatter: fixed fields plus `extra=` fields, one
    prebuilt encoder (so the baseline is not inflated by `json.dumps` building one per call)."""

    _standard = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
    _encoder = json.JSONEncoder(default=str)

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._standard:
                payload[key] = value
        return self._encoder.encode(payload)


def stdlib_cases(sink: io.TextIOWrapper) -> tuple[Callable[[], None], Callable[[], None]]:
    logger = logging.getLogger("bench.stdlib")
    handler = logging.StreamHandler(sink)
    handler.setFormatter(StdlibJsonFormatter())
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    extra = {"user_id": 42, "path": "/orders"}
    return (
        lambda: logger.info("order placed", extra=extra),
        lambda: logger.debug("order placed", extra=extra),
    )


def structlog_cases(sink: io.TextIOWrapper) -> tuple[Callable[[], None], Callable[[], None]]:
    import structlog

    logger = structlog.wrap_logger(
        structlog.WriteLogger(sink),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    ).bind()  # the real bound logger, not the lazy proxy
    return (
        lambda: logger.info("order placed", user_id=42, path="/orders"),
        lambda: logger.debug("order placed", user_id=42, path="/orders"),
    )


def loguru_cases(
    sink: io.TextIOWrapper, *, enqueue: bool = False
) -> tuple[Callable[[], None], Callable[[], None]]:
    from loguru import logger

    logger.remove()
    logger.add(sink, serialize=True, level="INFO", diagnose=False, backtrace=False, enqueue=enqueue)
    bound = logger.bind(user_id=42, path="/orders")
    return (lambda: bound.info("order placed"), lambda: bound.debug("order placed"))


def loguru_enqueue_cases(sink: io.TextIOWrapper) -> tuple[Callable[[], None], Callable[[], None]]:
    return loguru_cases(sink, enqueue=True)


def infrakit_cases(
    sink: io.TextIOWrapper, *, non_blocking: bool = False
) -> tuple[Callable[[], None], Callable[[], None]]:
    from infrakit.log import JsonTransport, configure_logging, get_logger

    configure_logging(
        "INFO",
        format="json",
        sinks=[JsonTransport(sink)],
        non_blocking=non_blocking,
        overflow="block",  # every record is written: the caller pays for back-pressure too
    )
    logger = get_logger("bench.infrakit")
    return (
        lambda: logger.info("order placed", user_id=42, path="/orders"),
        lambda: logger.debug("order placed", user_id=42, path="/orders"),
    )


def infrakit_queued_cases(
    sink: io.TextIOWrapper,
) -> tuple[Callable[[], None], Callable[[], None]]:
    return infrakit_cases(sink, non_blocking=True)


def close_all() -> None:
    from loguru import logger

    from infrakit.log import shutdown_logging

    logger.remove()
    shutdown_logging()


CASES: tuple[tuple[str, Callable[[io.TextIOWrapper], Cases], int], ...] = (
    ("stdlib logging + JSON formatter", stdlib_cases, NUMBER),
    ("structlog JSONRenderer", structlog_cases, NUMBER),
    ("loguru serialize=True", loguru_cases, NUMBER),
    ("infrakit.log JSON", infrakit_cases, NUMBER),
    ("loguru serialize=True, enqueue=True (caller cost)", loguru_enqueue_cases, 2_000),
    ("infrakit.log JSON, non_blocking (caller cost)", infrakit_queued_cases, NUMBER),
)


def measure() -> dict[str, tuple[float, float]]:
    """Best of ROUNDS rounds; each round runs every library once, so a noisy neighbour
    slows all of them rather than one."""
    results: dict[str, tuple[float, float]] = {}
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for _ in range(ROUNDS):
            for name, build, number in CASES:
                record, filtered = build(sink)
                timing = (
                    best_microseconds(record, number),
                    best_microseconds(filtered, NUMBER * 10),
                )
                close_all()
                previous = results.get(name, (float("inf"), float("inf")))
                results[name] = (min(previous[0], timing[0]), min(previous[1], timing[1]))
    return results


def main() -> None:
    results = measure()
    base_record, base_filtered = results["stdlib logging + JSON formatter"]
    print(
        f"Python {sys.version.split()[0]}, best of {ROUNDS} rounds x {REPEATS} repeats "
        f"x {NUMBER} calls, to /dev/null\n"
    )
    print("| library | JSON record (us/call) | ratio | filtered-out debug (us/call) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, (record, filtered) in results.items():
        print(
            f"| {name} | {record:.2f} | {record / base_record:.2f}x "
            f"| {filtered:.3f} | {filtered / base_filtered:.2f}x |"
        )


if __name__ == "__main__":
    main()
