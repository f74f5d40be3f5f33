"""The signed file route `/files/...`: verification, ranges, caching headers, active content.

Most cases call the server's wrapped ASGI app in-process through httpx (the same stack
uvicorn runs: metrics, request context, problems, the file route); the rest go over a
real uvicorn on loopback, including raw requests whose paths httpx would normalise.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from infrakit import Infra
from infrakit.config import load_config
from infrakit.server import ServerConfig, ServerManager
from infrakit.server._files import CHUNK_SIZE
from infrakit.storage import FsspecStorage, LocalStorage, UrlSigner
from tests.server.apps import app
from tests.server.conftest import running

KEY = "a-signing-key-of-32-bytes-for-tests"
OLD_KEY = "the-previous-signing-key-still-valid"
QUICK = ServerConfig(port=0, drain_delay=0.0, shutdown_timeout=5.0, access_log=False)
DIGITS = b"0123456789"


def _memory(*keys: str) -> FsspecStorage:
    return FsspecStorage("memory://", signing_keys=list(keys or (KEY,)))


@asynccontextmanager
async def _client(storage: Any, **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the server's wrapped app, in-process."""
    settings = QUICK.model_copy(update=config)
    manager = ServerManager(app, storage=storage, config=settings)
    await manager.load_services()
    transport = httpx.ASGITransport(app=manager.configure_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://files.test") as http:
        yield http


async def _saved(storage: FsspecStorage, key: str, data: bytes, **options: Any) -> str:
    await storage.save_file(key, data, **options)
    return await storage.get_file_url(key, expires_in=300)


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def _signed_path(path: str, expires: int, key: str = KEY) -> str:
    """Sign any path, as a holder of the key could (the documented HMAC)."""
    message = f"GET\n{path}\n{expires}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{path}?expires={expires}&signature={signature}"


# -- a whole file --------------------------------------------------------------------


async def test_a_signed_url_serves_the_file_with_its_headers() -> None:
    storage = _memory()
    url = await _saved(storage, "docs/report.txt", DIGITS, content_type="text/plain")
    async with _client(storage) as http:
        response = await http.get(url)
    assert (response.status_code, response.content) == (200, DIGITS)
    headers = response.headers
    metadata = await storage.get_file_metadata("docs/report.txt")
    assert headers["content-type"] == "text/plain"
    assert headers["content-length"] == "10"
    assert headers["etag"] == metadata.etag
    assert headers["last-modified"].endswith(" GMT")
    assert headers["accept-ranges"] == "bytes"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-request-id"]
    assert "content-disposition" not in headers
    private, max_age = headers["cache-control"].split(", ")
    assert private == "private"
    assert 0 < int(max_age.removeprefix("max-age=")) <= 300


async def test_a_file_larger_than_a_chunk_is_sent_in_bounded_pieces() -> None:
    storage = _memory()
    data = bytes(range(256)) * (3 * CHUNK_SIZE // 256 + 7)
    url = await _saved(storage, "big.bin", data)
    scope = _scope(url)
    pieces: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            pieces.append(message["body"])

    manager = ServerManager(None, storage=storage, config=QUICK)
    await manager.load_services()
    await manager.configure_app()(scope, _request_then_wait(), send)
    assert b"".join(pieces) == data
    assert len(pieces) > 3
    assert max(len(piece) for piece in pieces) <= CHUNK_SIZE


async def test_reading_stops_when_the_client_goes_away() -> None:
    storage = _memory()
    data = bytes(8 * CHUNK_SIZE)
    url = await _saved(storage, "big.bin", data)
    pieces: list[bytes] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            pieces.append(message["body"])
        await asyncio.sleep(0)  # a real server's send lets the loop run

    manager = ServerManager(None, storage=storage, config=QUICK)
    await manager.load_services()
    await manager.configure_app()(_scope(url), receive, send)
    assert 0 < len(pieces) < 8
    assert storage.get_stats().bytes_read < len(data)


# -- ranges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "body", "content_range"),
    [
        ("bytes=0-3", b"0123", "bytes 0-3/10"),
        ("bytes=4-", b"456789", "bytes 4-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=9-9", b"9", "bytes 9-9/10"),
        ("bytes=5-100", b"56789", "bytes 5-9/10"),
        ("bytes=-100", DIGITS, "bytes 0-9/10"),
        ("Bytes = 2 - 3", b"23", "bytes 2-3/10"),
    ],
)
async def test_one_range_is_a_206_with_its_content_range(
    header: str, body: bytes, content_range: str
) -> None:
    storage = _memory()
    url = await _saved(storage, "digits.txt", DIGITS)
    async with _client(storage) as http:
        response = await http.get(url, headers={"Range": header})
    assert (response.status_code, response.content) == (206, body)
    assert response.headers["content-range"] == content_range
    assert response.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=20-30", "bytes=-0"])
async def test_a_range_past_the_end_is_416_with_the_size(header: str) -> None:
    storage = _memory()
    url = await _saved(storage, "digits.txt", DIGITS)
    async with _client(storage) as http:
        response = await http.get(url, headers={"Range": header})
    _problem(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response.headers["content-range"] == "bytes */10"


@pytest.mark.parametrize(
    "header",
    ["bytes=0-1,4-5", "items=0-3", "bytes=5-2", "bytes=abc", "bytes=-", "bytes=" + "9" * 5000],
)
async def test_several_or_malformed_ranges_get_the_whole_file(header: str) -> None:
    storage = _memory()
    url = await _saved(storage, "digits.txt", DIGITS)
    async with _client(storage) as http:
        response = await http.get(url, headers={"Range": header})
    assert (response.status_code, response.content) == (200, DIGITS)
    assert "content-range" not in response.headers


async def test_an_empty_file_is_served_and_only_a_suffix_range_fits_it() -> None:
    storage = _memory()
    url = await _saved(storage, "empty.txt", b"", content_type="text/plain")
    async with _client(storage) as http:
        whole = await http.get(url)
        suffix = await http.get(url, headers={"Range": "bytes=-5"})
        start = await http.get(url, headers={"Range": "bytes=0-"})
    assert (whole.status_code, whole.content, whole.headers["content-length"]) == (200, b"", "0")
    assert (suffix.status_code, suffix.content) == (200, b"")
    _problem(start, 416, "RANGE_NOT_SATISFIABLE")
    assert start.headers["content-range"] == "bytes */0"


async def test_if_range_with_another_version_sends_the_whole_file() -> None:
    storage = _memory()
    url = await _saved(storage, "digits.txt", DIGITS)
    etag = (await storage.get_file_metadata("digits.txt")).etag
    async with _client(storage) as http:
        same = await http.get(url, headers={"Range": "bytes=0-1", "If-Range": etag})
        other = await http.get(url, headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert (same.status_code, same.content) == (206, b"01")
    assert (other.status_code, other.content) == (200, DIGITS)


# -- conditional requests and HEAD ----------------------------------------------------


@pytest.mark.parametrize("form", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
async def test_a_matching_if_none_match_is_304_without_a_body(form: str) -> None:
    storage = _memory()
    url = await _saved(storage, "digits.txt", DIGITS)
    etag = (await storage.get_file_metadata("digits.txt")).etag
    async with _client(storage) as http:
        response = await http.get(url, headers={"If-None-Match": form.format(etag=etag)})
        changed = await http.get(url, headers={"If-None-Match": '"other"'})
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert (changed.status_code, changed.content) == (200, DIGITS)


async def test_head_sends_the_headers_without_the_body() -> None:
    storage = _memory()
    url = await _saved(storage, "digits.txt", DIGITS)
    async with _client(storage) as http:
        whole = await http.head(url)
        part = await http.head(url, headers={"Range": "bytes=2-5"})
    assert (whole.status_code, whole.content, whole.headers["content-length"]) == (200, b"", "10")
    assert whole.headers["etag"]
    assert (part.status_code, part.content) == (206, b"")
    assert part.headers["content-range"] == "bytes 2-5/10"
    assert part.headers["content-length"] == "4"
    assert storage.get_stats().bytes_read == 0


# -- refusals ------------------------------------------------------------------------


async def test_an_altered_signature_expiry_or_key_is_403() -> None:
    storage = _memory()
    url = await _saved(storage, "a.txt", b"a")
    await storage.save_file("b.txt", b"b")
    signature = url.rpartition("signature=")[2]
    expires = int(url.split("expires=")[1].split("&")[0])
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    altered = [
        url.replace(signature, flipped),
        url.replace(f"expires={expires}", f"expires={expires + 3600}"),
        url.replace("/a.txt", "/b.txt"),
        url.partition("?")[0],
        url + "&signature=second",
    ]
    async with _client(storage) as http:
        for target in altered:
            body = _problem(await http.get(target), 403, "STORAGE_URL_INVALID")
            assert "signature=" not in str(body)


async def test_an_expired_url_is_403_expired() -> None:
    storage = _memory()
    await storage.save_file("a.txt", b"a")
    an_hour_ago = UrlSigner([KEY], clock=lambda: time.time() - 3600)
    async with _client(storage) as http:
        response = await http.get(an_hour_ago.sign("a.txt", 60))
    _problem(response, 403, "STORAGE_URL_EXPIRED")


async def test_other_methods_are_405_and_a_url_signed_for_another_is_403() -> None:
    storage = _memory()
    url = await _saved(storage, "a.txt", b"a")
    put_url = UrlSigner([KEY]).sign("a.txt", 60, method="PUT")
    async with _client(storage) as http:
        posted = await http.post(url, content=b"x")
        deleted = await http.delete(url)
        foreign = await http.get(put_url)
    for response in (posted, deleted):
        _problem(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "GET, HEAD"
    _problem(foreign, 403, "STORAGE_URL_INVALID")
    assert await storage.get_file("a.txt") == b"a"


async def test_a_missing_file_is_404_problem() -> None:
    storage = _memory()
    url = await storage.get_file_url("gone/away.txt", expires_in=60)
    async with _client(storage) as http:
        response = await http.get(url)
    body = _problem(response, 404, "STORAGE_NOT_FOUND")
    assert body["details"]["path"] == "gone/away.txt"


async def test_keys_rotate_without_breaking_urls_already_handed_out() -> None:
    before = _memory(OLD_KEY)
    old_url = await _saved(before, "a.txt", b"a")
    rotated = _memory(KEY, OLD_KEY)
    retired = _memory(KEY)
    for storage in (rotated, retired):
        await storage.save_file("a.txt", b"a")
    new_url = await rotated.get_file_url("a.txt", expires_in=60)
    async with _client(rotated) as http:
        old, new = await http.get(old_url), await http.get(new_url)
    async with _client(retired) as http:
        dropped, current = await http.get(old_url), await http.get(new_url)
    assert (old.status_code, old.content, new.status_code) == (200, b"a", 200)
    _problem(dropped, 403, "STORAGE_URL_INVALID")
    assert current.status_code == 200


# -- active content ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("pages/index.html", b"<!doctype html><script>alert(1)</script>"),
        ("images/logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        ("feeds/news.xml", b'<?xml version="1.0"?><rss/>'),
    ],
)
async def test_pages_svg_and_xml_are_attachments_in_a_sandbox(key: str, data: bytes) -> None:
    storage = _memory()
    url = await _saved(storage, key, data)
    async with _client(storage) as http:
        response = await http.get(url)
    name = key.rpartition("/")[2]
    assert (response.status_code, response.content) == (200, data)
    assert response.headers["content-disposition"].startswith(f'attachment; filename="{name}"')
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_non_ascii_name_is_quoted_in_the_disposition() -> None:
    storage = _memory()
    url = await _saved(storage, 'pages/résumé";x.html', b"<html></html>", content_type="text/html")
    async with _client(storage) as http:
        response = await http.get(url)
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="r_sum___x.html"')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%22%3Bx.html" in disposition


# -- mounting ------------------------------------------------------------------------


async def test_s3_storage_is_not_mounted() -> None:
    pytest.importorskip("s3fs")
    storage = FsspecStorage("s3://bucket/prefix", key="k" * 16, secret="s" * 20)
    async with _client(storage) as http:
        response = await http.get("/files/a.txt?expires=1&signature=x")
    assert response.status_code == 200  # tests.server.apps.app answers every other path
    assert response.text == "hello"


async def test_an_empty_files_path_leaves_the_path_to_the_app() -> None:
    storage = _memory()
    url = await _saved(storage, "a.txt", b"a")
    async with _client(storage, files_path="") as http:
        response = await http.get(url)
    assert response.text == "hello"


def test_files_path_must_be_below_the_root() -> None:
    for bad in ("files", "/", "//"):
        with pytest.raises(ValueError, match="files_path"):
            ServerConfig(files_path=bad)


# -- over a real socket ----------------------------------------------------------------


async def test_the_infra_storage_is_served_over_loopback(tmp_path: Path) -> None:
    config = load_config("test", directory=tmp_path, environ={})
    infra = (
        Infra.builder()
        .with_config(config)
        .with_storage(url=f"file://{tmp_path / 'files'}", signing_keys=[KEY])
        .build()
    )
    async with running(ServerManager(app, infra=infra, config=QUICK)) as base:
        storage = infra.storage
        await storage.save_file("reports/q1.csv", b"quarter,total\nq1,10\n")
        url = await storage.get_file_url("reports/q1.csv", expires_in=60)
        async with httpx.AsyncClient(base_url=base) as http:
            part = await http.get(url, headers={"Range": "bytes=8-12"})
            head = await http.head(url)
            hello = await http.get("/hello")
    assert (part.status_code, part.content) == (206, b"total")
    assert part.headers["content-range"] == "bytes 8-12/20"
    assert part.headers["content-type"] == "text/csv"
    assert part.headers["x-request-id"]
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "20")
    assert hello.text == "hello"


async def test_traversal_in_the_raw_path_never_leaves_the_root(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_bytes(b"top secret")
    storage = LocalStorage(tmp_path / "root", signing_keys=[KEY])
    await storage.save_file("a.txt", b"a")
    url = await storage.get_file_url("a.txt", expires_in=60)
    query = url.partition("?")[2]
    expires = int(query.split("&")[0].removeprefix("expires="))
    targets = [
        f"/files/../secret.txt?{query}",
        f"/files/%2e%2e/secret.txt?{query}",
        f"/files/a.txt/../../secret.txt?{query}",
        _signed_path("/files/../secret.txt", expires),
        _signed_path("/files/%2E%2E/secret.txt", expires),
    ]
    manager = ServerManager(None, storage=storage, config=QUICK)
    async with running(manager) as base:
        port = urlsplit(base).port
        answers = [await _raw_get("127.0.0.1", port or 0, target) for target in targets]
        fine = await _raw_get("127.0.0.1", port or 0, urlsplit(url).path + "?" + query)
    assert fine.startswith(b"HTTP/1.1 200")
    assert fine.endswith(b"\r\n\r\na")
    for answer in answers:
        status = answer.split(b" ", 2)[1]
        assert status in (b"400", b"403"), answer
        assert b"application/problem+json" in answer
        assert b"top secret" not in answer
    assert [answer.split(b" ", 2)[1] for answer in answers[3:]] == [b"400", b"400"]


async def test_a_storage_signing_for_another_path_leaves_files_path_to_the_app() -> None:
    storage = FsspecStorage("memory://", signing_keys=[KEY], url_base="/media")
    url = await _saved(storage, "a.txt", b"a")
    manager = ServerManager(app, storage=storage, config=QUICK)
    async with running(manager) as base, httpx.AsyncClient(base_url=base) as http:
        elsewhere = await http.get("/files/a.txt")
        signed = await http.get(url)
    assert elsewhere.text == "hello"
    assert signed.text == "hello"  # /media is the app's too: the server serves files_path only


async def test_a_matching_custom_files_path_is_served() -> None:
    storage = FsspecStorage("memory://", signing_keys=[KEY], url_base="/media")
    url = await _saved(storage, "a.txt", b"a")
    config = QUICK.model_copy(update={"files_path": "/media"})
    manager = ServerManager(app, storage=storage, config=config)
    async with running(manager) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get(url)
        ready = await http.get("/readyz")
    assert (response.status_code, response.content) == (200, b"a")
    assert ready.json()["checks"]["storage"]["healthy"] is True


# -- helpers -------------------------------------------------------------------------


def _scope(url: str) -> dict[str, Any]:
    path, _, query = url.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"files.test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


def _request_then_wait() -> Any:
    """A server's `receive`: the empty body once, then nothing until the client leaves."""
    sent = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _raw_get(host: str, port: int, target: str) -> bytes:
    """One request with the target exactly as written (httpx would normalise `..`)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
