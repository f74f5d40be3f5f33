from __future__ import annotations

import io
import logging

from infrakit.log import configure_logging, get_logger, intercept_stdlib, shutdown_logging
from tests.log.conftest import JsonCapture, MemoryTransport


def test_stdlib_records_reach_our_transports_once(captured: JsonCapture) -> None:
    library_output = io.StringIO()
    uvicorn_logger = logging.getLogger("uvicorn.error")
    own_handler = logging.StreamHandler(library_output)
    uvicorn_logger.addHandler(own_handler)  # as uvicorn's default log config does
    previous_level = uvicorn_logger.level
    uvicorn_logger.setLevel(logging.CRITICAL)  # as uvicorn's log_level="critical" does
    try:
        intercept_stdlib()
        intercept_stdlib()  # idempotent: still one line per record
        uvicorn_logger.info("Started server process [%d]", 42, extra={"client": "1.2.3.4"})
    finally:
        shutdown_logging()
        assert uvicorn_logger.level == logging.CRITICAL  # restored
        uvicorn_logger.removeHandler(own_handler)
        uvicorn_logger.setLevel(previous_level)
    assert len(captured.records) == 1
    record = captured.records[0]
    assert record["logger"] == "uvicorn.error"
    assert record["level"] == "INFO"
    assert record["message"] == "Started server process [42]"
    assert record["client"] == "1.2.3.4"
    assert library_output.getvalue() == ""


def test_levels_apply_to_stdlib_names(memory: MemoryTransport) -> None:
    configure_logging("DEBUG", sinks=[memory], levels={"psycopg": "WARNING"}, stdlib=True)
    logging.getLogger("psycopg.pool").info("noisy")
    logging.getLogger("psycopg.pool").warning("kept")
    logging.getLogger("websockets.server").debug("debug kept")
    assert memory.messages == ["kept", "debug kept"]


def test_stdlib_exceptions_and_extras_are_redacted(captured: JsonCapture) -> None:
    intercept_stdlib()
    try:
        raise OSError("connection refused")
    except OSError:
        logging.getLogger("psycopg").exception("connect failed", extra={"password": "pw"})
    record = captured.records[0]
    assert record["password"] == "***"
    assert record["exception"]["type"] == "OSError"
    assert record["level"] == "ERROR"


def test_root_level_follows_the_configuration(memory: MemoryTransport) -> None:
    intercept_stdlib()
    assert logging.getLogger().level == logging.DEBUG
    configure_logging("WARNING", sinks=[memory], levels={"app": "INFO"})
    assert logging.getLogger().level == logging.INFO


def test_shutdown_restores_stdlib_as_it_was(memory: MemoryTransport) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    access = logging.getLogger("uvicorn.access")
    # After a server test uvicorn has left this logger non-propagating, and pytest then
    # attaches its capture handlers to it for each test: what was there stays there.
    already = list(access.handlers)
    own_handler = logging.NullHandler()
    access.addHandler(own_handler)  # as uvicorn's dictConfig does: own handler, no propagation
    access.propagate = False
    try:
        intercept_stdlib()
        assert logging.getLogger("uvicorn.access").propagate is True
        assert access.handlers == []
        assert len(root.handlers) == 1
        shutdown_logging()
        assert (list(root.handlers), root.level) == before
        assert access.propagate is False
        assert access.handlers == [*already, own_handler]
        logging.getLogger("after").warning("not intercepted any more")
        assert memory.messages == []
    finally:
        access.removeHandler(own_handler)
        access.propagate = True


def test_a_transport_logging_through_stdlib_does_not_loop() -> None:
    class Chatty(MemoryTransport):
        def log(self, entry: object) -> None:
            logging.getLogger("chatty").warning("writing")
            super().log(entry)  # type: ignore[arg-type]

    chatty = Chatty()
    configure_logging("INFO", sinks=[chatty], stdlib=True)
    get_logger("app").info("once")
    # the transport's own stdlib line is delivered once; the re-entrant one is dropped
    assert chatty.messages == ["writing", "once"]


def test_a_disabled_logger_stays_disabled(memory: MemoryTransport) -> None:
    quiet = logging.getLogger("uvicorn.error")
    quiet.disabled = True  # as dictConfig(disable_existing_loggers=True) or the app does
    try:
        intercept_stdlib()
        quiet.warning("must not appear")
        logging.getLogger("psycopg").warning("appears")
        assert memory.messages == ["appears"]
        assert quiet.disabled
    finally:
        shutdown_logging()
        quiet.disabled = False


def test_uvicorn_access_log_false_stays_off(memory: MemoryTransport) -> None:
    import uvicorn

    access = logging.getLogger("uvicorn.access")
    saved = (list(access.handlers), access.propagate, access.level)
    try:
        uvicorn.Config(app=None, access_log=False)  # uvicorn's own logging set-up runs here
        intercept_stdlib()
        access.info('127.0.0.1:5000 - "GET / HTTP/1.1" 200')
        logging.getLogger("uvicorn.error").info("Started server process [1]")
        assert memory.messages == ["Started server process [1]"]
        assert not access.hasHandlers()  # uvicorn checks this before writing access lines
    finally:
        shutdown_logging()
        access.handlers[:] = saved[0]
        access.propagate, access.level = saved[1], saved[2]
        for name in ("uvicorn", "uvicorn.error"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True


def test_uvicorn_colour_message_is_dropped(captured: JsonCapture) -> None:
    intercept_stdlib()
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]",
        7,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]", "worker": 1},
    )
    [record] = captured.records
    assert "color_message" not in record
    assert record["worker"] == 1
    assert "\x1b" not in captured.stream.getvalue()


def test_a_stdlib_record_whose_arguments_cannot_be_formatted_is_kept(
    captured: JsonCapture,
) -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    intercept_stdlib()
    logging.getLogger("psycopg").warning("value %s", Broken())
    logging.getLogger("psycopg").warning("number %d", "not a number")
    messages = [record["message"] for record in captured.records]
    assert messages == [
        "value %s <arguments could not be formatted>",
        "number %d <arguments could not be formatted>",
    ]
