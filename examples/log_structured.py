"""Structured logging with infrakit.log: child loggers, context, JSON lines, redaction.

Run: `cd examples && python log_structured.py`. It prints pretty lines (development),
then the same kind of records as one-line JSON (production), routes a standard-library
logger through the same pipeline, writes a rotating file in a temporary directory, and
shows that secrets are masked everywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path

from infrakit.log import (
    FileTransport,
    configure_logging,
    get_logger,
    log_context,
    shutdown_logging,
)


def development() -> None:
    print("== development: pretty lines, app.db at DEBUG, the rest at INFO ==")
    configure_logging("INFO", format="pretty", levels={"app.db": "DEBUG"}, sinks=[sys.stdout])
    app = get_logger("app")
    database = app.child("db")
    app.debug("not shown: app is at INFO")
    database.debug("pool opened", size=10, dsn_password="hunter2")
    app.with_context(user_id=42).info("user signed in", session_token="abc123")


async def handle(request_id: str, path: str) -> None:
    log = get_logger("app.http")
    with log_context(request_id=request_id):
        log.info("request started", path=path)
        await asyncio.sleep(0.01)
        get_logger("app.db").info("query done", rows=3)  # carries request_id too
        log.info("request finished", status=200)


def production() -> None:
    print("\n== production: one JSON object per line, two concurrent requests ==")
    configure_logging("INFO", format="json", sinks=[sys.stdout], stdlib=True)

    async def serve() -> None:
        await asyncio.gather(handle("req-1", "/orders"), handle("req-2", "/users"))

    asyncio.run(serve())
    logging.getLogger("uvicorn.error").warning("stdlib record, same pipeline: %s", "ok")
    try:
        {}["missing"]
    except KeyError:
        get_logger("app").exception("lookup failed", headers={"Authorization": "Bearer x"})


def to_file() -> None:
    print("\n== a rotating JSON file (in a temporary directory) ==")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "app.log"
        configure_logging("INFO", sinks=[FileTransport(path, rotation="10 MB")])
        get_logger("app.jobs").info("job finished", job="thumbnail", api_key="k-123")
        shutdown_logging()  # flushes and closes the file
        record = json.loads(path.read_text().splitlines()[0])
        print(f"read back from {path.name}: {record}")
        assert record["api_key"] == "***"


def main() -> None:
    development()
    production()
    to_file()
    shutdown_logging()


if __name__ == "__main__":
    main()
