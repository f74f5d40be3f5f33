"""S3 on a real local moto server: presigned URLs, credentials never shown, failures."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import AsyncIterator

import pytest

from infrakit._internal.secrets import mask_known_secrets
from infrakit.storage import FsspecStorage, StorageError
from tests.storage.conftest import S3_CREDENTIALS, _admin_client, create_bucket, s3_options

pytestmark = pytest.mark.s3


async def test_presigned_urls_fetch_the_object(moto_endpoint: str) -> None:
    bucket = create_bucket(moto_endpoint)
    async with FsspecStorage(f"s3://{bucket}/p", **s3_options(moto_endpoint)) as storage:
        await storage.save_file("a/b.txt", b"presigned body")
        url = await storage.get_file_url("a/b.txt", expires_in=120)
    assert url.startswith(moto_endpoint)
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    assert body == b"presigned body"


async def test_credentials_in_the_url_are_used_and_masked(moto_endpoint: str) -> None:
    bucket = create_bucket(moto_endpoint)
    key, secret = S3_CREDENTIALS["key"], S3_CREDENTIALS["secret"]
    options = {"endpoint_url": moto_endpoint, "client_kwargs": {"region_name": "us-east-1"}}
    async with FsspecStorage(f"s3://{key}:{secret}@{bucket}/x", **options) as storage:
        await storage.save_file("f.txt", b"1")
        assert await storage.get_file("f.txt") == b"1"
        assert secret not in repr(storage)
    assert secret not in mask_known_secrets(f"a line quoting {secret}")


async def test_objects_live_under_the_prefix(moto_endpoint: str) -> None:
    bucket = create_bucket(moto_endpoint)
    inner = FsspecStorage(f"s3://{bucket}/tenant/one", **s3_options(moto_endpoint))
    whole = FsspecStorage(f"s3://{bucket}", **s3_options(moto_endpoint))
    try:
        await inner.save_file("doc.txt", b"1")
        assert await whole.list_files() == ["tenant/one/doc.txt"]
        assert await inner.list_files() == ["doc.txt"]
    finally:
        await inner.close()
        await whole.close()


async def test_an_aborted_multipart_upload_leaves_no_object(moto_endpoint: str) -> None:
    bucket = create_bucket(moto_endpoint)

    async def failing() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"p" * 4_000_000  # more than one part before the failure
        raise RuntimeError("client went away")

    async with FsspecStorage(f"s3://{bucket}", **s3_options(moto_endpoint)) as storage:
        with pytest.raises(RuntimeError):
            await storage.save_file("big.bin", failing())
        assert await storage.list_files() == []
    client = _admin_client(moto_endpoint)
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_endpoint_is_unavailable_without_credentials() -> None:
    secret = "unreachable-secret-value-42"
    storage = FsspecStorage(
        "s3://bucket/prefix",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        key="unreachable-access-key",
        secret=secret,
        client_kwargs={"region_name": "us-east-1"},
        config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    )
    try:
        with pytest.raises(StorageError) as caught:
            await storage.get_file("a.txt")
        assert caught.value.code == "STORAGE_UNAVAILABLE"
        assert caught.value.status_code == 503
        assert caught.value.__cause__ is not None
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value.to_problem(expose_internal=True))
        assert await storage.health() is False
    finally:
        await storage.close()
    assert "***" in mask_known_secrets(secret)
