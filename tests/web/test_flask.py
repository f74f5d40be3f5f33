"""infrakit.web.flask.install on a real Flask app, behind wsgiref on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flask
import pytest

import infrakit.web.flask
from infrakit.errors import REQUEST_ID_KEY, ConflictError
from infrakit.log import get_logger
from tests.web.helpers import VALID_ID, Collected, request, wsgi_server

PROBLEM_JSON = "application/problem+json"
SECRET = "hunter2-Sup3rS3cret"
app_logger = get_logger("app.handlers")


def flask_app() -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/hello")
    def hello() -> str:
        app_logger.info("hello", seen_id=flask.request.environ[REQUEST_ID_KEY])
        return "hello"

    @app.post("/only-post")
    def only_post() -> str:
        return "posted"

    @app.get("/members")
    def members() -> str:
        flask.abort(403, description="Members only.")

    @app.get("/taken")
    def taken() -> str:
        raise ConflictError("That name is taken.", details={"field": "name"})

    @app.get("/crash")
    def crash() -> str:
        raise RuntimeError(f"password={SECRET}")

    @app.get("/teapot")
    def teapot() -> Any:
        return "short and stout", 418

    @app.errorhandler(ZeroDivisionError)
    def own_handler(error: ZeroDivisionError) -> Any:
        return "handled by the app", 400

    @app.get("/divide")
    def divide() -> str:
        return str(1 / 0)

    infrakit.web.flask.install(app)
    return app


@pytest.fixture
def port() -> Iterator[int]:
    with wsgi_server(flask_app()) as bound:
        yield bound


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["request_id"] == response.headers["x-request-id"]
    assert [name for name, _ in response.header_lists].count("x-request-id") == 1
    assert SECRET not in response.body.decode()
    return problem


def test_werkzeug_errors_become_problems(collected: Collected) -> None:
    with wsgi_server(flask_app()) as port:
        unknown = request(port, "/nowhere?token=x", headers={"X-Request-ID": VALID_ID})
        wrong_method = request(port, "/only-post")
        members = request(port, "/members")
    problem = assert_problem(unknown, 404, "NOT_FOUND")
    assert (problem["instance"], problem["request_id"]) == ("/nowhere", VALID_ID)
    assert problem["detail"].startswith("The requested URL was not found")
    assert_problem(wrong_method, 405, "METHOD_NOT_ALLOWED")
    assert set(wrong_method.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
    assert assert_problem(members, 403, "FORBIDDEN")["detail"] == "Members only."
    assert [entry.metadata["status"] for entry in collected.access()] == [404, 405, 403]
    assert collected.access()[0].context["request_id"] == VALID_ID


def test_app_errors_crashes_and_success(collected: Collected, port: int) -> None:
    hello = request(port, "/hello", headers={"X-Request-ID": VALID_ID})
    taken = request(port, "/taken")
    crashed = request(port, "/crash")
    teapot = request(port, "/teapot")
    divided = request(port, "/divide")
    assert (hello.status, hello.body, hello.headers["x-request-id"]) == (200, b"hello", VALID_ID)
    (hello_record,) = collected.named("app.handlers")
    assert hello_record.context["request_id"] == hello_record.metadata["seen_id"] == VALID_ID
    problem = assert_problem(taken, 409, "CONFLICT")
    assert problem["details"] == {"field": "name"}
    problem = assert_problem(crashed, 500, "INTERNAL_ERROR")
    assert problem["detail"] == "An internal error occurred."
    (crash_record,) = [e for e in collected.named("infrakit.errors") if e.level == "ERROR"]
    assert crash_record.context["request_id"] == problem["request_id"]
    assert isinstance(crash_record.exception, RuntimeError)
    assert (teapot.status, teapot.body) == (418, b"short and stout")  # not an exception
    assert (divided.status, divided.body) == (400, b"handled by the app")


def test_flask_test_client_sees_the_same_answers(collected: Collected) -> None:
    client = flask_app().test_client()
    response = client.get("/nowhere", headers={"X-Request-ID": VALID_ID})
    assert response.status_code == 404
    assert response.content_type == PROBLEM_JSON
    assert response.get_json()["request_id"] == VALID_ID
    crashed = client.get("/crash")
    assert crashed.status_code == 500
    assert crashed.get_json()["request_id"] == crashed.headers["X-Request-ID"]


def test_debug_mode_shows_the_exception() -> None:
    app = flask.Flask(__name__)

    @app.get("/crash")
    def crash() -> str:
        raise RuntimeError("visible in debug")

    infrakit.web.flask.install(app, debug=True)
    problem = app.test_client().get("/crash").get_json()
    assert problem["exception_type"] == "RuntimeError"
    assert problem["exception_message"] == "visible in debug"


def test_the_apps_own_status_handlers_answer_first(collected: Collected) -> None:
    app = flask.Flask(__name__)

    @app.errorhandler(404)
    def own_404(error: Exception) -> Any:
        return "our own 404", 404

    infrakit.web.flask.install(app)
    response = app.test_client().get("/nowhere")
    assert (response.status_code, response.get_data()) == (404, b"our own 404")
    assert len(response.headers["X-Request-ID"]) == 32
