"""A Flask app with infrakit's request context and problem+json errors, through WSGI.

Run: `cd examples && python flask_app.py` (no server needed: Flask's test client calls
the WSGI app in-process). `infrakit.web.flask.install(app)` wraps `app.wsgi_app`, so each
request gets an id (reused from a valid `X-Request-ID`), the handler's log lines carry
it, errors (yours, werkzeug's 404/405, `abort(...)`, crashes) are problem+json with the
same id, and every request ends with one access line.
"""

from __future__ import annotations

import io
import json
from typing import Any

import flask

import infrakit.web.flask
from infrakit.errors import ConflictError
from infrakit.log import JsonTransport, configure_logging, get_logger, shutdown_logging

log = get_logger("notes.api")


def create_app() -> flask.Flask:
    app = flask.Flask(__name__)
    notes: dict[str, str] = {"welcome": "Hello from infrakit."}

    @app.get("/notes/<name>")
    def read_note(name: str) -> Any:
        log.info("reading a note", note=name)
        if name not in notes:
            flask.abort(404, description=f"No note called {name!r}.")
        return {"name": name, "text": notes[name]}

    @app.post("/notes/<name>")
    def write_note(name: str) -> Any:
        if name in notes:
            raise ConflictError("That note exists.", details={"note": name})
        notes[name] = flask.request.get_data(as_text=True)
        return {"name": name}, 201

    @app.get("/export")
    def export() -> Any:
        raise OSError("disk full at /var/secret/path")

    infrakit.web.flask.install(app)
    return app


def call(client: Any, lines: io.StringIO, method: str, path: str, **options: Any) -> Any:
    """Send one request, print the answer and the log lines it wrote."""
    lines.seek(0)
    lines.truncate()
    # buffered: the body is read and closed at once, as a server does, which writes the
    # access line (an unbuffered test response is closed only when you close it).
    response = client.open(path, method=method, buffered=True, **options)
    print(
        f"{method} {path} -> {response.status_code} x-request-id={response.headers['X-Request-ID']}"
    )
    print("   ", response.get_data(as_text=True).strip())
    for line in lines.getvalue().splitlines():
        record = json.loads(line)
        record.pop("time", None)
        record.pop("exception", None)
        print("    [log]", json.dumps(record))
    print()
    return response


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"unexpected: {what}")


def main() -> None:
    lines = io.StringIO()
    configure_logging("INFO", format="json", sinks=[JsonTransport(lines)])
    try:
        client = create_app().test_client()
        found = call(client, lines, "GET", "/notes/welcome", headers={"X-Request-ID": "req-7"})
        expect(found.headers["X-Request-ID"] == "req-7", "the id is reused")
        missing = call(client, lines, "GET", "/notes/shopping")
        expect(missing.get_json()["request_id"] == missing.headers["X-Request-ID"], "one id")
        expect(missing.get_json()["code"] == "NOT_FOUND", "abort(404) is a problem")
        created = call(client, lines, "POST", "/notes/todo", data="buy milk")
        expect(created.status_code == 201, "created")
        taken = call(client, lines, "POST", "/notes/todo", data="again")
        expect(taken.get_json()["code"] == "CONFLICT", "a domain error")
        wrong = call(client, lines, "DELETE", "/notes/todo")
        expect(wrong.get_json()["code"] == "METHOD_NOT_ALLOWED", "a 405 is a problem")
        crashed = call(client, lines, "GET", "/export")
        expect(crashed.status_code == 500 and "secret" not in crashed.text, "hidden 500")
    finally:
        shutdown_logging()


if __name__ == "__main__":
    main()
