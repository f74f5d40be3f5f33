"""Masking by value: registered secrets and URL passwords, wherever they sit in a line."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid

import psycopg_pool
from hypothesis import given
from hypothesis import strategies as st

import infrakit.log
from infrakit._internal import secrets
from infrakit._internal.secrets import register_dsn
from infrakit.log import ConsoleTransport, configure_logging, get_logger, register_secret
from infrakit.log._mask import SecretFilter
from tests.log.conftest import JsonCapture


def unique_secret(prefix: str = "s3cret") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def fail_with(message: str) -> None:
    raise ConnectionError(message)


def log_everywhere(secret: str) -> None:
    """The secret in the message, a metadata value, a nested value, an exception message
    and (through the raising line's source) a traceback."""
    logger = get_logger("app.masking")
    logger.info(f"connecting with {secret}", note=f"value {secret}", nested={"deep": [secret]})
    try:
        fail_with(f"refused: {secret}")
    except ConnectionError:
        logger.exception("failed")


def test_register_secret_is_the_shared_registry() -> None:
    assert infrakit.log.register_secret is secrets.register_secret


def test_a_registered_secret_is_masked_in_every_part_of_a_json_line(
    captured: JsonCapture,
) -> None:
    secret = unique_secret()
    register_secret(secret)
    log_everywhere(secret)
    text = captured.stream.getvalue()
    assert secret not in text
    first, second = captured.records
    assert first["message"] == "connecting with ***"
    assert first["note"] == "value ***"
    assert first["nested"] == {"deep": ["***"]}
    assert second["exception"]["message"] == "refused: ***"
    assert "refused: ***" in second["exception"]["traceback"]


def test_a_registered_secret_is_masked_in_pretty_lines() -> None:
    stream = io.StringIO()
    configure_logging("INFO", sinks=[ConsoleTransport(stream)])
    secret = unique_secret()
    register_secret(secret)
    log_everywhere(secret)
    text = stream.getvalue()
    assert secret not in text
    assert "connecting with ***" in text
    assert "note='value ***'" in text
    assert "ConnectionError: refused: ***" in text


def test_secrets_that_need_escaping_are_masked_in_both_formats(captured: JsonCapture) -> None:
    stream = io.StringIO()
    configure_logging("INFO", format="json", sinks=[captured.transport, ConsoleTransport(stream)])
    secrets_to_hide = [
        unique_secret('qu"ote'),
        unique_secret("back\\slash"),
        unique_secret("ünï'cødé\"mix"),
    ]
    for secret in secrets_to_hide:
        register_secret(secret)
        get_logger("app").info("value", text=f"with spaces {secret}", bare=secret)
    json_text, pretty_text = captured.stream.getvalue(), stream.getvalue()
    for secret in secrets_to_hide:
        escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
        assert escaped not in json_text
        assert secret not in pretty_text
        assert repr(secret)[1:-1] not in pretty_text
    for record in captured.records:
        assert record["bare"] == "***"
        assert record["text"] == "with spaces ***"


def test_url_passwords_are_masked_without_registration(captured: JsonCapture) -> None:
    logger = get_logger("app")
    logger.info("cache at redis://:hunter2-url@cache:6379/0 is down")
    logger.info("queue", broker="amqp://guest:pa#ss/word@rabbit:5672/vhost")
    logger.info('libpq: missing "=" after "postgresql://u:p@ss@db/app" in connection info')

    class Location:
        def __str__(self) -> str:
            return "postgresql://app:from-str@db:5432/app?sslmode=require"

    logger.info("object", location=Location())
    text = captured.stream.getvalue()
    for secret in ("hunter2-url", "pa#ss/word", "p@ss", "from-str"):
        assert secret not in text
    records = captured.records
    assert records[0]["message"] == "cache at redis://:***@cache:6379/0 is down"
    assert records[1]["broker"] == "amqp://guest:***@rabbit:5672/vhost"
    assert records[3]["location"] == "postgresql://app:***@db:5432/app?sslmode=require"


def test_stdlib_records_are_masked_too(captured: JsonCapture) -> None:
    secret = unique_secret()
    register_secret(secret)
    configure_logging("INFO", format="json", sinks=[captured.transport], stdlib=True)
    logging.getLogger("some.library").warning("auth failed for %s", secret)
    assert captured.records[0]["message"] == "auth failed for ***"


def test_psycopg_pool_warnings_quoting_a_dsn_are_masked(captured: JsonCapture) -> None:
    """libpq quotes the unparsable part of the URL, the password; the pool logs it on every
    retry through stdlib. The db module registers its DSN, as `register_dsn` does here."""
    password = f"pw%zz{uuid.uuid4().hex[:8]}"  # a malformed percent-escape
    dsn = f"postgresql://postgres:{password}@127.0.0.1:5432/test"
    register_dsn(dsn)
    configure_logging("INFO", format="json", sinks=[captured.transport], stdlib=True)
    pool = psycopg_pool.ConnectionPool(dsn, open=False, min_size=1, reconnect_timeout=30)
    pool.open(wait=False)
    try:
        deadline = time.monotonic() + 20
        while not any(r["logger"] == "psycopg.pool" for r in captured.records):
            assert time.monotonic() < deadline, "psycopg_pool logged nothing"
            time.sleep(0.02)
    finally:
        pool.close(timeout=5)
    warnings = [r for r in captured.records if r["logger"] == "psycopg.pool"]
    assert "***" in warnings[0]["message"]
    assert password not in captured.stream.getvalue()


def test_many_registered_secrets_are_all_masked(captured: JsonCapture) -> None:
    many = [unique_secret(f"many{number}") for number in range(80)]  # past the `in` fast path
    for secret in many:
        register_secret(secret)
    for secret in many[::7]:
        get_logger("app").info(f"with {secret} inside", field=f"x{secret}y")
    assert not any(secret in captured.stream.getvalue() for secret in many)
    assert {record["field"] for record in captured.records} == {"x***y"}


def test_overlapping_secrets_mask_the_longest(captured: JsonCapture) -> None:
    short = unique_secret("overlap")
    register_secret(short)
    register_secret(short + "-longer-tail")
    get_logger("app").info(f"a {short}-longer-tail and {short} b")
    assert captured.records[0]["message"] == "a *** and *** b"


@given(
    secrets_to_find=st.lists(
        st.text(alphabet=st.characters(codec="utf-8"), min_size=4, max_size=40),
        min_size=1,
        max_size=60,
    ),
    chosen=st.integers(min_value=0),
    before=st.text(max_size=60),
    after=st.text(max_size=60),
)
def test_the_many_secrets_filter_never_misses_one(
    secrets_to_find: list[str], chosen: int, before: str, after: str
) -> None:
    secret = secrets_to_find[chosen % len(secrets_to_find)]
    assert SecretFilter(secrets_to_find).may_contain(before + secret + after)


def test_the_many_secrets_filter_passes_ordinary_lines() -> None:
    many = [unique_secret(f"filter{number}") for number in range(100)]
    line = '{"time":"2026-12-01T23:32:31.123456Z","level":"INFO","message":"order placed"}'
    assert not SecretFilter(many).may_contain(line)


def test_a_url_that_only_looks_masked_is_masked_again(captured: JsonCapture) -> None:
    get_logger("app").info("see https://u:***@x:real-pw-here@host/db")
    assert "real-pw-here" not in captured.stream.getvalue()
