"""The smoke run (`DEMO_SMOKE=1`): one picture through the whole gallery, over HTTP.

It watches the `gallery` channel on `/ws` as a browser would, uploads a generated
JPEG, waits for the `item.ready` message, checks that the listing shows the item and
that its signed thumbnail URL serves a JPEG. Uses only the standard library, Pillow and
websockets (the `media` and `server` extras), so `make demo` needs nothing more.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import urllib.request
from typing import Any
from urllib.parse import urljoin

import websockets
from PIL import Image

__all__ = ["smoke_test"]

LIMIT = 60.0  # seconds for the whole run


async def smoke_test(base_url: str) -> bool:
    """True when an uploaded picture came back as a listed, fetchable thumbnail."""
    try:
        async with asyncio.timeout(LIMIT):
            await _run(base_url)
    except Exception as error:  # any failure, a timeout included, is the answer
        print(f"gallery: smoke test FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return False
    return True


async def _run(base_url: str) -> None:
    ws_url = base_url.replace("http", "ws", 1) + "ws"
    async with websockets.connect(ws_url) as socket:
        await socket.send(json.dumps({"type": "subscribe", "id": 1, "channel": "gallery"}))
        reply = json.loads(await socket.recv())
        if reply.get("type") != "subscribe":
            raise AssertionError(f"subscribe was answered {reply}")
        upload_url = urljoin(base_url, "api/uploads?name=smoke.jpg")
        status, item = await _request("PUT", upload_url, _jpeg())
        if status != 202:
            raise AssertionError(f"the upload was answered {status}: {item}")
        ready = await _message_for(socket, item["id"])
    if ready["status"] != "ready":
        raise AssertionError(f"the thumbnail job ended {ready['status']}: {ready['error']}")
    _, listing = await _request("GET", urljoin(base_url, "api/items"))
    listed = {entry["id"]: entry for entry in listing["items"]}
    if listed.get(item["id"], {}).get("status") != "ready":
        raise AssertionError("the listing does not show the item as ready")
    thumbnail = await _fetch(urljoin(base_url, ready["thumbnail_url"]))
    with Image.open(io.BytesIO(thumbnail)) as picture:
        print(
            f"gallery: smoke test passed: item {item['id']}, thumbnail {picture.format} "
            f"{picture.width}x{picture.height}",
            flush=True,
        )


async def _message_for(socket: Any, item_id: str) -> dict[str, Any]:
    """The first `item.ready` or `item.failed` message about `item_id`."""
    while True:
        envelope = json.loads(await socket.recv())
        data = envelope.get("data") or {}
        finished = envelope.get("event") in {"item.ready", "item.failed"}
        if envelope.get("type") == "message" and finished and data.get("id") == item_id:
            return dict(data)


def _jpeg() -> bytes:
    picture = Image.linear_gradient("L").resize((1200, 800)).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def _request(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    """An HTTP call in a thread (urllib blocks); the status and the decoded JSON body."""

    def call() -> tuple[int, Any]:
        request = urllib.request.Request(url, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    return await asyncio.to_thread(call)


async def _fetch(url: str) -> bytes:
    def call() -> bytes:
        with urllib.request.urlopen(url, timeout=10) as response:
            if response.headers.get_content_type() != "image/jpeg":
                raise AssertionError(f"the thumbnail is {response.headers['content-type']}")
            return bytes(response.read())

    return await asyncio.to_thread(call)
