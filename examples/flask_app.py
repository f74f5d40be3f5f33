"""A Flask app on infrakit: blocking db and cache, request context, problem+json errors.

Needs PostgreSQL: `DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python
flask_app.py` (run from examples/). `CACHE_URL=redis://127.0.0.1:6379/0` puts the cache
in Redis; without it the cache is in memory. Flask's test client calls the WSGI app
in-process; under a real server (`flask run --with-threads`, gunicorn with threads)
the same objects are shared by every thread.

The whole set-up is `Infra.builder().with_database(sync=True).with_cache(sync=True)`,
started with `infra.start_sync()` (or `with infra:`): `infra.database` is an
`infrakit.db.sync.Database` and `infra.cache` an `infrakit.cache.sync` cache, whose
methods block instead of being awaited. `infrakit.web.flask.install(app)` wraps
`app.wsgi_app`, so each request gets an id (reused from a valid `X-Request-ID`), the
handler's log lines carry it, errors (yours, a unique violation, werkzeug's 404/405,
`abort(...)`, crashes) are problem+json with the same id, and every request ends with
one access line.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from typing import Any

import flask

import infrakit.web.flask
from infrakit import Infra
from infrakit.log import JsonTransport, configure_logging, get_logger, shutdown_logging

log = get_logger("notes.api")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def build_infra(database: Any = None, cache: Any = None) -> Infra:
    """DATABASE_URL and CACHE_URL from the environment, unless instances are given."""
    os.environ.setdefault("DATABASE_URL", DATABASE_URL)
    return Infra.builder().with_database(database, sync=True).with_cache(cache, sync=True).build()


def create_tables(infra: Infra, table: str) -> None:
    infra.database.execute(
        f"CREATE TABLE IF NOT EXISTS {table} "
        "(name text PRIMARY KEY, text text NOT NULL, views int NOT NULL DEFAULT 0)"
    )


def create_app(infra: Infra, table: str) -> flask.Flask:
    """Notes in PostgreSQL, read through the cache; a write drops the cached copy on commit."""
    app = flask.Flask(__name__)
    db, cache = infra.database, infra.cache
    notes = db.query_builder(table)

    @cache.memoize(ttl=30, key_fn=lambda name: f"{table}:note:{name}")
    def load_note(name: str) -> dict[str, Any] | None:
        return notes.select(["name", "text"]).where(name=name).get_one()

    @app.get("/notes/<name>")
    def read_note(name: str) -> Any:
        log.info("reading a note", note=name)
        note = load_note(name)
        if note is None:
            flask.abort(404, description=f"No note called {name!r}.")
        return note

    @app.post("/notes/<name>")
    def write_note(name: str) -> Any:
        text = flask.request.get_data(as_text=True)

        def insert(tx: Any) -> None:
            tx.query_builder(table).insert({"name": name, "text": text}).execute()
            tx.on_commit(lambda: load_note.invalidate(name))

        db.with_transaction(insert)  # a taken name: UniqueViolationError, a 409 problem
        return {"name": name}, 201

    @app.post("/notes/<name>/views")
    def count_view(name: str) -> Any:
        views = db.fetch_value(
            f"UPDATE {table} SET views = views + 1 WHERE name = %s RETURNING views", (name,)
        )
        if views is None:
            flask.abort(404, description=f"No note called {name!r}.")
        return {"name": name, "views": views}

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
    table = f"example_notes_{uuid.uuid4().hex[:8]}"
    infra = build_infra()
    infra.start_sync()  # opens the pool and the cache; `with infra:` does the same
    try:
        create_tables(infra, table)
        client = create_app(infra, table).test_client()
        call(client, lines, "POST", "/notes/welcome", data="Hello from infrakit.")
        found = call(client, lines, "GET", "/notes/welcome", headers={"X-Request-ID": "req-7"})
        expect(found.headers["X-Request-ID"] == "req-7", "the id is reused")
        again = call(client, lines, "GET", "/notes/welcome")
        expect(again.get_json() == found.get_json(), "the same note, from the cache")
        missing = call(client, lines, "GET", "/notes/shopping")
        expect(missing.get_json()["request_id"] == missing.headers["X-Request-ID"], "one id")
        expect(missing.get_json()["code"] == "NOT_FOUND", "abort(404) is a problem")
        created = call(client, lines, "POST", "/notes/todo", data="buy milk")
        expect(created.status_code == 201, "created")
        taken = call(client, lines, "POST", "/notes/todo", data="again")
        expect(taken.get_json()["code"] == "DB_UNIQUE_VIOLATION", "a translated error")
        wrong = call(client, lines, "DELETE", "/notes/todo")
        expect(wrong.get_json()["code"] == "METHOD_NOT_ALLOWED", "a 405 is a problem")
        crashed = call(client, lines, "GET", "/export")
        expect(crashed.status_code == 500 and "secret" not in crashed.text, "hidden 500")
        viewed = call(client, lines, "POST", "/notes/todo/views")
        expect(viewed.get_json()["views"] == 1, "an update through the blocking pool")
        expect(infra.cache.get_stats().hits >= 1, "the second read came from the cache")
    finally:
        infra.database.execute(f"DROP TABLE IF EXISTS {table}")
        infra.stop_sync()
        shutdown_logging()


if __name__ == "__main__":
    main()
