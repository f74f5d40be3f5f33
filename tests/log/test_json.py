from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from infrakit.log import LogEntry, get_logger, log_context, render_json
from tests.log.conftest import JsonCapture


class Colour(enum.Enum):
    RED = "red"


def test_schema_is_flat_and_ordered(captured: JsonCapture) -> None:
    logger = get_logger("app.orders").with_context(request_id="r1")
    with log_context(tenant="acme"):
        logger.info("placed", order_id=7, total=12.5)
    assert len(captured.lines) == 1
    record = captured.records[0]
    assert list(record) == [
        "time",
        "level",
        "logger",
        "message",
        "tenant",
        "request_id",
        "order_id",
        "total",
    ]
    assert record["level"] == "INFO"
    assert record["logger"] == "app.orders"
    assert record["message"] == "placed"
    assert record["order_id"] == 7


def test_time_is_rfc3339_utc_with_microseconds() -> None:
    entry = LogEntry(1_700_000_000.25, "INFO", 20, "t", "m")
    record = json.loads(render_json(entry))
    assert record["time"] == "2023-11-14T22:13:20.250000Z"
    parsed = dt.datetime.fromisoformat(record["time"])
    assert parsed == entry.datetime


def test_exception_is_its_own_object(captured: JsonCapture) -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        get_logger("app").exception("failed", attempt=2)
    record = captured.records[0]
    assert record["level"] == "ERROR"
    assert record["attempt"] == 2
    assert record["exception"]["type"] == "ValueError"
    assert record["exception"]["message"] == "bad value"
    assert record["exception"]["traceback"].startswith("Traceback (most recent call last)")
    assert list(record)[-1] == "exception"


def test_values_json_cannot_encode_are_rendered_not_lost(captured: JsonCapture) -> None:
    identifier = uuid.UUID(int=1)
    get_logger("app").info(
        "odd values",
        when=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        amount=decimal.Decimal("1.10"),
        colour=Colour.RED,
        tags={"a"},
        raw=b"bytes",
        identifier=identifier,
        text='héllo "quoted"\nnewline',
    )
    assert len(captured.lines) == 1
    record = captured.records[0]
    assert record["when"] == "2024-01-02T03:04:05+00:00"
    assert record["amount"] == "1.10"
    assert record["colour"] == "red"
    assert record["tags"] == ["a"]
    assert record["raw"] == "bytes"
    assert record["identifier"] == str(identifier)
    assert record["text"] == 'héllo "quoted"\nnewline'


def test_a_cyclic_value_becomes_a_placeholder_where_it_loops(captured: JsonCapture) -> None:
    cyclic: list[object] = [1]
    cyclic.append(cyclic)
    mapping: dict[str, object] = {"n": 1}
    mapping["self"] = mapping
    get_logger("app").info("cycle", cyclic=cyclic, mapping=mapping, fine=1)
    record = captured.records[0]
    assert record["cyclic"] == [1, "[cycle]"]
    assert record["mapping"] == {"n": 1, "self": "[cycle]"}
    assert record["fine"] == 1


def test_deep_nesting_is_cut_at_the_depth_limit(captured: JsonCapture) -> None:
    deep: list[object] = []
    for _ in range(20):
        deep = [deep]
    get_logger("app").info("deep", deep=deep)
    depth, value = 0, captured.records[0]["deep"]
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert (value, depth) == ("[nested too deep]", 8)


def test_a_cycle_in_an_entry_built_by_hand_is_cut() -> None:
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    entry = LogEntry(0.0, "INFO", 20, "t", "m", metadata={"cyclic": cyclic, "fine": 1})
    record = json.loads(render_json(entry))
    assert record["cyclic"] == {"self": "[cycle]"}
    assert record["fine"] == 1


def test_non_string_keys_do_not_lose_the_record(captured: JsonCapture) -> None:
    get_logger("app").info("keys", mapping={(1, 2): "tuple key", 3: "int key"}, fine=1)
    record = captured.records[0]
    assert record["fine"] == 1
    assert record["mapping"] == {"(1, 2)": "tuple key", "3": "int key"}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet="abcxyz_", max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    message=st.text(),
    fields=st.dictionaries(st.text(alphabet="abcdefgh_", min_size=1, max_size=8), json_values),
)
def test_any_json_metadata_round_trips_on_one_line(message: str, fields: dict[str, object]) -> None:
    entry = LogEntry(1_700_000_000.0, "INFO", 20, "prop", message, metadata=fields)
    line = render_json(entry)
    assert "\n" not in line
    record = json.loads(line)
    assert record["message"] == message
    assert {key: record[key] for key in fields} == fields
