"""Records of loguru's global `logger` flow through infrakit's pipeline (real loguru calls)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from loguru import logger

from infrakit.log import (
    ConsoleTransport,
    configure_logging,
    intercept_loguru,
    log_context,
    register_secret,
    shutdown_logging,
)
from tests.log.conftest import JsonCapture

NAME = __name__  # loguru names a record after the module that logged it


@pytest.fixture
def loguru_json(captured: JsonCapture) -> JsonCapture:
    configure_logging("DEBUG", format="json", sinks=[captured.transport], loguru=True)
    return captured


def test_bound_fields_keywords_and_formatting_arrive_as_metadata(loguru_json: JsonCapture) -> None:
    logger.bind(user="ann", password="pw-bound").info("hello {}", "world", order=7)
    [record] = loguru_json.records
    assert record["logger"] == NAME
    assert record["level"] == "INFO"
    assert record["message"] == "hello world"
    assert record["user"] == "ann"
    assert record["order"] == 7
    assert record["password"] == "***"
    assert "pw-bound" not in loguru_json.stream.getvalue()


def test_levels_map_onto_ours_and_follow_the_configuration(captured: JsonCapture) -> None:
    configure_logging("DEBUG", format="json", sinks=[captured.transport], loguru=True)
    logger.trace("hidden: below DEBUG")
    logger.debug("debug")
    logger.success("success")
    logger.warning("warning")
    logger.critical("critical")
    configure_logging(
        "DEBUG", format="json", sinks=[captured.transport], levels={NAME: "ERROR"}, loguru=True
    )
    logger.warning("hidden: this module is at ERROR now")
    logger.error("error")
    levels = [(record["level"], record["message"]) for record in captured.records]
    assert levels == [
        ("DEBUG", "debug"),
        ("INFO", "success"),
        ("WARNING", "warning"),
        ("CRITICAL", "critical"),
        ("ERROR", "error"),
    ]


def test_contextualize_and_log_context_both_reach_the_record(loguru_json: JsonCapture) -> None:
    with log_context(request_id="r-1"), logger.contextualize(tenant="acme", token="t-ctx"):
        logger.info("inside")
    [record] = loguru_json.records
    assert record["request_id"] == "r-1"
    assert record["tenant"] == "acme"
    assert record["token"] == "***"


def test_exceptions_are_rendered_by_infrakit_without_locals(loguru_json: JsonCapture) -> None:
    def explode() -> None:
        local_secret = "local-secret-value"  # loguru's diagnose=True would print it
        raise ValueError(f"bad input ({len(local_secret)})")

    try:
        explode()
    except ValueError:
        logger.opt(exception=True).error("with opt")
        logger.exception("with exception()")
    first, second = loguru_json.records
    for record in (first, second):
        assert record["level"] == "ERROR"
        assert record["exception"]["type"] == "ValueError"
        assert record["exception"]["message"] == "bad input (18)"
        assert "explode()" in record["exception"]["traceback"]
    assert "local-secret-value" not in loguru_json.stream.getvalue()


def test_registered_secrets_are_masked_in_loguru_messages(loguru_json: JsonCapture) -> None:
    register_secret("loguru-registered-secret")
    logger.info("connecting with loguru-registered-secret")
    assert loguru_json.records[0]["message"] == "connecting with ***"


def test_pretty_format_and_idempotence(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    configure_logging("INFO", sinks=[ConsoleTransport(stream)], loguru=True)
    intercept_loguru()
    logger.info("once")
    assert stream.getvalue().count("once") == 1
    assert f"INFO     {NAME} once" in stream.getvalue()
    assert capsys.readouterr().err == ""  # loguru's own stderr handler is gone


def test_shutdown_undoes_the_interception(captured: JsonCapture) -> None:
    configure_logging("INFO", format="json", sinks=[captured.transport], loguru=True)
    shutdown_logging()
    configure_logging("INFO", format="json", sinks=[captured.transport])
    logger.info("not intercepted any more")
    assert captured.records == []


def test_the_builder_switch_intercepts_loguru(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from infrakit import Infra

    Infra.builder("development", directory=tmp_path).with_logging(
        "INFO", format="json", loguru=True
    ).build()
    logger.info("through the builder")
    record = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (record["logger"], record["message"]) == (NAME, "through the builder")
