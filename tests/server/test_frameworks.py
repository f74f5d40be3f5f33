"""Framework apps under ServerManager: their lifespan runs, their errors become problems.

Starlette and FastAPI catch exceptions themselves and answer a plain 500, so the
server's outer problem middleware never sees them: `infrakit.web.starlette.install(app,
access_log=False)` makes them problems inside the framework (the server already writes
the access line).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from infrakit.errors import NotFoundError
from infrakit.server import ServerConfig, ServerManager
from infrakit.web.starlette import install
from tests.server.conftest import running

QUICK = ServerConfig(port=0, drain_delay=0.0, shutdown_timeout=5.0, access_log=False)


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.app.state.greeting}")


async def _missing(request: Request) -> PlainTextResponse:
    raise NotFoundError("no such picture")


async def test_a_starlette_app_with_its_lifespan() -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.greeting = "from lifespan"
        yield

    routes = [Route("/hello", _hello), Route("/missing", _missing)]
    app = Starlette(routes=routes, lifespan=lifespan)
    install(app, access_log=False)  # Starlette answers 500 itself unless told; the server logs
    async with running(ServerManager(app, config=QUICK)) as url, httpx.AsyncClient() as http:
        hello = await http.get(f"{url}/hello")
        missing = await http.get(f"{url}/missing")
    assert hello.text == "hello from lifespan"
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"


async def test_a_fastapi_app_and_its_lifespan_state() -> None:
    started: list[str] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started.append("up")
        yield
        started.append("down")

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    async with running(ServerManager(app, config=QUICK)) as url, httpx.AsyncClient() as http:
        found = await http.get(f"{url}/items/3")
        ready = await http.get(f"{url}/readyz")
    assert found.json() == {"item_id": 3}
    assert ready.status_code == 200
    assert started == ["up", "down"]
