"""Each module's `XSettings.from_config`: defaults, a bad key named (never its value), no DSN.

These settings are what the builder's `with_*` methods call; they are tested here without
a server, on a configuration built from a dict.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infrakit import Infra
from infrakit.cache import CacheSettings, MemoryCache
from infrakit.cache import sync as blocking_cache
from infrakit.config import Config, load_config
from infrakit.db import Database, DatabaseSettings, DatabaseUnavailableError
from infrakit.db import sync as blocking_db
from infrakit.errors import ConfigurationError, InitializationError
from infrakit.jobs import JobQueue, JobsSettings, MemoryJobStorage, SqliteJobStorage
from infrakit.log import LogSettings
from infrakit.media import MediaLimits, MediaProcessor, MediaSettings
from infrakit.pubsub import MemoryBackplane, PubSubService, PubSubSettings
from infrakit.storage import FsspecStorage, StorageSettings

PASSWORD = "hunter2-settings-pw"


def config_of(tmp_path: Path, env: str = "test", **environ: str) -> Config:
    return load_config(env, directory=tmp_path, environ=environ, secret_providers=())


def rejected(error: pytest.ExceptionInfo[ConfigurationError], key: str, value: str) -> None:
    """The error names `key` and repeats neither the value nor the password."""
    assert error.value.details["key"] == key
    shown = error.value.message + repr(error.value.details)
    assert value not in shown
    assert PASSWORD not in shown


# -- log ---------------------------------------------------------------------------------


def test_log_defaults_follow_the_environment(tmp_path: Path) -> None:
    assert LogSettings.from_config(config_of(tmp_path)) == LogSettings("INFO", "pretty", {})
    assert LogSettings.from_config(config_of(tmp_path, "production")).format == "json"
    chosen = config_of(tmp_path, LOG_LEVEL="debug", LOG_FORMAT="json")
    assert (LogSettings.from_config(chosen).level, LogSettings.from_config(chosen).format) == (
        "debug",
        "json",
    )


@pytest.mark.parametrize("key", ["LOG_LEVEL", "LOG_FORMAT"])
def test_a_bad_log_key_is_named(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        LogSettings.from_config(config_of(tmp_path, **{key: "loud-and-xml"}))
    rejected(caught, key, "loud-and-xml")


def test_log_arguments_win_and_their_keys_are_not_read(tmp_path: Path) -> None:
    config = config_of(tmp_path, LOG_LEVEL="nonsense", LOG_FORMAT="xml")
    settings = LogSettings.from_config(config, level="WARNING", format="json", loguru=True)
    assert settings == LogSettings("WARNING", "json", {}, loguru=True)


# -- db ----------------------------------------------------------------------------------


def test_database_settings_create_either_form(tmp_path: Path) -> None:
    url = f"postgresql://app:{PASSWORD}@127.0.0.1:1/app"
    settings = DatabaseSettings.from_config(config_of(tmp_path, DATABASE_URL=url))
    assert (settings.pool_min_size, settings.pool_max_size) == (1, 10)
    database = settings.create()
    assert type(database) is Database
    assert database.settings == settings
    assert type(settings.create(sync=True)) is blocking_db.Database
    assert PASSWORD not in repr(settings) + repr(database)


def test_a_bad_database_key_is_named_without_the_dsn(tmp_path: Path) -> None:
    url = f"postgresql://app:{PASSWORD}@127.0.0.1/app"
    config = config_of(tmp_path, DATABASE_URL=url, DATABASE_POOL_MAX_SIZE="plenty")
    with pytest.raises(ConfigurationError) as caught:
        DatabaseSettings.from_config(config)
    assert [error["key"] for error in caught.value.details["errors"]] == ["DATABASE_POOL_MAX_SIZE"]
    assert "plenty" not in caught.value.message
    assert PASSWORD not in caught.value.message + repr(caught.value.details)


# -- cache -------------------------------------------------------------------------------


def test_cache_defaults_to_memory(tmp_path: Path) -> None:
    settings = CacheSettings.from_config(config_of(tmp_path))
    assert settings == CacheSettings(url=None, prefix=None, require=False)
    assert isinstance(settings.create(), MemoryCache)
    assert isinstance(settings.create(sync=True), blocking_cache.MemoryCache)


def test_cache_keys_and_arguments(tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:1/0"
    config = config_of(tmp_path, CACHE_URL=url, CACHE_PREFIX="env:", CACHE_REQUIRED="yes")
    read = CacheSettings.from_config(config)
    assert (read.url, read.prefix, read.require) == (url, "env:", True)
    given = CacheSettings.from_config(config, url="memory://", prefix="arg:", require=False)
    assert (given.url, given.prefix, given.require) == ("memory://", "arg:", False)
    assert PASSWORD not in repr(read)
    assert "redis://:***@127.0.0.1:1/0" in repr(read)


def test_a_bad_cache_required_is_named(tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:1/0"
    with pytest.raises(ConfigurationError) as caught:
        CacheSettings.from_config(config_of(tmp_path, CACHE_URL=url, CACHE_REQUIRED="often"))
    rejected(caught, "CACHE_REQUIRED", "often")


def test_a_bad_cache_url_fails_create_without_the_password(tmp_path: Path) -> None:
    settings = CacheSettings.from_config(
        config_of(tmp_path, CACHE_URL=f"ftp://user:{PASSWORD}@host/0")
    )
    with pytest.raises(ConfigurationError, match="CACHE_URL") as caught:
        settings.create()
    assert PASSWORD not in caught.value.message + repr(caught.value.details)


# -- storage -----------------------------------------------------------------------------


async def test_storage_defaults_and_keys(tmp_path: Path) -> None:
    assert StorageSettings.from_config(config_of(tmp_path)) == StorageSettings(
        "file://./data", None
    )
    keys = f"{PASSWORD}-new-0123456789, {PASSWORD}-old-0123456789"
    config = config_of(tmp_path, STORAGE_URL="memory://", STORAGE_SIGNING_KEY=keys)
    settings = StorageSettings.from_config(config)
    assert settings.url == "memory://"
    assert settings.signing_keys == (f"{PASSWORD}-new-0123456789", f"{PASSWORD}-old-0123456789")
    assert PASSWORD not in repr(settings)
    storage = settings.create()
    assert isinstance(storage, FsspecStorage)
    await storage.save_file("a.txt", b"1")
    url = await storage.get_file_url("a.txt")
    verifier = FsspecStorage("memory://", signing_keys=[f"{PASSWORD}-new-0123456789"])
    assert verifier.verify_signed_url(url) == "a.txt"
    await storage.close()


def test_storage_arguments_win(tmp_path: Path) -> None:
    config = config_of(tmp_path, STORAGE_URL="ftp://nowhere", STORAGE_SIGNING_KEY="k" * 20)
    settings = StorageSettings.from_config(config, url="memory://", signing_keys=["s" * 20])
    assert settings == StorageSettings("memory://", ("s" * 20,))


def test_a_bad_storage_url_is_named_without_its_password(tmp_path: Path) -> None:
    config = config_of(tmp_path, STORAGE_URL=f"ftp://user:{PASSWORD}@host/files")
    with pytest.raises(ConfigurationError) as caught:
        StorageSettings.from_config(config)
    rejected(caught, "STORAGE_URL", "ftp://")


# -- media -------------------------------------------------------------------------------


async def test_media_defaults_and_keys(tmp_path: Path) -> None:
    assert MediaSettings.from_config(config_of(tmp_path)) == MediaSettings()
    environ = {
        "MEDIA_MAX_WORKERS": "1",
        "MEDIA_MAX_QUEUE": "0",
        "MEDIA_QUEUE_TIMEOUT": "2.5",
        "MEDIA_MAX_PIXELS": "1000",
        "MEDIA_TIMEOUT": "9",
    }
    settings = MediaSettings.from_config(config_of(tmp_path, **environ))
    assert settings == MediaSettings(MediaLimits(max_pixels=1000, timeout=9.0), 1, 0, 2.5)
    media = settings.create()
    try:
        assert isinstance(media, MediaProcessor)
        assert media.limits == settings.limits
        assert "max_workers=1, max_queue=0" in repr(media)
    finally:
        await media.close()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MEDIA_MAX_WORKERS", "0"),
        ("MEDIA_MAX_WORKERS", "several"),
        ("MEDIA_MAX_QUEUE", "-1"),
        ("MEDIA_QUEUE_TIMEOUT", "-5"),
        ("MEDIA_MAX_PIXELS", "-7"),
        ("MEDIA_TIMEOUT", "nan"),
    ],
)
def test_a_bad_media_key_is_named(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        MediaSettings.from_config(config_of(tmp_path, **{key: value}))
    assert caught.value.details["key"] == key
    assert f"={value}" not in caught.value.message
    assert f"'{value}'" not in caught.value.message


# -- jobs --------------------------------------------------------------------------------


async def test_jobs_defaults_and_stores(tmp_path: Path) -> None:
    settings = JobsSettings.from_config(config_of(tmp_path))
    assert settings == JobsSettings("sqlite", "data/jobs.sqlite3", "infrakit", worker=False)
    assert not settings.needs_database
    path = str(tmp_path / "jobs.sqlite3")
    config = config_of(tmp_path, JOBS_SQLITE_PATH=path, JOBS_SCHEMA="mine", JOBS_WORKER="on")
    read = JobsSettings.from_config(config)
    assert (read.sqlite_path, read.schema, read.worker) == (path, "mine", True)
    queue = read.create()
    assert isinstance(queue, JobQueue)
    assert isinstance(queue.storage, SqliteJobStorage)
    memory = JobsSettings.from_config(config, backend="memory", worker=False).create()
    assert isinstance(memory.storage, MemoryJobStorage)
    await memory.close()


@pytest.mark.parametrize(("key", "value"), [("JOBS_BACKEND", "kafka"), ("JOBS_WORKER", "often")])
def test_a_bad_jobs_key_is_named(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        JobsSettings.from_config(config_of(tmp_path, **{key: value}))
    rejected(caught, key, value)


def test_postgres_jobs_need_a_database(tmp_path: Path) -> None:
    settings = JobsSettings.from_config(config_of(tmp_path, JOBS_BACKEND="postgres"))
    assert settings.needs_database
    with pytest.raises(ConfigurationError) as caught:
        settings.create()
    assert caught.value.details["key"] == "JOBS_BACKEND"
    database = Database(f"postgresql://app:{PASSWORD}@127.0.0.1:1/app")
    storage = settings.create(database=database).storage
    assert storage.database is database  # type: ignore[attr-defined]


# -- pubsub ------------------------------------------------------------------------------


def test_pubsub_defaults(tmp_path: Path) -> None:
    settings = PubSubSettings.from_config(config_of(tmp_path))
    assert settings == PubSubSettings("memory", None, None, "127.0.0.1")
    assert not settings.needs_database
    hub = settings.create()
    assert isinstance(hub, PubSubService)
    assert isinstance(hub.backplane, MemoryBackplane)


def test_pubsub_keys_and_the_redis_url_fallback(tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:1/0"
    environ = {"PUBSUB_BACKPLANE": "redis", "REDIS_URL": url, "PUBSUB_PORT": "0"}
    settings = PubSubSettings.from_config(config_of(tmp_path, PUBSUB_HOST="0.0.0.0", **environ))
    assert settings == PubSubSettings("redis", url, 0, "0.0.0.0")
    assert PASSWORD not in repr(settings)
    chosen = PubSubSettings.from_config(config_of(tmp_path, **environ), backplane="memory", port=9)
    assert (chosen.backplane, chosen.redis_url, chosen.port) == ("memory", None, 9)


@pytest.mark.parametrize(
    ("environ", "key", "value"),
    [
        ({"PUBSUB_BACKPLANE": "kafka"}, "PUBSUB_BACKPLANE", "kafka"),
        ({"PUBSUB_BACKPLANE": "redis"}, "PUBSUB_REDIS_URL", "redis://"),
        ({"PUBSUB_PORT": "70000"}, "PUBSUB_PORT", "70000"),
        ({"PUBSUB_PORT": "eighty"}, "PUBSUB_PORT", "eighty"),
    ],
)
def test_a_bad_pubsub_key_is_named(
    tmp_path: Path, environ: dict[str, str], key: str, value: str
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:1/0"
    with pytest.raises(ConfigurationError) as caught:
        PubSubSettings.from_config(config_of(tmp_path, DATABASE_URL=url, **environ))
    rejected(caught, key, value)


def test_postgres_pubsub_needs_a_database(tmp_path: Path) -> None:
    settings = PubSubSettings.from_config(config_of(tmp_path, PUBSUB_BACKPLANE="postgres"))
    assert settings.needs_database
    with pytest.raises(ConfigurationError) as caught:
        settings.create()
    assert caught.value.details["key"] == "PUBSUB_BACKPLANE"


# -- the builder, given instances --------------------------------------------------------


def test_an_instance_given_leaves_its_store_keys_unread(tmp_path: Path) -> None:
    """As before: with a queue or a hub given, JOBS_BACKEND and PUBSUB_BACKPLANE are unused."""
    config = config_of(tmp_path, JOBS_BACKEND="kafka", PUBSUB_BACKPLANE="redis")
    queue = JobQueue(MemoryJobStorage())
    hub = PubSubService()
    infra = Infra.builder().with_config(config).with_jobs(queue).with_pubsub(hub).build()
    assert infra.jobs is queue
    assert infra.pubsub is hub


@pytest.mark.postgres
async def test_a_pool_of_its_own_is_closed_when_the_start_fails(
    tmp_path: Path, database_url: str
) -> None:
    """Infra stops only what started, so the component closes its own pool itself."""
    environ = {"JOBS_BACKEND": "postgres", "DATABASE_URL": database_url, "JOBS_SCHEMA": "pg_x"}
    infra = Infra.builder().with_config(config_of(tmp_path, **environ)).with_jobs().build()
    with pytest.raises(InitializationError, match="jobs failed to start"):
        async with infra:
            pytest.fail("the body must not run")
    own = infra.jobs.storage.database  # type: ignore[attr-defined]
    with pytest.raises(DatabaseUnavailableError, match="not open"):
        await own.fetch_value("SELECT 1")
