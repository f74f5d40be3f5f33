"""The gallery's HTTP side: a Starlette app of four routes and the static page."""

from __future__ import annotations

from pathlib import Path

from service import Gallery
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import infrakit.web.starlette

__all__ = ["create_app"]

STATIC = Path(__file__).resolve().parent / "static"


def create_app(gallery: Gallery) -> Starlette:
    """The web app; errors become problem+json (`install`), the server adds the rest."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def upload(request: Request) -> Response:
        """`PUT /api/uploads?name=<filename>` with the raw file as the body (POST works too)."""
        length = request.headers.get("content-length")
        item = await gallery.upload(
            request.query_params.get("name"),
            request.stream(),
            declared_size=int(length) if length and length.isdigit() else None,
        )
        return JSONResponse(item, status_code=202, headers={"Location": f"/api/items/{item['id']}"})

    async def items(request: Request) -> Response:
        return JSONResponse({"items": await gallery.listing.get()})

    async def item(request: Request) -> Response:
        return JSONResponse(await gallery.item(request.path_params["item_id"]))

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/uploads", upload, methods=["PUT", "POST"]),
            Route("/api/items", items),
            Route("/api/items/{item_id}", item),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    # The server already writes one access line per request; Starlette's own error
    # handling would answer a plain 500 before infrakit's problem middleware sees it.
    infrakit.web.starlette.install(app, access_log=False)
    return app
