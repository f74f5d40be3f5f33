"""Per-call cost of structured logging: infrakit.log against stdlib, structlog and loguru.

Run: `.venv/bin/python benchmarks/log.py` (about 60-90 s; `--quick` for a smoke run of a
few seconds). Two cases, each to /dev/null:

* a JSON record with two metadata fields (`user_id`, `path`) written to a stream;
* a filtered-out debug call (the logger is at INFO).

Equal work: every contestant writes one flat JSON line with the same six fields (`time` as
RFC 3339 UTC with microseconds, `level`, `logger`, `message`, `user_id`, `path`) and
flushes it, as each one's stream handler does; the one exception is loguru's own
`serialize=True`, whose line carries loguru's whole record. A first table prints the bytes
per line and the fields of each contestant, from a line each one really wrote.

The value-masking rows run infrakit with secrets registered (3, decided by one substring
search each; 50 and 200, past 32, decided by the chunk filter) on the same record (no
secret in it), and on records that do hold a secret or a URL with a password, which are
masked.
Figures are the best of several repeats (best of ROUNDS interleaved rounds of REPEATS
repeats: the machine is shared, so the minimum is the least noisy estimate), with the
spread (slowest round's best over the fastest's); the ratio column divides by stdlib
logging's cost for the same case.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import sys
import time
import timeit
from collections.abc import Callable
from typing import IO, Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

QUICK = "--quick" in sys.argv or os.environ.get("BENCH_QUICK") == "1"
NUMBER = 2_000 if QUICK else 20_000
REPEATS = 2 if QUICK else 3
ROUNDS = 1 if QUICK else 3

Cases = tuple[Callable[[], None], Callable[[], None]]
Sink = IO[str]
FIELDS = ("time", "level", "logger", "message", "user_id", "path")
LOGGER = "bench.orders"  # one name for every contestant: the lines are the same size


def best_microseconds(call: Callable[[], None], number: int) -> float:
    timer = timeit.Timer(call)
    return min(timer.repeat(repeat=REPEATS, number=number)) / number * 1e6


def rfc3339(created: float) -> str:
    """The timestamp format every contestant writes (infrakit's and structlog's)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{stamp}.{int(created % 1 * 1_000_000):06d}Z"


class StdlibJsonFormatter(logging.Formatter):
    """A lean hand-written stdlib JSON formatter: the six fields, one prebuilt encoder (so
    the baseline is not inflated by `json.dumps` building one per call)."""

    _standard = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
    _encoder = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._standard:
                payload[key] = value
        return self._encoder.encode(payload)


def stdlib_cases(sink: Sink) -> Cases:
    logger = logging.getLogger(LOGGER)
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


def structlog_cases(sink: Sink) -> Cases:
    import structlog

    logger = structlog.wrap_logger(
        structlog.WriteLogger(sink),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(separators=(",", ":"), ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    ).bind(logger=LOGGER)  # the real bound logger, not the lazy proxy
    return (
        lambda: logger.info("order placed", user_id=42, path="/orders"),
        lambda: logger.debug("order placed", user_id=42, path="/orders"),
    )


def loguru_cases(sink: Sink, *, enqueue: bool = False) -> Cases:
    from loguru import logger

    logger.remove()
    logger.add(sink, serialize=True, level="INFO", diagnose=False, backtrace=False, enqueue=enqueue)
    bound = logger.bind(user_id=42, path="/orders")
    return (lambda: bound.info("order placed"), lambda: bound.debug("order placed"))


def loguru_enqueue_cases(sink: Sink) -> Cases:
    return loguru_cases(sink, enqueue=True)


_LOGURU_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))


def _loguru_same_fields(record: Any) -> None:
    """loguru's documented recipe for a custom JSON line: a patcher serialises the subset."""
    record["extra"]["serialized"] = _LOGURU_ENCODER.encode(
        {
            "time": rfc3339(record["time"].timestamp()),
            "level": record["level"].name,
            "logger": LOGGER,
            "message": record["message"],
            **{key: value for key, value in record["extra"].items() if key != "serialized"},
        }
    )


def loguru_same_fields_cases(sink: Sink) -> Cases:
    from loguru import logger

    logger.remove()
    logger.add(sink, format="{extra[serialized]}", level="INFO", diagnose=False, backtrace=False)
    bound = logger.bind(user_id=42, path="/orders").patch(_loguru_same_fields)
    return (lambda: bound.info("order placed"), lambda: bound.debug("order placed"))


def infrakit_cases(
    sink: Sink, *, non_blocking: bool = False, message: str = "order placed", path: str = "/orders"
) -> Cases:
    from infrakit.log import JsonTransport, configure_logging, get_logger

    configure_logging(
        "INFO",
        format="json",
        sinks=[JsonTransport(sink)],
        non_blocking=non_blocking,
        overflow="block",  # every record is written: the caller pays for back-pressure too
    )
    logger = get_logger(LOGGER)
    return (
        lambda: logger.info(message, user_id=42, path=path),
        lambda: logger.debug(message, user_id=42, path=path),
    )


def infrakit_queued_cases(sink: Sink) -> Cases:
    return infrakit_cases(sink, non_blocking=True)


# Random text, as real secrets are: no shared prefix for the regular expression to exploit.
_BENCH_SECRETS = [secrets.token_urlsafe(18) for _ in range(200)]


def _register(count: int) -> None:
    from infrakit.log import register_secret

    for secret in _BENCH_SECRETS[:count]:
        register_secret(secret)


def _forget_registered_secrets() -> None:
    """The registry is for the life of a process; the benchmark resets it between rows
    (internal state, touched here only so that rows without secrets stay without)."""
    from infrakit._internal import secrets as registry

    with registry._lock:
        registry._registered.clear()
        registry._version += 1


def infrakit_secrets_cases(count: int) -> Callable[[Sink], Cases]:
    def build(sink: Sink) -> Cases:
        _register(count)
        return infrakit_cases(sink)

    return build


def infrakit_secret_in_line_cases(sink: Sink) -> Cases:
    _register(3)
    return infrakit_cases(sink, message=f"order placed by {_BENCH_SECRETS[1]}")


def infrakit_url_in_line_cases(sink: Sink) -> Cases:
    _register(3)
    return infrakit_cases(sink, path="https://shop:pw-in-url@api.example.org/orders")


def close_all() -> None:
    from loguru import logger

    from infrakit.log import shutdown_logging

    logger.remove()
    shutdown_logging()
    _forget_registered_secrets()


BASELINE = "stdlib logging + JSON formatter"
CASES: tuple[tuple[str, Callable[[Sink], Cases], int], ...] = (
    (BASELINE, stdlib_cases, NUMBER),
    ("structlog JSONRenderer", structlog_cases, NUMBER),
    ("loguru serialize=True (its own fields)", loguru_cases, NUMBER),
    ("loguru, same fields (patcher + format)", loguru_same_fields_cases, NUMBER),
    ("infrakit.log JSON", infrakit_cases, NUMBER),
    ("loguru serialize=True, enqueue=True (caller cost)", loguru_enqueue_cases, NUMBER // 10),
    ("infrakit.log JSON, non_blocking (caller cost)", infrakit_queued_cases, NUMBER),
    ("infrakit.log JSON, 3 secrets registered", infrakit_secrets_cases(3), NUMBER),
    ("infrakit.log JSON, 50 secrets registered", infrakit_secrets_cases(50), NUMBER),
    ("infrakit.log JSON, 200 secrets registered", infrakit_secrets_cases(200), NUMBER),
    (
        "infrakit.log JSON, a registered secret in the message",
        infrakit_secret_in_line_cases,
        NUMBER,
    ),
    ("infrakit.log JSON, a URL with a password in a field", infrakit_url_in_line_cases, NUMBER),
)


def sample_line(build: Callable[[Sink], Cases]) -> str:
    """The line a contestant really writes for the record case."""
    stream = io.StringIO()
    record, _ = build(stream)
    record()
    close_all()  # drains queues (infrakit non_blocking, loguru enqueue)
    return stream.getvalue().splitlines()[0]


def describe(line: str) -> tuple[int, str]:
    """Bytes per line (newline included) and how its fields differ from the common six."""
    size = len(line.encode("utf-8")) + 1
    keys = tuple(json.loads(line))
    if keys == FIELDS:
        return size, "the six fields"
    if set(keys) == set(FIELDS):
        return size, "the six fields (other order)"
    return size, f"its own: {', '.join(keys)} (nested: loguru's whole record)"


def measure() -> dict[str, list[tuple[float, float]]]:
    """ROUNDS rounds; each round runs every contestant once, so a noisy neighbour slows all
    of them rather than one."""
    results: dict[str, list[tuple[float, float]]] = {}
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for _ in range(ROUNDS):
            for name, build, number in CASES:
                record, filtered = build(sink)
                timing = (
                    best_microseconds(record, number),
                    best_microseconds(filtered, NUMBER * 10),
                )
                close_all()
                results.setdefault(name, []).append(timing)
    return results


def main() -> None:
    print(f"Python {sys.version.split()[0]}{' (quick mode)' if QUICK else ''}\n")
    print("| contestant | bytes/line | fields |")
    print("|---|---:|---|")
    for name, build, _ in CASES:
        size, fields = describe(sample_line(build))
        print(f"| {name} | {size} | {fields} |")
    results = measure()
    base_record = min(timing[0] for timing in results[BASELINE])
    base_filtered = min(timing[1] for timing in results[BASELINE])
    print(
        f"\nbest of {ROUNDS} rounds x {REPEATS} repeats x {NUMBER} calls, to /dev/null; "
        "spread = slowest round's best / fastest round's best\n"
    )
    print(
        "| contestant | JSON record (us/call) | spread | ratio "
        "| filtered-out debug (us/call) | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, timings in results.items():
        records = [timing[0] for timing in timings]
        record = min(records)
        filtered = min(timing[1] for timing in timings)
        print(
            f"| {name} | {record:.2f} | {max(records) / record:.2f} "
            f"| {record / base_record:.2f}x | {filtered:.3f} | {filtered / base_filtered:.2f}x |"
        )


if __name__ == "__main__":
    main()
