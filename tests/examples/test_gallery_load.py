"""A bounded load on the gallery while it processes uploads: no 5xx, no lost job.

The demo runs in a subprocess on loopback on its embedded defaults. Readers hit the
listing, `/readyz` and the page over a few keep-alive connections while uploaders send
pictures and two videos; then every upload must end with a fetchable thumbnail, the job
counts on `/metrics` must show each job completed once, the cached listing must show
every item ready (it was read all along while the items changed), and SIGTERM must exit 0.
"""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from tests.examples.gallery_process import RunningGallery, gallery_environment

UPLOADS = 30
VIDEOS = 2  # of the uploads
UPLOADERS = 3
READERS = 6
MAX_REQUESTS = 3000
LOAD_SECONDS = 20.0
THUMBNAILS_SECONDS = 90.0
READ_PATHS = ("/api/items", "/readyz", "/", "/static/gallery.js")


def picture(index: int) -> bytes:
    image = Image.linear_gradient("L").resize((800 + index, 600)).convert("RGB")
    image.paste((index * 8 % 256, 90, 200), (0, 0, 200, 200))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def video(index: int) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "clip.mp4"
        with av.open(str(path), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            for frame_index in range(10):
                colour = (40 + index * 30, 20 * frame_index, 90)
                frame = av.VideoFrame.from_image(Image.new("RGB", (160, 120), colour))
                frame.pts = frame_index
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        return path.read_bytes()


class Load:
    """What the load client saw: statuses by path kind, and the ids it uploaded."""

    def __init__(self) -> None:
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.errors: list[str] = []
        self.uploaded: list[str] = []
        self.requests = 0
        self.processed = asyncio.Event()

    def record(self, path: str, response: httpx.Response) -> None:
        self.requests += 1
        self.statuses[(path, response.status_code)] += 1
        if response.status_code >= 500:
            self.errors.append(f"{path} -> {response.status_code}: {response.text[:300]}")

    @property
    def server_errors(self) -> int:
        return sum(count for (_, status), count in self.statuses.items() if status >= 500)


async def read(client: httpx.AsyncClient, load: Load, offset: int, deadline: float) -> None:
    """Cycle through READ_PATHS until the uploads are processed and the budget is spent.

    Bounded by `deadline` whatever happens.
    """
    index = offset
    while time.monotonic() < deadline and (
        load.requests < MAX_REQUESTS or not load.processed.is_set()
    ):
        path = READ_PATHS[index % len(READ_PATHS)]
        load.record(path, await client.get(path))
        index += 1


async def upload_share(client: httpx.AsyncClient, load: Load, indexes: range) -> None:
    for index in indexes:
        is_video = index < VIDEOS
        body = video(index) if is_video else picture(index)
        name = f"load-{index}.{'mp4' if is_video else 'jpg'}"
        response = await client.put(f"/api/uploads?name={name}", content=body)
        load.record("/api/uploads", response)
        assert response.status_code == 202, response.text
        load.uploaded.append(response.json()["id"])


async def wait_for_thumbnails(client: httpx.AsyncClient, load: Load) -> dict[str, Any]:
    """Each uploaded item once it is no longer processing (bounded)."""
    finished: dict[str, Any] = {}
    async with asyncio.timeout(THUMBNAILS_SECONDS):
        while len(finished) < len(load.uploaded):
            for item_id in load.uploaded:
                if item_id not in finished:
                    path = f"/api/items/{item_id}"
                    response = await client.get(path)
                    load.record("/api/items/{id}", response)
                    if response.json()["status"] != "processing":
                        finished[item_id] = response.json()
            await asyncio.sleep(0.2)
    return finished


def job_counts(metrics: str) -> dict[str, float]:
    pattern = re.compile(r'^infrakit_jobs\{job_type="gallery.thumbnail",state="(\w+)"\} (\S+)$')
    return {m[1]: float(m[2]) for line in metrics.splitlines() if (m := pattern.match(line))}


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[RunningGallery]:
    environment = gallery_environment(tmp_path / "data", DEMO_SMOKE="0", LOG_LEVEL="WARNING")
    running = RunningGallery(environment, tmp_path / "gallery.log")
    try:
        yield running
    finally:
        running.kill()


@pytest.mark.slow
async def test_load_while_uploads_are_processed(gallery: RunningGallery) -> None:
    base = gallery.wait_serving()
    load = Load()
    limits = httpx.Limits(max_connections=READERS + UPLOADERS)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        deadline = started + LOAD_SECONDS
        readers = [read(client, load, offset, deadline) for offset in range(READERS)]
        shares = [range(first, UPLOADS, UPLOADERS) for first in range(UPLOADERS)]

        async def upload_and_wait() -> dict[str, Any]:
            await asyncio.gather(*(upload_share(client, load, share) for share in shares))
            try:
                return await wait_for_thumbnails(client, load)
            finally:
                load.processed.set()

        finished, *_ = await asyncio.gather(upload_and_wait(), *readers)
        elapsed = time.monotonic() - started
        thumbnails = [await client.get(item["thumbnail_url"] or "") for item in finished.values()]
        counts = job_counts((await client.get("/metrics")).text)
        # Read while the items changed under it, the cached listing must not stay stale.
        listing = (await client.get("/api/items")).json()["items"]
    print(
        f"\ngallery load: {load.requests} requests in {elapsed:.1f} s "
        f"({load.requests / elapsed:.0f}/s) over {READERS + UPLOADERS} connections, "
        f"{len(load.uploaded)} uploads; statuses {dict(load.statuses)}"
    )

    assert load.server_errors == 0, "\n".join(load.errors[:20]) + gallery.output()
    assert len(load.uploaded) == UPLOADS
    statuses = Counter(item["status"] for item in finished.values())
    assert statuses == {"ready": UPLOADS}, (
        [item for item in finished.values() if item["status"] != "ready"],
        gallery.output(),
    )
    assert Counter(item["kind"] for item in finished.values()) == {
        "image": UPLOADS - VIDEOS,
        "video": VIDEOS,
    }
    listed = {item["id"]: item["status"] for item in listing}
    assert all(listed.get(item_id) == "ready" for item_id in load.uploaded), listed
    assert all(r.status_code == 200 for r in thumbnails), [r.status_code for r in thumbnails]
    assert all(r.headers["content-type"] == "image/jpeg" for r in thumbnails)
    assert counts.get("completed") == UPLOADS, counts  # each job completed, exactly once
    assert counts.get("failed") == 0, counts
    assert counts.get("active") == 0, counts
    assert gallery.stop() == 0, gallery.output()
