"""Backends for the storage conformance suite: local disk, memory, and S3 on moto.

S3 runs against a real moto server on 127.0.0.1 (started once per session in a
thread), never mocks; each test gets its own bucket.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from infrakit.storage import FsspecStorage, LocalStorage
from tests.conftest import services_required

BACKENDS = ["local", "memory", pytest.param("s3", marks=pytest.mark.s3)]
S3_CREDENTIALS = {"key": "infrakit-test-access", "secret": "infrakit-test-secret-value"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1 (a free port), for the whole session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:  # pragma: no cover - the test extra brings moto
        message = f"moto[server] is not installed ({error}); pip install '.[test]'"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_options(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        **S3_CREDENTIALS,
        "client_kwargs": {"region_name": "us-east-1"},
        "session": _shared_session(),
    }


def create_bucket(endpoint: str) -> str:
    name = f"infrakit-{uuid.uuid4().hex[:20]}"
    _admin_client(endpoint).create_bucket(Bucket=name)
    return name


@functools.cache
def _admin_client(endpoint: str) -> Any:
    """One boto3 client per server (building one loads the S3 model: half a second)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["key"],
        aws_secret_access_key=S3_CREDENTIALS["secret"],
        region_name="us-east-1",
    )


@functools.cache
def _shared_session() -> Any:
    """One aiobotocore session for every test: it caches the loaded service models."""
    import aiobotocore.session

    return aiobotocore.session.AioSession()


def make_storage(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> FsspecStorage:
    if kind == "local":
        return LocalStorage(tmp_path / "root", signing_keys=["a-test-signing-key-0123456789"])
    if kind == "memory":
        return FsspecStorage("memory://", signing_keys=["a-test-signing-key-0123456789"])
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = create_bucket(endpoint)
    return FsspecStorage(f"s3://{bucket}/some/prefix", **s3_options(endpoint))


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FsspecStorage]:
    """A fresh, empty storage of each kind."""
    instance = make_storage(request.param, tmp_path, request)
    yield instance
    await instance.close()
