from __future__ import annotations

import dataclasses
import io
import json
from typing import NamedTuple

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrakit._internal.secrets import is_sensitive_key
from infrakit.log import configure_logging, get_logger, log_context, register_secret
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


@pytest.mark.parametrize(
    "key",
    [
        "pwd",
        "passphrase",
        "auth",
        "private_key",
        "privateKey",
        "jwt",
        "bearer",
        "sid",
        "SECRET_KEY",
    ],
)
def test_the_shared_list_of_sensitive_names_applies(key: str, memory: MemoryTransport) -> None:
    assert is_sensitive_key(key)
    get_logger("redact").info("call", **{key: "hunter2"})
    assert memory.entries[0].metadata[key] == REDACTED


@pytest.mark.parametrize("key", ["author", "side", "key", "password_file"])
def test_names_the_shared_list_keeps_are_kept(key: str, memory: MemoryTransport) -> None:
    get_logger("redact").info("call", **{key: "value"})
    assert memory.entries[0].metadata[key] == "value"


def test_asgi_header_lists_are_masked_by_header_name(captured: JsonCapture) -> None:
    scope = {
        "type": "http",
        "headers": [
            (b"authorization", b"Bearer abc.def"),
            (b"cookie", b"session=xyz"),
            (b"accept", b"*/*"),
        ],
    }
    get_logger("redact").info(
        "request",
        scope=scope,
        headers=[("X-Api-Key", "k-123"), ("Host", "example.org")],
        params=[["token", "t-1"], ["page", "2"]],
        one=(b"Authorization", b"Basic dXNlcjpwdw=="),
    )
    text = captured.stream.getvalue()
    for secret in ("abc.def", "xyz", "k-123", "t-1", "dXNlcjpwdw"):
        assert secret not in text
    record = captured.records[0]
    assert record["scope"]["headers"] == [
        ["authorization", REDACTED],
        ["cookie", REDACTED],
        ["accept", "*/*"],
    ]
    assert record["headers"] == [["X-Api-Key", REDACTED], ["Host", "example.org"]]
    assert record["params"] == [["token", REDACTED], ["page", "2"]]
    assert record["one"] == ["Authorization", REDACTED]


class Credentials(NamedTuple):
    user: str
    password: str


def test_named_tuples_are_masked_by_field_name(captured: JsonCapture) -> None:
    get_logger("redact").info("login", account=Credentials("ann", "pw-named"))
    assert "pw-named" not in captured.stream.getvalue()
    assert captured.records[0]["account"] == {"user": "ann", "password": REDACTED}


def test_objects_rendered_with_str_lose_their_secrets(captured: JsonCapture) -> None:
    secret = "registered-in-str-1234"
    register_secret(secret)

    class Settings:
        def __str__(self) -> str:
            return f"Settings(url=redis://:pw-in-str@cache:6379, token={secret})"

    get_logger("redact").info("settings", settings=Settings())
    text = captured.stream.getvalue()
    assert "pw-in-str" not in text
    assert secret not in text
