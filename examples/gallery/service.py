"""The gallery's work: take an upload in, make its thumbnail in a job, tell the browsers.

upload -> validated and streamed into storage -> an item row -> a thumbnail job
job    -> probe + thumbnail (media) -> storage -> the row -> the cached listing
          deleted (cache) -> a message on the `gallery` channel (pub/sub)
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from store import Item, ItemStore, Probe

from infrakit import Infra
from infrakit.errors import AppError, NotFoundError, ValidationError
from infrakit.jobs import Job
from infrakit.media import MediaBusyError, MediaError
from infrakit.storage import SNIFF_BYTES, detect_content_type
from infrakit.streams import hash_stream, limit_size, process_stream

__all__ = [
    "CHANNEL",
    "THUMBNAIL_JOB",
    "EmptyUploadError",
    "Gallery",
    "ItemNotFoundError",
    "MissingNameError",
    "UnsupportedUploadError",
    "UploadTooLargeError",
]

CHANNEL = "gallery"
THUMBNAIL_JOB = "gallery.thumbnail"
LISTING_TTL = 300.0  # seconds a listing stays cached (its signed URLs live an hour)
URL_TTL = 3600
MAX_NAME_LENGTH = 200
# What infrakit.media can thumbnail, as detected from the first bytes (never the name).
ACCEPTED_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/bmp",
        "image/x-ms-bmp",
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "video/x-matroska",
    }
)


class MissingNameError(AppError):
    code = "GALLERY_NAME_REQUIRED"
    status_code = 400
    default_message = "Name the file: PUT /api/uploads?name=<filename>."


class EmptyUploadError(AppError):
    code = "GALLERY_EMPTY_UPLOAD"
    status_code = 400
    default_message = "The upload is empty."


class UnsupportedUploadError(AppError):
    code = "GALLERY_UNSUPPORTED_TYPE"
    status_code = 415
    default_message = "Only pictures (JPEG, PNG, WebP, GIF, BMP) and videos (MP4, MOV, WebM, MKV)."


class UploadTooLargeError(AppError):
    code = "GALLERY_UPLOAD_TOO_LARGE"
    status_code = 413
    default_message = "The file is larger than the gallery accepts."


class ItemNotFoundError(NotFoundError):
    code = "GALLERY_ITEM_NOT_FOUND"
    default_message = "No such item."


class Gallery:
    """Uploads, thumbnails and the listing, on the components of one `Infra`."""

    def __init__(
        self, infra: Infra, store: ItemStore, *, max_upload_bytes: int, thumbnail_size: int
    ) -> None:
        self.infra = infra
        self.store = store
        self.max_upload_bytes = max_upload_bytes
        self.thumbnail_size = thumbnail_size
        self.log = infra.log.child("gallery")
        self.listing = Listing(infra, self._load_listing)

    # -- uploads -----------------------------------------------------------------------

    async def upload(
        self, name: str | None, body: AsyncIterable[bytes], *, declared_size: int | None
    ) -> dict[str, Any]:
        """Stream `body` into storage, record it and queue its thumbnail; the item as JSON.

        Raises:
            MissingNameError, EmptyUploadError: 400.
            UnsupportedUploadError: 415, from the first bytes (nothing is kept).
            UploadTooLargeError: 413, from Content-Length or while streaming.
        """
        name = _clean_name(name)
        if declared_size is not None and declared_size > self.max_upload_bytes:
            raise UploadTooLargeError(details={"limit": self.max_upload_bytes})
        item_id = uuid.uuid4().hex
        check, digest = MediaTypeCheck(name), hash_stream("sha256")
        try:  # never held whole: chunk by chunk through the checks into storage
            await process_stream(
                body,
                _original_key(item_id),
                [limit_size(self.max_upload_bytes), check, digest],
                storage=self.infra.storage,
            )
        except ValidationError as error:
            if error.details.get("field") == "size":
                raise UploadTooLargeError(details={"limit": self.max_upload_bytes}) from error
            raise
        item = Item(
            id=item_id,
            name=name,
            content_type=check.content_type,
            size=digest.size,
            sha256=digest.hexdigest(),
            created_at=datetime.now(UTC),
        )
        await self.store.add(item)
        # The job id is the item's: adding it twice (a retried request) adds one job.
        await self.infra.jobs.add_job(THUMBNAIL_JOB, {"id": item_id}, job_id=item_id)
        await self.listing.invalidate()
        public = await self.public(item)
        await self._announce("item.added", public, required=False)
        self.log.info("upload stored", item=item_id, size=item.size, type=item.content_type)
        return public

    # -- the thumbnail job -------------------------------------------------------------

    async def make_thumbnail(self, job: Job[dict[str, Any]]) -> dict[str, Any]:
        """The job: probe, thumbnail, record, announce. Idempotent, so a retry is safe.

        Media the processor refuses (corrupt, too large, ...) marks the item failed at
        once; a busy processor or an unreachable backend raises, so the queue retries,
        and the last attempt marks the item failed too.
        """
        item_id = str(job.data["id"])
        try:
            original = await self.infra.storage.get_file(_original_key(item_id))
            info = await self.infra.media.probe(original)
            thumbnail = io.BytesIO()
            await self.infra.media.generate_thumbnail(original, thumbnail, self.thumbnail_size)
            key = f"thumbnails/{item_id}.jpg"
            await self.infra.storage.save_file(key, thumbnail.getvalue(), content_type="image/jpeg")
        except MediaError as error:
            if isinstance(error, MediaBusyError) and job.attempts < job.max_attempts:
                raise
            return await self._fail(item_id, error.code)
        except Exception:
            if job.attempts >= job.max_attempts:
                await self._fail(item_id, "GALLERY_THUMBNAIL_FAILED")
            raise
        probe = Probe(info.kind, info.width, info.height, info.duration)
        item = await self.store.mark_ready(item_id, key, probe)
        if item is None:
            raise ItemNotFoundError(details={"id": item_id})
        await self.listing.invalidate()
        await self._announce("item.ready", await self.public(item), required=True)
        return {"id": item_id, "thumbnail": key}

    async def _fail(self, item_id: str, code: str) -> dict[str, Any]:
        self.log.warning("thumbnail failed", item=item_id, code=code)
        item = await self.store.mark_failed(item_id, code)
        await self.listing.invalidate()
        if item is not None:
            await self._announce("item.failed", await self.public(item), required=False)
        return {"id": item_id, "error": code}

    async def _announce(self, event: str, item: dict[str, Any], *, required: bool) -> None:
        """Publish on `gallery`; `required=False` only logs a failure (the listing has it)."""
        try:
            await self.infra.pubsub.publish(CHANNEL, event, item)
        except AppError:
            if required:
                raise
            self.log.warning("could not announce", event=event, item=item["id"])

    # -- reading -----------------------------------------------------------------------

    async def item(self, item_id: str) -> dict[str, Any]:
        item = await self.store.get(item_id)
        if item is None:
            raise ItemNotFoundError(details={"id": item_id})
        return await self.public(item)

    async def public(self, item: Item) -> dict[str, Any]:
        """The item as browsers see it: no storage keys, a signed URL for the thumbnail."""
        url = None
        if item.thumbnail_key is not None:
            url = await self.infra.storage.get_file_url(item.thumbnail_key, expires_in=URL_TTL)
        return {
            "id": item.id,
            "name": item.name,
            "status": item.status,
            "content_type": item.content_type,
            "size": item.size,
            "kind": item.kind,
            "width": item.width,
            "height": item.height,
            "duration": item.duration,
            "created_at": item.created_at.isoformat(),
            "error": item.error,
            "thumbnail_url": url,
        }

    async def _load_listing(self) -> list[dict[str, Any]]:
        return [await self.public(item) for item in await self.store.recent()]


class Listing:
    """The cached listing, deleted on every change.

    A request that loaded the items just before a change cannot store its stale copy
    after the delete: the cache discards a fill that an invalidation overtook
    (docs/cache.md, "Invalidation during a fill"). Concurrent misses share one load.
    """

    KEY = "gallery:listing"

    def __init__(self, infra: Infra, load: Callable[[], Awaitable[list[dict[str, Any]]]]):
        self.infra = infra
        self.load = load

    async def get(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = await self.infra.cache.get_or_set(
            self.KEY, self.load, ttl=LISTING_TTL
        )
        return items

    async def invalidate(self) -> None:
        await self.infra.cache.delete(self.KEY)


class MediaTypeCheck:
    """A stream transform that refuses, from its first bytes, what is not a picture or video.

    It holds back the first `SNIFF_BYTES` (one chunk at most), sniffs them, and raises
    before anything reaches storage when the type is not accepted.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.content_type = ""

    async def __call__(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        head = b""
        async for chunk in chunks:
            if self.content_type:
                yield chunk
                continue
            head += chunk
            if len(head) >= SNIFF_BYTES:
                self._check(head)
                yield head
        if not self.content_type:
            self._check(head)
            yield head

    def _check(self, head: bytes) -> None:
        if not head:
            raise EmptyUploadError()
        detected = detect_content_type(self.name, head[:SNIFF_BYTES])
        if detected.source != "bytes" or detected.mime_type not in ACCEPTED_TYPES:
            raise UnsupportedUploadError(details={"content_type": detected.mime_type})
        self.content_type = detected.mime_type


def _clean_name(name: str | None) -> str:
    """The file's own name (no directories), for display only: keys never use it."""
    cleaned = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(ch for ch in cleaned if ch.isprintable())[:MAX_NAME_LENGTH]
    if not cleaned:
        raise MissingNameError()
    return cleaned


def _original_key(item_id: str) -> str:
    return f"originals/{item_id}"
