from __future__ import annotations

import dataclasses
import io
import json

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrakit.log import configure_logging, get_logger, log_context
from infrakit.log._redact import REDACTED, Redactor
from tests.log.conftest import JsonCapture, MemoryTransport


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "PASSWORD",
        "passwd",
        "client_secret",
        "token",
        "refresh_token",
        "api_key",
        "X-Api-Key",
        "apiKey",
        "Authorization",
        "cookie",
        "Set-Cookie",
        "session",
        "SessionId",
    ],
)
def test_sensitive_keys_are_masked(key: str, memory: MemoryTransport) -> None:
    get_logger("redact").info("call", **{key: "hunter2"})
    assert memory.entries[0].metadata[key] == REDACTED


@pytest.mark.parametrize("key", ["user", "path", "status", "passage", "count"])
def test_ordinary_keys_are_kept(key: str, memory: MemoryTransport) -> None:
    get_logger("redact").info("call", **{key: "value"})
    assert memory.entries[0].metadata[key] == "value"


def test_nested_dicts_and_lists_are_masked(memory: MemoryTransport) -> None:
    get_logger("redact").info(
        "request",
        headers={"Authorization": "Bearer abc", "Accept": "json"},
        attempts=[{"token": "t1", "n": 1}, ("plain",)],
    )
    metadata = memory.entries[0].metadata
    assert metadata["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert metadata["attempts"] == [{"token": REDACTED, "n": 1}, ["plain"]]


def test_context_is_masked(memory: MemoryTransport) -> None:
    logger = get_logger("redact").with_context(session_id="s3cr3t", user="ann")
    with log_context(api_key="k3y"):
        logger.info("inside")
    assert dict(memory.entries[0].context) == {
        "api_key": REDACTED,
        "session_id": REDACTED,
        "user": "ann",
    }


def test_extra_redact_keys_extend_the_defaults() -> None:
    capture = JsonCapture()
    configure_logging("INFO", format="json", sinks=[capture.transport], redact_keys=["ssn"])
    get_logger("redact").info("person", customer_ssn="123", password="pw", name="ann")
    text = capture.stream.getvalue()
    assert "123" not in text
    assert "pw" not in text
    assert capture.records[0]["name"] == "ann"


@dataclasses.dataclass
class Customer:
    name: str
    ssn: str


class Order(pydantic.BaseModel):
    customer: Customer
    ssn: str
    password: str


def test_extra_redact_keys_reach_inside_dataclasses_and_models() -> None:
    capture = JsonCapture()
    configure_logging("INFO", format="json", sinks=[capture.transport], redact_keys=["ssn"])
    order = Order(customer=Customer("ann", "111-11"), ssn="222-22", password="pw")
    get_logger("redact").info("order", order=order, people=[Customer("bob", "333-33")])
    text = capture.stream.getvalue()
    for secret in ("111-11", "222-22", "333-33", '"pw"'):
        assert secret not in text
    record = capture.records[0]
    assert record["order"] == {
        "customer": {"name": "ann", "ssn": REDACTED},
        "ssn": REDACTED,
        "password": REDACTED,
    }
    assert record["people"] == [{"name": "bob", "ssn": REDACTED}]


def test_secrets_in_local_variables_never_reach_a_traceback() -> None:
    stream = io.StringIO()
    configure_logging("INFO", format="json", sinks=[stream])

    def connect() -> None:
        password = "hunter2-local"  # a loguru diagnose=True traceback would print this
        raise ConnectionError(f"refused for user ann ({len(password)})")

    try:
        connect()
    except ConnectionError:
        get_logger("redact").exception("connect failed")
    record = json.loads(stream.getvalue())
    assert "hunter2-local" not in stream.getvalue()
    assert record["exception"]["type"] == "ConnectionError"
    assert "connect()" in record["exception"]["traceback"]


@given(
    prefix=st.text(alphabet="abcxyz_-", max_size=5),
    secret=st.sampled_from(["password", "token", "secret", "cookie"]),
    suffix=st.text(alphabet="abcxyz_-", max_size=5),
    upper=st.booleans(),
)
def test_any_key_containing_a_secret_word_is_masked(
    prefix: str, secret: str, suffix: str, upper: bool
) -> None:
    key = f"{prefix}{secret.upper() if upper else secret}{suffix}"
    redacted = Redactor().redact({key: "value", "nested": {key: "value"}})
    assert redacted == {key: REDACTED, "nested": {key: REDACTED}}
