"""The builder: the one place where modules are wired together.

Each module reads, checks and builds its own component from the configuration
(`<Module>Settings.from_config(config, ...)`, then `settings.create(...)`); a `with_*`
here only passes one module's component to another (the jobs store on the database
pool, media on storage) and appends a `Component`. `Infra` (`infrakit._infra`) starts
the components in the order they were added and stops them in reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from infrakit._infra import Component, Hook, Infra, settled
from infrakit.config import Config, ConfigReader, load_config
from infrakit.di import create_container
from infrakit.errors import ConfigurationError
from infrakit.log import Logger, LogSettings, get_logger

if TYPE_CHECKING:
    from infrakit.cache import Cache
    from infrakit.db import Database, DatabaseSettings
    from infrakit.jobs import JobQueue
    from infrakit.media import MediaProcessor
    from infrakit.pubsub import PubSubService
    from infrakit.storage import StorageProvider

__all__ = ["InfraBuilder"]


@dataclass
class _Wiring:
    """What a component's `create` decided, for its start and stop.

    `settings` say how it starts (`settings.start(instance)`); `database` is a pool of
    its own (no `with_database()` to share), opened before it and closed after it.
    """

    settings: Any = None
    database: Database | None = None

    async def start(self, instance: Any) -> None:
        if self.database is not None:
            await self.database.open()
        try:
            await self.settings.start(instance)
        except BaseException:
            await self._close_database()  # Infra stops only what started
            raise

    async def stop(self, instance: Any) -> None:
        await settled(instance.close())
        await self._close_database()

    async def _close_database(self) -> None:
        if self.database is not None:
            await self.database.close()


class _AppliedMigrations(list[str]):
    """The `migrations` component: the files its start applied, and the database it used."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database


class InfraBuilder:
    """Collects configuration, logging and components; `build()` returns an `Infra`."""

    def __init__(self, env: str | None = None, *, directory: str | Path = ".") -> None:
        self._env = env
        self._directory = Path(directory)
        self._config: ConfigReader | None = None
        self._logging: dict[str, Any] | None = None
        self._components: dict[str, Component] = {}
        self._built: dict[str, Any] = {}

    def with_config(self, config: ConfigReader | None = None) -> Self:
        """Use `config`, or load the cascade for the builder's env and directory."""
        self._config = config if config is not None else self._load_config()
        return self

    def with_logging(
        self,
        level: str | None = None,
        *,
        format: Literal["pretty", "json"] | None = None,
        levels: Mapping[str, str] | None = None,
        loguru: bool = False,
    ) -> Self:
        """Configure logging; unset options come from `LOG_LEVEL`, `LOG_FORMAT`.

        The format defaults to JSON in production and pretty elsewhere. `loguru=True`
        routes loguru's global `logger` through the same pipeline (`intercept_loguru`).
        """
        self._logging = {"level": level, "format": format, "levels": levels, "loguru": loguru}
        return self

    def with_database(
        self,
        database: Database | None = None,
        *,
        settings: DatabaseSettings | None = None,
        sync: bool = False,
    ) -> Self:
        """Add a PostgreSQL `Database` (the `postgres` extra), from `DATABASE_*` by default.

        `sync=True` adds `infrakit.db.sync.Database` instead (for WSGI apps and scripts,
        started with `infra.start_sync()` or `with infra:`).
        """
        from infrakit.db import Database, DatabaseSettings
        from infrakit.db import sync as blocking

        def create(config: ConfigReader, logger: Logger) -> Any:
            if database is not None:
                return database
            chosen = settings or DatabaseSettings.from_config(config)
            return chosen.create(logger=logger.child("db"), sync=sync)

        kind = blocking.Database if sync else Database
        return self._add(
            Component.service("database", kind, create, start=lambda db: settled(db.open()))
        )

    def with_migrations(
        self,
        directory: str | Path,
        *,
        table: str = "infrakit_migrations",
        schema: str | None = None,
    ) -> Self:
        """Apply the pending migrations of `directory` at start, once the database is open.

        Runs as its own component right after `with_database()`'s, under the migrations'
        advisory lock, so instances starting together apply each file once; a failing
        or changed file fails the start (`InitializationError`). `infra.component(
        "migrations")` is the list of files this start applied.

        Raises:
            ConfigurationError: `with_database()` was not added before.
        """
        if "database" not in self._components:
            raise ConfigurationError(
                "with_migrations() needs with_database() before it",
                details={"component": "migrations"},
            )

        def create(config: ConfigReader, logger: Logger) -> _AppliedMigrations:
            return _AppliedMigrations(self._built["database"])  # created just before it

        async def start(applied: _AppliedMigrations) -> None:
            applied.extend(await applied.database.migrate(directory, table=table, schema=schema))

        return self._add(Component("migrations", _AppliedMigrations, create, start=start))

    def with_cache(
        self,
        cache: Cache | None = None,
        *,
        url: str | None = None,
        prefix: str | None = None,
        require: bool | None = None,
        sync: bool = False,
    ) -> Self:
        """Add a cache: in memory, or Redis when `CACHE_URL` (or `url`) is `redis://...`.

        `prefix` overrides `CACHE_PREFIX`; `require` (or `CACHE_REQUIRED=1`) fails the
        start when the cache is unreachable instead of running on misses, and still
        applies to a `cache` given (whose other options are its own). `sync=True`
        builds the blocking caches of `infrakit.cache.sync` (WSGI apps, scripts).
        """
        from infrakit.cache import Cache, CacheSettings
        from infrakit.cache import sync as blocking

        wiring = _Wiring()

        def create(config: ConfigReader, logger: Logger) -> Any:
            wiring.settings = CacheSettings.from_config(
                config, url=url, prefix=prefix, require=require
            )
            if cache is not None:
                return cache
            return wiring.settings.create(logger=logger.child("cache"), sync=sync)

        return self._add(
            Component.service("cache", blocking.Cache if sync else Cache, create, wiring.start)
        )

    def with_storage(
        self,
        storage: StorageProvider | None = None,
        *,
        url: str | None = None,
        signing_keys: list[str] | None = None,
    ) -> Self:
        """Add file storage: `STORAGE_URL` (or `url`), `file://./data` by default.

        `memory://` and `s3://bucket/prefix` (the `s3` extra) work too. Signed local
        URLs use `signing_keys`, else `STORAGE_SIGNING_KEY` (one key, or several
        comma-separated, newest first), else a random key of this process.
        """
        from infrakit.storage import StorageProvider, StorageSettings

        def create(config: ConfigReader, logger: Logger) -> StorageProvider:
            if storage is not None:
                return storage
            chosen = StorageSettings.from_config(config, url=url, signing_keys=signing_keys)
            return chosen.create(logger=logger.child("storage"))

        return self._add(Component.service("storage", StorageProvider, create))

    def with_media(
        self,
        processor: MediaProcessor | None = None,
        *,
        storage: StorageProvider | None = None,
    ) -> Self:
        """Add a `MediaProcessor` (the `media` extra), sized from the configuration.

        `MEDIA_MAX_WORKERS`, `MEDIA_MAX_QUEUE`, `MEDIA_QUEUE_TIMEOUT` (seconds),
        `MEDIA_MAX_PIXELS` and `MEDIA_TIMEOUT` (seconds per operation) override the
        defaults. Given `storage`, `str` sources and targets are keys in it.
        """
        from infrakit.media import MediaProcessor, MediaSettings

        def create(config: ConfigReader, logger: Logger) -> MediaProcessor:
            if processor is not None:
                return processor
            chosen = MediaSettings.from_config(config)
            return chosen.create(storage=storage, logger=logger.child("media"))

        return self._add(Component.service("media", MediaProcessor, create))

    def with_jobs(
        self,
        queue: JobQueue | None = None,
        *,
        backend: Literal["memory", "sqlite", "postgres"] | None = None,
        database: Database | None = None,
        worker: bool | None = None,
    ) -> Self:
        """Add a `JobQueue`: `JOBS_BACKEND` (or `backend`) picks its store.

        `sqlite` (the default) keeps jobs at `JOBS_SQLITE_PATH` (`data/jobs.sqlite3`);
        `postgres` puts them in schema `JOBS_SCHEMA` (`infrakit`) through `database`,
        else the pool of a `with_database()` added before, else a pool of its own from
        the `DATABASE_*` settings; `memory` is for tests.
        With `worker=True` (or `JOBS_WORKER=true`) Infra also runs a worker for the
        processors registered before it starts, and stops it (bounded) on close.
        """
        from infrakit.jobs import JobQueue, JobsSettings

        wiring = _Wiring()

        def create(config: ConfigReader, logger: Logger) -> JobQueue:
            chosen = "memory" if queue is not None else backend  # JOBS_BACKEND unread then
            wiring.settings = JobsSettings.from_config(config, backend=chosen, worker=worker)
            return (
                queue
                if queue is not None
                else self._on_pool(wiring, database, config, logger, "jobs")
            )

        return self._add(Component("jobs", JobQueue, create, start=wiring.start, stop=wiring.stop))

    def with_pubsub(
        self,
        service: PubSubService | None = None,
        *,
        backplane: Literal["memory", "redis", "postgres"] | None = None,
        database: Database | None = None,
        port: int | None = None,
    ) -> Self:
        """Add a `PubSubService`: `PUBSUB_BACKPLANE` (or `backplane`) picks its backplane.

        `memory` (the default) serves one process; `redis` uses `PUBSUB_REDIS_URL`
        (else `REDIS_URL`); `postgres` uses `database`, else the pool of a
        `with_database()` added before, else a pool of its own from the `DATABASE_*`
        settings. With `port` (or `PUBSUB_PORT`) Infra also serves it on
        `PUBSUB_HOST` (`127.0.0.1`) when it starts; it closes it (bounded) on close.
        """
        from infrakit.pubsub import PubSubService, PubSubSettings

        wiring = _Wiring()

        def create(config: ConfigReader, logger: Logger) -> Any:
            chosen = "memory" if service is not None else backplane  # the keys unread then
            wiring.settings = PubSubSettings.from_config(config, backplane=chosen, port=port)
            if service is not None:
                return service
            return self._on_pool(wiring, database, config, logger, "pubsub")

        return self._add(
            Component.service("pubsub", PubSubService, create, wiring.start, wiring.stop)
        )

    def with_component(
        self,
        name: str,
        instance: object,
        *,
        interface: type[Any] | None = None,
        start: Hook | None = None,
        stop: Hook | None = None,
        health: Hook | None = None,
    ) -> Self:
        """Put an application service in the lifecycle: started after what came before it.

        Args:
            name: the component's name in `health()` and `infra.component(name)`.
            instance: the service itself; registered in the container under `interface`
                (its own class by default).
            start, stop, health: coroutine functions called with the instance.
        """
        kind = interface or type(instance)
        return self._add(
            Component(name, kind, lambda config, logger: instance, start, stop, health)
        )

    def build(self) -> Infra:
        """Create every component; nothing is opened until `async with infra`."""
        config = self._config if self._config is not None else self._load_config()
        logger = self._configure_logging(config)
        container = create_container(logger=logger.child("di"))
        container.register(ConfigReader, instance=config, name="config")
        container.register(Logger, instance=logger, name="log")
        # Filled in order, so a component's `create` can use one added before it (the
        # jobs store and the pub/sub backplane share `with_database()`'s pool).
        instances = self._built
        instances.clear()
        for name, component in self._components.items():
            instances[name] = component.create(config, logger)
        return Infra(config, logger, container, list(self._components.values()), dict(instances))

    def _add(self, component: Component) -> Self:
        self._components[component.name] = component
        return self

    def _load_config(self) -> Config:
        return load_config(self._env, directory=self._directory)

    def _configure_logging(self, config: ConfigReader) -> Logger:
        if self._logging is not None:
            LogSettings.from_config(config, **self._logging).configure()
        return get_logger("app")

    def _on_pool(
        self,
        wiring: _Wiring,
        given: Database | None,
        config: ConfigReader,
        logger: Logger,
        name: str,
    ) -> Any:
        """`wiring.settings.create()` on a pool: `given`, else `with_database()`'s async
        one, else (when the settings need one) a pool of its own, kept in `wiring`."""
        from infrakit.db import Database, DatabaseSettings

        shared = self._built.get("database")  # the async pool only: a sync one cannot serve
        database = given if given is not None else shared if isinstance(shared, Database) else None
        if database is None and wiring.settings.needs_database:
            settings = DatabaseSettings.from_config(config)
            database = wiring.database = settings.create(logger=logger.child("db"))
        return wiring.settings.create(database=database, logger=logger.child(name))
