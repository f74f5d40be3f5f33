"""Objects in an S3-compatible bucket, through s3fs's asynchronous filesystem.

Every call is a coroutine on aiobotocore (nothing blocks the event loop). A save of
less than one part is a single `PutObject`; a larger one is a multipart upload whose
object appears only when the upload completes, and which is aborted when the save
fails or is cancelled: S3 never shows a half-written object. Memory is bounded by the
part size whatever the file size. Needs the `s3` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import UTC
from typing import Any

from infrakit.errors import import_optional
from infrakit.storage._backend import AlreadyStoredError, StoredFile, Written

__all__ = ["PART_SIZE", "S3Backend"]

PART_SIZE = 8 * 1024 * 1024
"""Bytes per multipart part (S3's minimum is 5 MiB)."""


class S3Backend:
    """Keys as objects under `bucket/prefix`; `options` go to `s3fs.S3FileSystem`."""

    def __init__(self, bucket: str, prefix: str, options: Mapping[str, Any]) -> None:
        s3fs = import_optional("s3fs", extra="s3")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.fs = s3fs.S3FileSystem(
            asynchronous=True, skip_instance_cache=True, use_listings_cache=False, **options
        )

    async def write(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        keep_type: bool,
        overwrite: bool,
    ) -> Written:
        fields = self._object(key, ContentType=content_type, Metadata=dict(metadata or {}))
        if not overwrite:
            fields["IfNoneMatch"] = "*"
        try:
            return await self._upload(fields, chunks)
        except FileExistsError as error:  # s3fs's translation of 412 Precondition Failed
            raise AlreadyStoredError(key) from error

    async def write_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        keep_type: bool,
        overwrite: bool,
    ) -> Written:
        return await self.write(
            key,
            _single(data),
            content_type=content_type,
            metadata=metadata,
            keep_type=keep_type,
            overwrite=overwrite,
        )

    async def _upload(self, fields: dict[str, Any], chunks: AsyncIterator[bytes]) -> Written:
        part = bytearray()
        async for chunk in chunks:
            part += chunk
            if len(part) >= PART_SIZE:
                return await self._multipart(fields, part, chunks)
        response = await self._call("put_object", Body=bytes(part), **fields)
        return Written(len(part), response["ETag"])

    async def read(self, key: str) -> bytes:
        response = await self._call("get_object", **self._object(key))
        body = response["Body"]
        try:
            data: bytes = await body.read()
        finally:
            body.close()
        return data

    async def stat(self, key: str) -> StoredFile:
        head = await self._call("head_object", **self._object(key))
        modified = head["LastModified"]
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        return StoredFile(
            head["ContentLength"],
            modified.astimezone(UTC),
            head["ETag"],
            head.get("ContentType"),
            dict(head.get("Metadata") or {}),
        )

    async def size(self, key: str) -> int:
        return (await self.stat(key)).size

    async def stream(
        self, key: str, start: int, stop: int, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        response = await self._call(
            "get_object", Range=f"bytes={start}-{stop - 1}", **self._object(key)
        )
        body = response["Body"]
        try:
            while chunk := await body.read(chunk_size):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> bool:
        if not await self.exists(key):
            return False
        await self._call("delete_object", **self._object(key))
        return True

    async def exists(self, key: str) -> bool:
        try:
            await self._call("head_object", **self._object(key))
        except FileNotFoundError:
            return False
        return True

    async def keys(self, directory: str) -> list[str]:
        prefix = self._name(directory) + "/" if directory else self._root()
        found: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", Bucket=self.bucket, Prefix=prefix, **token)
            root = len(self._root())
            found.extend(entry["Key"][root:] for entry in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return found
            token = {"ContinuationToken": page["NextContinuationToken"]}

    async def presign(self, key: str, expires_in: float) -> str:
        url: str = await self.fs._url(f"{self.bucket}/{self._name(key)}", expires=int(expires_in))
        return url

    async def ping(self) -> None:
        await self._call("head_bucket", Bucket=self.bucket)

    async def close(self) -> None:
        client = getattr(self.fs, "_s3", None)
        if client is not None:
            await client.close()
            self.fs._s3 = None

    async def _multipart(
        self, fields: dict[str, Any], part: bytearray, chunks: AsyncIterator[bytes]
    ) -> Written:
        match = {"IfNoneMatch": fields.pop("IfNoneMatch")} if "IfNoneMatch" in fields else {}
        started = await self._call("create_multipart_upload", **fields)
        upload = {"Bucket": self.bucket, "Key": fields["Key"], "UploadId": started["UploadId"]}
        try:
            parts, size = await self._upload_parts(upload, part, chunks)
            done = await self._call(
                "complete_multipart_upload", MultipartUpload={"Parts": parts}, **upload, **match
            )
        except BaseException:
            await asyncio.shield(self._abort(upload))
            raise
        return Written(size, done["ETag"])

    async def _upload_parts(
        self, upload: dict[str, Any], part: bytearray, chunks: AsyncIterator[bytes]
    ) -> tuple[list[dict[str, Any]], int]:
        parts: list[dict[str, Any]] = []
        size = 0
        while part:
            number = len(parts) + 1
            sent = await self._call("upload_part", Body=bytes(part), PartNumber=number, **upload)
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})
            size += len(part)
            part = await _fill(chunks, bytearray())
        return parts, size

    async def _abort(self, upload: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await self._call("abort_multipart_upload", **upload)

    async def _call(self, method: str, **fields: Any) -> Any:
        return await self.fs._call_s3(method, **fields)

    def _object(self, key: str, **fields: Any) -> dict[str, Any]:
        return {"Bucket": self.bucket, "Key": self._name(key), **fields}

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _fill(chunks: AsyncIterator[bytes], part: bytearray) -> bytearray:
    """Add chunks to `part` until it holds a full part or the stream ends."""
    async for chunk in chunks:
        part += chunk
        if len(part) >= PART_SIZE:
            break
    return part
