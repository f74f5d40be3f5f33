"""A record is never lost to one misbehaving value, and JSON output is always strict JSON."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import pytest

from infrakit.log import ConsoleTransport, LogEntry, configure_logging, get_logger, render_json
from tests.log.conftest import JsonCapture


def strict(line: str) -> Any:
    """`json.loads` refusing the NaN / Infinity extensions Python's encoder can emit."""

    def refuse(constant: str) -> NoReturn:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


class BrokenStr:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class BrokenMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("cannot iterate")


class BrokenError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message")


@pytest.fixture
def small_int_limit() -> Iterator[None]:
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(1_000)
    yield
    sys.set_int_max_str_digits(previous)


@pytest.mark.usefixtures("small_int_limit")
@pytest.mark.parametrize(
    "value",
    [BrokenStr(), BrokenMapping(), 10**2_000, [1, 10**2_000], {"n": BrokenStr()}],
    ids=["str-raises", "mapping-raises", "huge-int", "huge-int-in-list", "nested"],
)
def test_a_misbehaving_value_becomes_a_placeholder(value: object, captured: JsonCapture) -> None:
    get_logger("faults").info("kept", bad=value, fine=1)
    record = strict(captured.lines[0])
    assert record["message"] == "kept"
    assert record["fine"] == 1
    assert "<" in json.dumps(record["bad"])  # a placeholder, where the value was


@pytest.mark.usefixtures("small_int_limit")
def test_placeholders_name_what_they_replace(captured: JsonCapture) -> None:
    get_logger("faults").info("kept", text=BrokenStr(), number=[7, 10**2_000])
    record = strict(captured.lines[0])
    assert record["text"] == "<unprintable BrokenStr>"
    assert record["number"][0] == 7
    assert record["number"][1].startswith("<int of ")


@pytest.mark.usefixtures("small_int_limit")
def test_pretty_lines_survive_the_same_values() -> None:
    stream = io.StringIO()
    configure_logging("INFO", sinks=[ConsoleTransport(stream)])
    get_logger("faults").info("kept", bad=BrokenStr(), huge=10**2_000, fine=1)
    line = stream.getvalue()
    assert "faults kept" in line
    assert "bad=<unprintable BrokenStr>" in line
    assert "huge=<unprintable int>" in line
    assert "fine=1" in line


def test_an_exception_whose_str_raises_is_still_logged(captured: JsonCapture) -> None:
    try:
        raise BrokenError
    except BrokenError:
        get_logger("faults").exception("failed")
    record = strict(captured.lines[0])
    assert record["exception"]["type"].endswith("BrokenError")
    assert record["exception"]["message"] == "<unprintable BrokenError>"
    assert "Traceback" in record["exception"]["traceback"]


def test_a_message_whose_str_raises_is_a_placeholder(captured: JsonCapture) -> None:
    get_logger("faults").info(BrokenStr())  # type: ignore[arg-type]
    assert strict(captured.lines[0])["message"] == "<unprintable BrokenStr>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        ([1.5, float("nan")], [1.5, "NaN"]),
        ({"ratio": float("inf"), "ok": 2.0}, {"ratio": "Infinity", "ok": 2.0}),
        ({float("nan"): 1}, {"NaN": 1}),
    ],
)
def test_json_output_is_strict(value: object, expected: object, captured: JsonCapture) -> None:
    get_logger("faults").info("numbers", value=value, fine=0.5)
    record = strict(captured.lines[0])
    assert record["value"] == expected
    assert record["fine"] == 0.5


def test_render_json_is_strict_for_entries_built_by_hand() -> None:
    entry = LogEntry(0.0, "INFO", 20, "t", "m", {"c": float("nan")}, {"m": [float("inf")]})
    assert strict(render_json(entry))["m"] == ["Infinity"]


def test_recursive_containers_keep_the_record(captured: JsonCapture) -> None:
    loop: list[object] = []
    loop.append({"again": loop})
    get_logger("faults").info("loop", loop=loop, fine=1)
    record = strict(captured.lines[0])
    assert record["loop"] == [{"again": "[cycle]"}]
    assert record["fine"] == 1


def test_obj_methods_survive_objects_that_cannot_be_copied_or_read(
    captured: JsonCapture,
) -> None:
    import dataclasses
    import threading

    @dataclasses.dataclass
    class Holder:
        name: str
        lock: Any  # `dataclasses.asdict` would try to deep-copy it and fail

    logger = get_logger("faults")
    logger.info_obj(Holder("ann", threading.Lock()), "holder")
    logger.info_obj(BrokenMapping(), "mapping")
    first, second = (strict(line) for line in captured.lines)
    assert first["name"] == "ann"
    assert first["lock"].startswith("<unlocked _thread.lock")
    assert second["message"] == "mapping"
    assert second["value"] == "<unprintable BrokenMapping>"
