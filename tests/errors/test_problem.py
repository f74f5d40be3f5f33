"""The framework-free helpers: problem dicts, response parts, request ids, log records."""

from __future__ import annotations

import json
import logging

import pytest

from infrakit.errors import (
    ConflictError,
    DatabaseError,
    ProblemResponse,
    RateLimitedError,
    ensure_request_id,
    log_exception,
    problem_from_exception,
    problem_response,
)


def test_foreign_exception_says_nothing_internal() -> None:
    problem = problem_from_exception(OSError("/etc/shadow: permission denied"), instance="/a")
    assert problem == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An internal error occurred.",
        "code": "INTERNAL_ERROR",
        "instance": "/a",
    }


def test_debug_adds_type_message_traceback_and_internal_detail() -> None:
    try:
        raise DatabaseError("deadlock on orders") from KeyError("row 7")
    except DatabaseError as error:
        problem = problem_from_exception(error, debug=True, request_id="r1")
    assert problem["detail"] == "deadlock on orders"
    assert problem["exception_type"] == "infrakit.errors._core.DatabaseError"
    assert problem["exception_message"] == "deadlock on orders"
    assert "KeyError: 'row 7'" in problem["traceback"]  # the chained cause is shown
    assert problem["request_id"] == "r1"


def test_unprintable_exception_in_debug() -> None:
    class UnprintableError(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    problem = problem_from_exception(UnprintableError(), debug=True)
    assert problem["exception_message"] == "UnprintableError()"  # its repr

    class HopelessError(UnprintableError):
        def __repr__(self) -> str:
            raise RuntimeError("no")

    problem = problem_from_exception(HopelessError(), debug=True)
    assert problem["exception_message"] == "<unprintable HopelessError>"


def test_response_parts() -> None:
    response = problem_response(
        RateLimitedError(retry_after=1, details={"limit": 5}), instance="/r", request_id="abc"
    )
    assert isinstance(response, ProblemResponse)
    status, headers, body = response
    assert status == 429
    assert dict(headers) == {
        "retry-after": "1",
        "content-type": "application/problem+json",
        "content-length": str(len(body)),
        "x-request-id": "abc",
    }
    problem = json.loads(body)
    assert problem["details"] == {"limit": 5}
    assert problem["request_id"] == "abc"


def test_body_is_compact_utf8_and_tolerates_odd_details() -> None:
    error = ConflictError("Café already booked", details={"when": object()})
    body = problem_response(error).body
    assert "Café".encode() in body
    assert b": " not in body
    assert json.loads(body)["details"]["when"].startswith("<object object")
    assert all(name != "x-request-id" for name, _ in problem_response(error).headers)


def test_ensure_request_id() -> None:
    assert ensure_request_id("abc:123/x=") == "abc:123/x="
    generated = {ensure_request_id(None) for _ in range(100)}
    assert len(generated) == 100
    assert all(len(value) == 32 for value in generated)
    assert ensure_request_id("a\nb") != "a\nb"
    assert ensure_request_id("a b") != "a b"


def test_log_exception_with_the_default_logger(caplog: pytest.LogCaptureFixture) -> None:
    error = ValueError("secret-in-message")
    log_exception(error, request_id="rid-1", method="POST", path="/pay")
    (record,) = caplog.records
    assert record.name == "infrakit.errors"
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    assert record.getMessage() == "POST /pay raised: ValueError [request_id=rid-1]"
    assert (record.request_id, record.status, record.code) == (  # type: ignore[attr-defined]
        "rid-1",
        500,
        "INTERNAL_ERROR",
    )


def test_log_exception_client_error_is_debug_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="infrakit.errors")
    log_exception(ConflictError("taken"), request_id="rid-2")
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.exc_info is None
    assert record.getMessage().startswith("- - failed with CONFLICT (409)")


def test_log_exception_with_a_stdlib_adapter(caplog: pytest.LogCaptureFixture) -> None:
    adapter = logging.LoggerAdapter(logging.getLogger("myapp"), {"service": "billing"})
    log_exception(RuntimeError("x"), request_id="rid-3", logger=adapter)
    (record,) = caplog.records
    assert record.name == "myapp"
    assert record.exc_info is not None
    assert record.request_id == "rid-3"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("details", "sent"),
    [
        ({("a", "b"): 1}, {"('a', 'b')": 1}),
        ({"ratio": float("nan")}, {"ratio": "nan"}),
        ({"self": {}}, None),
    ],
    ids=["tuple-key", "nan", "cycle"],
)
def test_details_json_cannot_hold_are_made_safe_not_fatal(
    details: dict[object, object], sent: dict[str, object] | None
) -> None:
    if "self" in details:
        details["self"]["again"] = details  # type: ignore[index]
    status, _, body = problem_response(ConflictError("Taken.", details=details), request_id="r")
    problem = json.loads(body, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert status == problem["status"] == 409
    if sent is not None:
        assert problem["details"] == sent
    assert (problem["detail"], problem["code"], problem["request_id"]) == (
        "Taken.",
        "CONFLICT",
        "r",
    )
