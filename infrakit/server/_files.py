"""The signed file route: `GET`/`HEAD {files_path}/{key}?expires=...&signature=...`.

Local and memory storage cannot presign URLs as S3 does, so `get_file_url` signs them
itself (HMAC, `infrakit.storage.UrlSigner`) and this route is what answers them. It
sits inside the server's middleware, in front of the app: file requests get a request
id, an access line and metrics like any other, and a refusal is an RFC 9457 problem.

What it sends: the stored content type, `nosniff`, an entity tag and `Last-Modified`
(`If-None-Match` answers 304), one byte range (`Range: bytes=a-b`, `a-`, `-n`; several
ranges get the whole file, as RFC 9110 allows), and a private cache lifetime that ends
when the URL does. Types a browser would run (HTML, SVG, XML, scripts) are sent as
attachments inside a CSP sandbox, so an uploaded page cannot script the site's origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from infrakit.server._errors import ServerError
from infrakit.web import HTTPError

if TYPE_CHECKING:
    from infrakit.storage import FileMetadata, StorageProvider

__all__ = ["CHUNK_SIZE", "FileRoute", "byte_range", "presigned_elsewhere", "signs_for"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHUNK_SIZE = 256 * 1024
"""Bytes read and sent at a time: what one download holds in memory, whatever the file's size."""

_METHODS = ("GET", "HEAD")
_PRESIGNING_SCHEMES = frozenset({"s3", "s3a"})
# One range; 19 digits at most, so `int()` never meets a number longer than a file can be.
_SINGLE_RANGE = re.compile(r"\s*bytes\s*=\s*(\d{0,19})\s*-\s*(\d{0,19})\s*", re.IGNORECASE)
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]")
_SANDBOX = "sandbox; default-src 'none'"


class FileRoute:
    """Answer signed storage URLs under `prefix`; hand every other request to `app`.

    Args:
        app: the application behind the route.
        storage: verifies the URL (`verify_signed_url`) and reads the file.
        prefix: the path the storage's signed URLs start with (`/files`).
        clock: seconds since the epoch, for the cache lifetime (tests pass their own).
    """

    def __init__(
        self,
        app: ASGIApp,
        storage: StorageProvider,
        *,
        prefix: str = "/files",
        clock: Callable[[], float] = time.time,
    ) -> None:
        from infrakit.storage import is_active_content  # the storage is imported by now

        self.app, self.storage = app, storage
        self.prefix = prefix.rstrip("/") + "/"
        self._is_active = is_active_content
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.prefix):
            await self.serve(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one file request; a refusal raises the `AppError` the problem middleware sends.

        Raises:
            HTTPError: 405 for a method other than GET and HEAD; 416 for a range past the end.
            SignedUrlError: the URL is altered, foreign or expired (403).
            InvalidPathError: the signed key is unsafe (400).
            StorageNotFoundError: nothing is stored under the key (404).
        """
        if scope["method"] not in _METHODS:
            raise HTTPError(405, headers={"Allow": ", ".join(_METHODS)})
        target = _signed_target(scope)
        key = self.storage.verify_signed_url(target, method="GET")  # a GET URL also grants HEAD
        metadata = await self.storage.get_file_metadata(key)
        request = _request_headers(scope)
        headers = self._validators(metadata, target)
        if _matches_any(request.get("if-none-match"), metadata.etag):
            await _answer(send, 304, headers)
            return
        headers += self._representation(metadata)
        window = _window(request, metadata)
        start, stop = window if window is not None else (0, metadata.size)
        status = 200
        if window is not None:
            status = 206
            headers.append((b"content-range", f"bytes {start}-{stop - 1}/{metadata.size}".encode()))
        headers.append((b"content-length", str(stop - start).encode()))
        if scope["method"] == "HEAD" or start == stop:
            await _answer(send, status, headers)
            return
        chunks = await self.storage.get_file_stream(
            key, start=start, end=stop, chunk_size=CHUNK_SIZE
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await _stream(chunks, stop - start, receive, send)

    def _validators(self, metadata: FileMetadata, target: str) -> list[tuple[bytes, bytes]]:
        """What a 304 repeats: the entity tag, its date, the cache lifetime, nosniff."""
        return [
            (b"etag", _quoted_etag(metadata.etag).encode("latin-1")),
            (b"last-modified", _http_date(metadata).encode()),
            (b"cache-control", f"private, max-age={self._max_age(target)}".encode()),
            (b"x-content-type-options", b"nosniff"),
        ]

    def _representation(self, metadata: FileMetadata) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", _header_safe(metadata.content_type).encode("latin-1")),
            (b"accept-ranges", b"bytes"),
        ]
        if self._is_active(metadata.content_type):
            headers.append((b"content-disposition", _attachment(metadata.path).encode("latin-1")))
            headers.append((b"content-security-policy", _SANDBOX.encode()))
        return headers

    def _max_age(self, target: str) -> int:
        """Seconds until the URL expires: a cached copy must not outlive the grant."""
        expires = parse_qs(urlsplit(target).query).get("expires", [""])[0]
        if not expires.isdigit():
            return 0
        return max(int(int(expires) - self._clock()), 0)


def presigned_elsewhere(storage: StorageProvider) -> bool:
    """True for storage whose URLs are presigned by their backend (S3): nothing to serve here."""
    url = getattr(storage, "url", "")
    return isinstance(url, str) and url.partition("://")[0].lower() in _PRESIGNING_SCHEMES


async def signs_for(storage: StorageProvider, prefix: str) -> bool:
    """True when the storage's signed URLs point at `prefix` (its `url_base` path agrees).

    A storage that cannot sign a probe key counts as agreeing: its requests will say why.
    """
    try:
        url = await storage.get_file_url("infrakit-probe", expires_in=60)
    except Exception:
        return True
    return urlsplit(url).path.startswith(prefix.rstrip("/") + "/")


def _signed_target(scope: Scope) -> str:
    """The path exactly as the client sent it (the signature covers its encoding) and query."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"], safe="/")
    return f"{path}?{scope.get('query_string', b'').decode('latin-1')}"


def _request_headers(scope: Scope) -> dict[str, str]:
    wanted = (b"range", b"if-range", b"if-none-match")
    return {
        name.decode(): value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name in wanted
    }


def _window(request: dict[str, str], metadata: FileMetadata) -> tuple[int, int] | None:
    """The `(start, stop)` of the requested range, or None to send the whole file."""
    header = request.get("range")
    if header is None:
        return None
    if_range = request.get("if-range")
    if if_range is not None and if_range.strip() not in (
        _quoted_etag(metadata.etag),
        _http_date(metadata),
    ):
        return None  # the client's partial copy is of another version: send it all
    return byte_range(header, metadata.size)


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Parse one `Range: bytes=...` against a file of `size` bytes.

    Returns:
        `(start, stop)` with `stop` exclusive, or None when the header is malformed,
        names several ranges or another unit (the whole file is then sent, 200).

    Raises:
        HTTPError: 416 with `Content-Range: bytes */size` when the range starts past
            the end (or is an empty suffix).
    """
    match = _SINGLE_RANGE.fullmatch(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(size)
        return (max(size - suffix, 0), size) if size else None  # an empty file is sent whole
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, size if not last else min(int(last) + 1, size)


def _unsatisfiable(size: int) -> HTTPError:
    return HTTPError(
        416,
        "the range starts past the end of the file",
        headers={"Content-Range": f"bytes */{size}"},
    )


def _matches_any(header: str | None, etag: str) -> bool:
    """`If-None-Match` uses the weak comparison: `W/"x"` matches `"x"`."""
    if header is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or _quoted_etag(etag).removeprefix("W/") in tags


def _quoted_etag(etag: str) -> str:
    if etag.startswith(('"', 'W/"')):
        return _header_safe(etag)
    return '"' + _header_safe(etag).replace('"', "") + '"'


def _http_date(metadata: FileMetadata) -> str:
    return format_datetime(metadata.modified.astimezone(UTC), usegmt=True)


def _attachment(path: str) -> str:
    """`attachment` with the file's name, ASCII for old clients and UTF-8 for the rest."""
    name = path.rpartition("/")[2]
    fallback = _UNSAFE_FILENAME.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _header_safe(value: str) -> str:
    """Printable ASCII only: a stored value must not split or break a header."""
    return "".join(character for character in value if " " <= character <= "~")


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _stream(
    chunks: AsyncIterator[bytes], expected: int, receive: Receive, send: Send
) -> None:
    """Send the chunks as they are read; stop reading when the client goes away.

    uvicorn drops what is sent after a disconnect without telling the app, so the
    route listens for `http.disconnect` itself rather than read the rest of the file.

    Raises:
        ServerError: the file came out shorter than its size said (it changed meanwhile);
            the response is then cut short, which the client sees as a broken download.
    """
    gone = asyncio.ensure_future(_disconnected(receive))
    sent = 0
    try:
        async for chunk in chunks:
            if gone.done():
                return
            piece = chunk[: expected - sent]
            sent += len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            if sent >= expected:
                break
    finally:
        gone.cancel()
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()  # the backend's file handle is released now, not by the collector
    if sent < expected:
        raise ServerError("the file changed while it was being sent")
    await send({"type": "http.response.body", "body": b""})


async def _disconnected(receive: Receive) -> None:
    """Return when the client has gone; a failing `receive` counts as gone."""
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
