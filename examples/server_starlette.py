"""A Starlette service hosted by `infrakit.server`, called over real HTTP, then stopped.

The server listens on a port the OS picks (port 0) with an `Infra` of a memory cache
and local storage in a temporary directory. The example then calls itself with httpx:
a normal request (a visit counter in the cache), an error that becomes an RFC 9457
problem carrying the request id, and a stored file fetched through its signed `/files`
URL with a `Range`. `manager.request_shutdown()` stops it as SIGTERM would.

`serve(app, infra=infra, config=config)` is `ServerManager(...).serve_forever()`; the
manager is used here because the example needs its port and `request_shutdown()`.

Run: `cd examples && python server_starlette.py`
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infrakit import Infra
from infrakit.config import load_config
from infrakit.errors import domain_errors
from infrakit.server import ServerConfig, ServerManager
from infrakit.web.starlette import install

OrderErrors = domain_errors("Order")
REPORT = b"month,orders\n2024-01,120\n2024-02,135\n"


def create_app(infra: Infra) -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        visits = int(await infra.cache.get("visits", default=0)) + 1
        await infra.cache.set("visits", visits)
        return JSONResponse({"hello": "world", "visits": visits})

    async def order(request: Request) -> JSONResponse:
        raise OrderErrors.NotFound(request.path_params["order_id"])

    async def report_link(request: Request) -> JSONResponse:
        url = await infra.storage.get_file_url("reports/orders.csv", expires_in=60)
        return JSONResponse({"url": url})

    app = Starlette(
        routes=[
            Route("/hello", hello),
            Route("/orders/{order_id}", order),
            Route("/reports/orders/link", report_link),
        ]
    )
    install(app, access_log=False)  # the server writes the access line already
    return app


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"unexpected: {what}")


async def call_it(base_url: str, infra: Infra) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        first, second = await http.get("/hello"), await http.get("/hello")
        print("GET /hello ->", second.status_code, second.json())
        expect(second.json()["visits"] == first.json()["visits"] + 1, "the cache counts")

        missing = await http.get("/orders/42")
        problem = missing.json()
        print("GET /orders/42 ->", missing.status_code, missing.headers["content-type"], problem)
        expect(problem["code"] == "ORDER_NOT_FOUND", "a domain error is a problem")
        expect(problem["request_id"] == missing.headers["x-request-id"], "one request id")

        await infra.storage.save_file("reports/orders.csv", REPORT)
        url = (await http.get("/reports/orders/link")).json()["url"]
        print("signed URL:", url.partition("&signature=")[0] + "&signature=...")
        part = await http.get(url, headers={"Range": "bytes=13-24"})
        print(
            f"GET /files/... Range bytes=13-24 -> {part.status_code}",
            part.headers["content-range"],
            repr(part.content),
        )
        expect(part.status_code == 206 and part.content == b"2024-01,120\n", "one range")
        tampered = await http.get(url.replace("orders.csv", "other.csv"))
        print("tampered URL ->", tampered.status_code, tampered.json()["code"])
        expect(tampered.status_code == 403, "a tampered URL is refused")


async def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        config = load_config("development", directory=directory, environ={})
        infra = (
            Infra.builder()
            .with_config(config)
            .with_cache()  # memory by default
            .with_storage(url=f"file://{Path(directory) / 'files'}")
            .build()
        )
        server_config = ServerConfig(port=0, drain_delay=0.0, shutdown_timeout=5.0)
        manager = ServerManager(create_app(infra), infra=infra, config=server_config)
        serving = asyncio.create_task(manager.serve_forever(status_stream=io.StringIO()))
        while not manager.readiness.started:
            if serving.done():
                return await serving  # the start-up failed: its error is raised here
            await asyncio.sleep(0.01)
        print("serving on", manager.urls[0])
        try:
            await call_it(manager.urls[0], infra)
        finally:
            manager.request_shutdown()
            exit_code = await serving
        print("stopped with exit code", exit_code)
        return exit_code


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
