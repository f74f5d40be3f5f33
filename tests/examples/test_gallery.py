"""The gallery demo: its smoke run on both stacks, bad uploads as problems, SIGTERM.

Each test runs `examples/gallery/app.py` in a subprocess on loopback, as a user would.
"""

from __future__ import annotations

import io
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from PIL import Image

from tests.examples.gallery_process import (
    BANNER,
    RunningGallery,
    gallery_environment,
    run_smoke,
)

PROBLEM = "application/problem+json"


def jpeg(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def assert_smoke_passed(completed: subprocess.CompletedProcess[str], data_dir: Path) -> str:
    """The run's item id, after checking its exit code, its lines and the stored files."""
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    lines = completed.stdout.splitlines()
    assert len([line for line in lines if BANNER.match(line)]) == 1, output
    passed = [line for line in lines if line.startswith("gallery: smoke test passed: item ")]
    assert passed, output
    item_id = passed[0].split()[5].rstrip(",")
    assert (data_dir / "files" / "originals" / item_id).is_file()
    assert (data_dir / "files" / "thumbnails" / f"{item_id}.jpg").is_file()
    return item_id


@pytest.mark.parametrize("switch", [{"DEMO_SMOKE": "1"}, {"CI": "true"}], ids=["DEMO_SMOKE", "CI"])
def test_smoke_run_on_embedded_defaults(tmp_path: Path, switch: dict[str, str]) -> None:
    data = tmp_path / "data"
    completed = run_smoke(gallery_environment(data, **switch))
    assert_smoke_passed(completed, data)
    assert (data / "gallery.sqlite3").is_file()  # the items
    assert (data / "jobs.sqlite3").is_file()  # the thumbnail jobs


@pytest.fixture
def postgres_schema(database_url: str) -> Iterator[tuple[str, str]]:
    """A schema of its own, and a DATABASE_URL whose search_path is that schema."""
    schema = f"gallery_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in database_url else "?"
    try:
        yield schema, f"{database_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"gallery-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_smoke_run_on_postgres_and_redis(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    postgres_schema: tuple[str, str],
    redis_prefix: str,
) -> None:
    schema, schema_url = postgres_schema
    data = tmp_path / "data"
    environment = gallery_environment(
        data,
        DEMO_SMOKE="1",
        DATABASE_URL=schema_url,
        JOBS_SCHEMA=schema,
        CACHE_URL=redis_url,
        CACHE_PREFIX=redis_prefix,
        PUBSUB_BACKPLANE="redis",
        PUBSUB_REDIS_URL=redis_url,
    )
    item_id = assert_smoke_passed(run_smoke(environment), data)

    assert not (data / "gallery.sqlite3").exists()
    assert not (data / "jobs.sqlite3").exists()
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            f"SELECT status, kind, width, height FROM {schema}.gallery_items WHERE id = %s",
            (item_id,),
        ).fetchone()
        jobs = connection.execute(
            f"SELECT status FROM {schema}.jobs WHERE id = %s", (item_id,)
        ).fetchone()
    assert row == ("ready", "image", 1200, 800)
    assert jobs == ("completed",)
    client = redis.Redis.from_url(redis_url)
    try:  # the listing the smoke run read was cached in Redis, under the prefix
        assert client.exists(f"{redis_prefix}gallery:listing")
    finally:
        client.close()


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[RunningGallery]:
    environment = gallery_environment(
        tmp_path / "data", DEMO_SMOKE="0", GALLERY_MAX_UPLOAD_BYTES="4096"
    )
    running = RunningGallery(environment, tmp_path / "gallery.log")
    try:
        yield running
    finally:
        running.kill()


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]


def test_bad_uploads_are_problems_and_keep_nothing(gallery: RunningGallery, tmp_path: Path) -> None:
    base = gallery.wait_serving()
    small_png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(small_png, "PNG")
    too_big = small_png.getvalue() + bytes(8192)  # a PNG's bytes, over the 4096 limit

    def streamed() -> Iterator[bytes]:  # no Content-Length: the limit is met while streaming
        yield too_big[:3000]
        yield too_big[3000:]

    with httpx.Client(base_url=base, timeout=10) as client:
        upload = "/api/uploads"
        assert_problem(
            client.put(f"{upload}?name=notes.txt", content=b"not a picture\n"),
            415,
            "GALLERY_UNSUPPORTED_TYPE",
        )
        assert_problem(  # the name is not trusted: these bytes have no media signature
            client.put(f"{upload}?name=fake.png", content=bytes(range(256)) * 8),
            415,
            "GALLERY_UNSUPPORTED_TYPE",
        )
        assert_problem(
            client.put(f"{upload}?name=big.png", content=too_big), 413, "GALLERY_UPLOAD_TOO_LARGE"
        )
        assert_problem(
            client.put(f"{upload}?name=big.png", content=streamed()),
            413,
            "GALLERY_UPLOAD_TOO_LARGE",
        )
        for query in ("", "?name=", "?name=%20%20", "?name=a/"):
            assert_problem(
                client.put(f"{upload}{query}", content=small_png.getvalue()),
                400,
                "GALLERY_NAME_REQUIRED",
            )
        assert_problem(
            client.post(f"{upload}?name=empty.jpg", content=b""), 400, "GALLERY_EMPTY_UPLOAD"
        )
        assert_problem(client.get("/api/items/nope"), 404, "GALLERY_ITEM_NOT_FOUND")
        assert client.get("/api/items").json() == {"items": []}
    originals = tmp_path / "data" / "files" / "originals"
    assert not originals.exists() or not any(originals.iterdir()), "a refused upload was kept"
    assert gallery.stop() == 0, gallery.output()


def test_sigterm_after_an_upload_exits_0(gallery: RunningGallery) -> None:
    base = gallery.wait_serving()
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert 'id="upload-form"' in page.text
        response = client.put("/api/uploads?name=small.jpg", content=jpeg(40, 30))
        assert response.status_code == 202, response.text
        assert response.headers["location"] == f"/api/items/{response.json()['id']}"
    assert gallery.stop() == 0, gallery.output()


def test_production_refuses_the_development_signing_key(tmp_path: Path) -> None:
    environment = gallery_environment(tmp_path / "data", APP_ENV="production", DEMO_SMOKE="1")
    completed = run_smoke(environment)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "gallery: cannot start: STORAGE_SIGNING_KEY is the development key" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was opened


def test_a_corrupt_picture_ends_failed_not_lost(gallery: RunningGallery) -> None:
    base = gallery.wait_serving()
    truncated = jpeg(400, 300)[:3000]  # a JPEG's signature, then nothing: accepted, then refused
    with httpx.Client(base_url=base, timeout=10) as client:
        response = client.put("/api/uploads?name=broken.jpg", content=truncated)
        assert response.status_code == 202, response.text
        path = response.headers["location"]
        for _ in range(300):  # 30 s at most
            item = client.get(path).json()
            if item["status"] != "processing":
                break
            time.sleep(0.1)
    assert item["status"] == "failed", item
    assert item["error"].startswith("MEDIA_"), item
    assert item["thumbnail_url"] is None
    assert gallery.stop() == 0, gallery.output()
