"""The gallery demo: upload a picture or a video, watch its thumbnail appear live.

    python examples/gallery/app.py                 # prints the URL to open; Ctrl-C stops
    DEMO_SMOKE=1 python examples/gallery/app.py    # uploads one picture to itself, exits 0

It runs on the embedded defaults of `.env` beside this file (SQLite, the memory cache,
local files under `GALLERY_DATA_DIR`), and on PostgreSQL and Redis when `DATABASE_URL`
and `CACHE_URL` are set. Every module of infrakit takes part: see README.md.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pydantic import BaseModel, Field
from routes import create_app
from service import THUMBNAIL_JOB, Gallery
from smoke import smoke_test
from store import ItemStore, PostgresItemStore, SqliteItemStore

from infrakit import Infra
from infrakit.config import ConfigReader, load_config
from infrakit.db import Database, DatabaseSettings
from infrakit.errors import AppError, ConfigurationError
from infrakit.jobs import JobQueue, SqliteJobStorage
from infrakit.log import get_logger
from infrakit.server import ServerConfig, ServerManager

HERE = Path(__file__).resolve().parent
DEV_SIGNING_KEY = "dev-only-gallery-signing-key-not-secret"  # the one in .env


class GallerySettings(BaseModel):
    """The `GALLERY_*` keys."""

    data_dir: Path = HERE / "data"
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    thumbnail_size: int = Field(default=320, ge=16, le=2000)


def build(config: ConfigReader) -> tuple[Infra, Gallery]:
    """The Infra (nothing opened yet) and the gallery working on it."""
    settings = config.load(GallerySettings, namespace="gallery")
    data = settings.data_dir.resolve()
    _refuse_dev_key_in_production(config)
    storage_url = config.get_str("STORAGE_URL", "") or f"file://{data / 'files'}"
    builder = Infra.builder().with_config(config).with_logging().with_storage(url=storage_url)
    store: ItemStore
    queue: JobQueue | None = None
    if config.get_str("DATABASE_URL", ""):  # items and jobs in PostgreSQL, on one pool
        database = Database(DatabaseSettings.from_config(config), logger=get_logger("app.db"))
        builder.with_database(database).with_migrations(HERE / "migrations")
        store = PostgresItemStore(database)
    else:  # SQLite files beside the uploads
        sqlite = SqliteItemStore(data / "gallery.sqlite3")
        builder.with_component(
            "store",
            sqlite,
            start=lambda s: s.open(),
            stop=lambda s: s.close(),
            health=lambda s: s.health(),
        )
        store = sqlite
        queue = JobQueue(SqliteJobStorage(data / "jobs.sqlite3"), logger=get_logger("app.jobs"))
    builder.with_cache().with_media().with_pubsub()
    # Jobs last: the worker starts once the store and the hub are open, and stops first.
    if queue is None:
        builder.with_jobs(backend="postgres", worker=True)
    else:
        builder.with_jobs(queue, worker=True)
    infra = builder.build()
    gallery = Gallery(
        infra,
        store,
        max_upload_bytes=settings.max_upload_bytes,
        thumbnail_size=settings.thumbnail_size,
    )
    infra.jobs.register_processor(THUMBNAIL_JOB, gallery.make_thumbnail, concurrency=2)
    return infra, gallery


async def main() -> int:
    """Serve until a signal; in smoke mode, test ourselves through HTTP and stop.

    `serve(app, infra=infra)` is `ServerManager(...).serve_forever()`; the manager is
    used here for what `serve()` keeps to itself: the bound port and `request_shutdown()`.
    """
    config = load_config(directory=HERE)
    infra, gallery = build(config)
    server_config = ServerConfig.from_config(config)
    manager = ServerManager(create_app(gallery), infra=infra, config=server_config)
    serving = asyncio.create_task(manager.serve_forever())
    while not manager.readiness.started:  # the banner is on stderr; this line is for you
        if serving.done():
            return await serving
        await asyncio.sleep(0.02)
    url = f"{manager.urls[0]}/"
    print(f"gallery: open {url}", flush=True)
    if not _smoke_mode(config):
        return await serving
    passed = await smoke_test(url)
    manager.request_shutdown()
    code = await serving
    return code if passed else 1


def _smoke_mode(config: ConfigReader) -> bool:
    """`DEMO_SMOKE` when set (`DEMO_SMOKE=0` serves even in CI), else whether `CI` is set."""
    if config.get_str("DEMO_SMOKE", ""):
        return config.get_bool("DEMO_SMOKE")
    return config.get_str("CI", "").lower() not in {"", "0", "false", "no"}


def _refuse_dev_key_in_production(config: ConfigReader) -> None:
    if config.env == "production" and DEV_SIGNING_KEY in config.get_str("STORAGE_SIGNING_KEY", ""):
        raise ConfigurationError(
            "STORAGE_SIGNING_KEY is the development key of .env; set a secret one in production",
            details={"key": "STORAGE_SIGNING_KEY"},
        )


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except AppError as error:  # a bad setting, a server that is down: one line, no traceback
        reasons = [error.message]
        if isinstance(error.__cause__, AppError):
            reasons.append(error.__cause__.message)
        print(f"gallery: cannot start: {': '.join(reasons)}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(1)
