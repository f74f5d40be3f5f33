"""The builder: the one place where modules are wired together.

Each module contributes one `with_*` method that appends a `Component`: how to create
it from the configuration, and how to start, stop and ping it. `Infra` starts the
components in the order they were added and stops them in reverse, so adding a module
means adding one method here and nothing else.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from infrakit._internal.blocking import drive
from infrakit.config import Config, ConfigReader, load_config
from infrakit.di import ComponentHealth, Container, create_container
from infrakit.errors import ConfigurationError, InitializationError
from infrakit.log import Logger, configure_logging, get_logger

if TYPE_CHECKING:
    from infrakit.cache import Cache
    from infrakit.db import Database, DatabaseSettings
    from infrakit.jobs import JobQueue
    from infrakit.media import MediaProcessor
    from infrakit.pubsub import PubSubService
    from infrakit.storage import StorageProvider

__all__ = ["Infra", "InfraBuilder"]


@dataclass(frozen=True, slots=True)
class Component:
    """A service the builder adds: created at build time, started and stopped by `Infra`."""

    name: str
    interface: type[Any]
    create: Callable[[ConfigReader, Logger], Any]
    start: Callable[[Any], Awaitable[object]] | None = None
    stop: Callable[[Any], Awaitable[object]] | None = None
    health: Callable[[Any], Awaitable[object]] | None = None


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

        kind = blocking.Database if sync else Database

        def create(config: ConfigReader, logger: Logger) -> Any:
            if database is not None:
                return database
            chosen = settings or DatabaseSettings.from_config(config)
            return kind(chosen, logger=logger.child("db"))

        return self._add(
            Component(
                "database",
                kind,
                create,
                start=lambda db: _settled(db.open()),
                stop=lambda db: _settled(db.close()),
                health=lambda db: _settled(db.health()),
            )
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
        database = self._components.get("database")
        if database is None:
            raise ConfigurationError(
                "with_migrations() needs with_database() before it",
                details={"component": "migrations"},
            )
        created: list[Database] = []

        def create_database(config: ConfigReader, logger: Logger) -> Database:
            created.append(database.create(config, logger))
            return created[-1]

        def create(config: ConfigReader, logger: Logger) -> _AppliedMigrations:
            return _AppliedMigrations(created[-1])  # the pool this same build() created

        async def start(applied: _AppliedMigrations) -> None:
            applied.extend(await applied.database.migrate(directory, table=table, schema=schema))

        self._components["database"] = replace(database, create=create_database)
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

        Args:
            cache: an instance to use as it is (the other options are then ignored,
                except `require`).
            url: overrides `CACHE_URL`.
            prefix: the Redis key prefix; overrides `CACHE_PREFIX`.
            require: fail at start when the cache is unreachable (`CACHE_REQUIRED=1`),
                instead of running on misses; the error names the cache and the masked URL.
            sync: build the blocking caches of `infrakit.cache.sync` (WSGI apps, scripts).
        """
        from infrakit.cache import Cache, cache_from_url
        from infrakit.cache import sync as blocking

        build_cache = blocking.cache_from_url if sync else cache_from_url

        settings: dict[str, bool] = {}

        def create(config: ConfigReader, logger: Logger) -> Any:
            settings["require"] = require if require is not None else _cache_required(config)
            if cache is not None:
                return cache
            chosen_url = url or config.get_str("CACHE_URL", "") or None
            chosen_prefix = prefix or config.get_str("CACHE_PREFIX", "") or None
            return build_cache(chosen_url, prefix=chosen_prefix, logger=logger.child("cache"))

        async def start(instance: Cache) -> None:
            await _start_cache(instance, require=settings.get("require", False))

        return self._add(
            Component(
                "cache",
                blocking.Cache if sync else Cache,
                create,
                start=start,
                stop=lambda cache: _settled(cache.close()),
                health=lambda cache: _settled(cache.health()),
            )
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
        from infrakit.storage import FsspecStorage, StorageProvider

        def create(config: ConfigReader, logger: Logger) -> StorageProvider:
            if storage is not None:
                return storage
            chosen_url = url or config.get_str("STORAGE_URL", "") or "file://./data"
            keys = signing_keys or _storage_signing_keys(config)
            return FsspecStorage(chosen_url, signing_keys=keys, logger=logger.child("storage"))

        return self._add(
            Component(
                "storage",
                StorageProvider,
                create,
                stop=lambda storage: storage.close(),
                health=lambda storage: storage.health(),
            )
        )

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
        from infrakit.media import MediaLimits, MediaProcessor

        def create(config: ConfigReader, logger: Logger) -> MediaProcessor:
            if processor is not None:
                return processor
            defaults = MediaLimits()
            limits = MediaLimits(
                max_pixels=config.get_int("MEDIA_MAX_PIXELS", defaults.max_pixels),
                timeout=config.get_float("MEDIA_TIMEOUT", defaults.timeout),
            )
            return MediaProcessor(
                limits=limits,
                max_workers=config.get_int("MEDIA_MAX_WORKERS", None),
                max_queue=config.get_int("MEDIA_MAX_QUEUE", None),
                queue_timeout=config.get_float("MEDIA_QUEUE_TIMEOUT", 30.0),
                storage=storage,
                logger=logger.child("media"),
            )

        return self._add(
            Component(
                "media",
                MediaProcessor,
                create,
                stop=lambda media: media.close(),
                health=lambda media: media.health(),
            )
        )

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
        from infrakit.jobs import JobQueue

        owned: dict[str, Any] = {}

        def create(config: ConfigReader, logger: Logger) -> JobQueue:
            owned["worker"] = (
                worker if worker is not None else config.get_bool("JOBS_WORKER", False)
            )
            if queue is not None:
                return queue
            chosen = backend or config.get_str("JOBS_BACKEND", "sqlite")
            given = database if database is not None else _async_database(self._built)
            storage = _job_storage(chosen, config, logger, given, owned)
            return JobQueue(storage, logger=logger.child("jobs"))

        async def start(jobs: JobQueue) -> None:
            if "database" in owned:
                await owned["database"].open()
            await jobs.setup()
            if owned["worker"]:
                jobs.start_worker()

        async def stop(jobs: JobQueue) -> None:
            await jobs.close()
            if "database" in owned:
                await owned["database"].close()

        return self._add(Component("jobs", JobQueue, create, start=start, stop=stop))

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
        from infrakit.pubsub import PubSubService

        owned: dict[str, Any] = {}

        def create(config: ConfigReader, logger: Logger) -> PubSubService:
            owned["port"] = port if port is not None else config.get_int("PUBSUB_PORT", None)
            owned["host"] = config.get_str("PUBSUB_HOST", "127.0.0.1")
            if service is not None:
                return service
            chosen = backplane or config.get_str("PUBSUB_BACKPLANE", "memory")
            given = database if database is not None else _async_database(self._built)
            plane = _pubsub_backplane(chosen, config, logger, given, owned)
            return PubSubService(backplane=plane, logger=logger.child("pubsub"))

        async def start(hub: PubSubService) -> None:
            if "database" in owned:
                await owned["database"].open()
            await hub.start()
            if owned["port"] is not None:
                await hub.serve(owned["host"], owned["port"])

        async def stop(hub: PubSubService) -> None:
            await hub.close()
            if "database" in owned:
                await owned["database"].close()

        return self._add(
            Component(
                "pubsub",
                PubSubService,
                create,
                start=start,
                stop=stop,
                health=lambda hub: hub.health(),
            )
        )

    def with_component(
        self,
        name: str,
        instance: object,
        *,
        interface: type[Any] | None = None,
        start: Callable[[Any], Awaitable[object]] | None = None,
        stop: Callable[[Any], Awaitable[object]] | None = None,
        health: Callable[[Any], Awaitable[object]] | None = None,
    ) -> Self:
        """Put an application service in the lifecycle: started after what came before it.

        Args:
            name: the component's name in `health()` and `infra.component(name)`.
            instance: the service itself; registered in the container under `interface`
                (its own class by default).
            start, stop, health: coroutine functions called with the instance.
        """
        return self._add(
            Component(
                name,
                interface or type(instance),
                lambda config, logger: instance,
                start=start,
                stop=stop,
                health=health,
            )
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
            options = self._logging
            configure_logging(
                level=options["level"] or config.get_str("LOG_LEVEL", "INFO"),
                format=options["format"] or _log_format(config),
                levels=options["levels"] or {},
                loguru=options["loguru"],
            )
        return get_logger("app")


class Infra:
    """The composed infrastructure: an async context manager that starts and stops it.

    Components start in the order they were added and stop in reverse; a component
    that fails to start stops the ones already started and raises `InitializationError`.
    """

    def __init__(
        self,
        config: ConfigReader,
        logger: Logger,
        container: Container,
        components: list[Component],
        instances: dict[str, Any],
    ) -> None:
        self.config = config
        self.log = logger
        self.container = container
        self._components = components
        self._instances = instances
        self._started: list[Component] = []
        # One stop at a time: a signal handler and `__aexit__` may both call stop(), and
        # two interleaved stops would close components out of order.
        self._stopping = asyncio.Lock()

    @staticmethod
    def builder(env: str | None = None, *, directory: str | Path = ".") -> InfraBuilder:
        """Start composing: `Infra.builder(env="production").with_logging().build()`."""
        return InfraBuilder(env, directory=directory)

    @property
    def database(self) -> Database:
        """The `Database` added with `with_database()`."""
        return self.component("database")  # type: ignore[no-any-return]

    @property
    def cache(self) -> Cache:
        """The `Cache` added with `with_cache()`."""
        return self.component("cache")  # type: ignore[no-any-return]

    @property
    def storage(self) -> StorageProvider:
        """The `StorageProvider` added with `with_storage()`."""
        return self.component("storage")  # type: ignore[no-any-return]

    @property
    def jobs(self) -> JobQueue:
        """The `JobQueue` added with `with_jobs()`."""
        return self.component("jobs")  # type: ignore[no-any-return]

    @property
    def media(self) -> MediaProcessor:
        """The `MediaProcessor` added with `with_media()`."""
        return self.component("media")  # type: ignore[no-any-return]

    @property
    def pubsub(self) -> PubSubService:
        """The `PubSubService` added with `with_pubsub()`."""
        return self.component("pubsub")  # type: ignore[no-any-return]

    def component(self, name: str) -> Any:
        """The component added under `name`.

        Raises:
            InitializationError: nothing was added under that name.
        """
        try:
            return self._instances[name]
        except KeyError:
            raise InitializationError(
                f"no {name} was added to the builder; add it (with_{name}()) before build()",
                details={"component": name},
            ) from None

    async def start(self) -> None:
        """Open every component in order; on failure, close what was opened."""
        for component in self._components:
            instance = self._instances[component.name]
            try:
                if component.start is not None:
                    await component.start(instance)
            except Exception as error:
                await self.stop()
                raise InitializationError(
                    f"{component.name} failed to start", details={"component": component.name}
                ) from error
            self._started.append(component)
            self._register(component, instance)
        self.log.info("infrastructure started", components=[c.name for c in self._started])

    async def stop(self) -> None:
        """Close the started components in reverse order; one failure does not stop the rest.

        Logs one line, `infrastructure stopped`, naming what stopped, what failed to stop
        (each failure is also logged with its traceback) and how many resources the
        container closed. A concurrent call waits for the first; a later one does nothing.
        """
        async with self._stopping:
            if not self._started:
                await self.container.aclose()
                return
            stopped, failed = await self._stop_components()
            closed = self.container.get_stats().resources_to_close
            await self.container.aclose()
            self.log.info(
                "infrastructure stopped",
                components=stopped,
                failed=failed,
                resources_closed=closed,
            )

    async def _stop_components(self) -> tuple[list[str], list[str]]:
        stopped: list[str] = []
        failed: list[str] = []
        while self._started:
            component = self._started.pop()
            try:
                if component.stop is not None:
                    await component.stop(self._instances[component.name])
            except Exception:
                self.log.exception("component failed to stop", component=component.name)
                failed.append(component.name)
            else:
                stopped.append(component.name)
        return stopped, failed

    async def health(self) -> Mapping[str, ComponentHealth]:
        """Ping every started component (bounded by the container's health timeout)."""
        return await self.container.health()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    def start_sync(self) -> None:
        """`start()` for a WSGI app or a script whose components are blocking (`sync=True`).

        Raises:
            InitializationError: a component failed, or needs an event loop.
        """
        _drive(self.start())

    def stop_sync(self) -> None:
        """`stop()` without an event loop; see `start_sync()`."""
        _drive(self.stop())

    def __enter__(self) -> Self:
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_sync()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _register(self, component: Component, instance: Any) -> None:
        self.container.register(
            component.interface, instance=instance, health=component.health, name=component.name
        )


def _cache_required(config: ConfigReader) -> bool:
    """`CACHE_REQUIRED` (true/false, 1/0, yes/no, on/off): an unreachable cache fails start."""
    return config.get_bool("CACHE_REQUIRED", False)


async def _start_cache(cache: Any, *, require: bool) -> None:
    """Subscribe a tiered cache; with `require`, refuse to start on an unreachable one."""
    start = getattr(cache, "start", None)
    if start is not None:
        await _settled(start())
    if require and not await _settled(cache.health()):
        url = getattr(cache, "url", None) or "(a client passed in)"
        raise InitializationError(
            f"the cache at {url} is unreachable and CACHE_REQUIRED is set",
            details={"component": "cache", "url": url},
        )


async def _settled(outcome: Any) -> Any:
    """The result of a call to a component of either form (awaited when it is a coroutine)."""
    return await outcome if inspect.isawaitable(outcome) else outcome


def _drive(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run `start()` / `stop()` without an event loop: blocking components never suspend."""
    drive(coroutine, _needs_loop)


def _needs_loop() -> InitializationError:
    return InitializationError(
        "a component needs an event loop: use `async with infra` (or add it with sync=True)",
        details={"component": "*"},
    )


def _storage_signing_keys(config: ConfigReader) -> list[str] | None:
    """`STORAGE_SIGNING_KEY`: comma-separated HMAC keys, newest first; None when unset."""
    text = config.get_str("STORAGE_SIGNING_KEY", "")
    keys = [key.strip() for key in text.split(",") if key.strip()]
    return keys or None


def _log_format(config: ConfigReader) -> Literal["pretty", "json"]:
    """`LOG_FORMAT`, else JSON in production and pretty elsewhere."""
    environment = config.env
    chosen = config.get_str("LOG_FORMAT", "json" if environment == "production" else "pretty")
    if chosen == "json":
        return "json"
    if chosen == "pretty":
        return "pretty"
    raise ConfigurationError("LOG_FORMAT must be 'pretty' or 'json'", details={"key": "LOG_FORMAT"})


def _async_database(built: Mapping[str, Any]) -> Database | None:
    """The async pool `with_database()` created before, to share; None otherwise."""
    from infrakit.db import Database

    database = built.get("database")
    return database if isinstance(database, Database) else None


def _database_for(
    database: Database | None, config: ConfigReader, logger: Logger, owned: dict[str, Any]
) -> Database:
    """`database`, else a pool of its own from the `DATABASE_*` settings.

    A pool of its own goes in `owned`, so the component that asked opens and closes it.
    """
    from infrakit.db import Database, DatabaseSettings

    if database is not None:
        return database
    own = Database(DatabaseSettings.from_config(config), logger=logger.child("db"))
    owned["database"] = own
    return own


def _job_storage(
    backend: str,
    config: ConfigReader,
    logger: Logger,
    database: Database | None,
    owned: dict[str, Any],
) -> Any:
    """The store `JOBS_BACKEND` names; a PostgreSQL pool it opens itself goes in `owned`."""
    from infrakit.jobs import MemoryJobStorage, PostgresJobStorage, SqliteJobStorage

    if backend == "memory":
        return MemoryJobStorage()
    if backend == "sqlite":
        return SqliteJobStorage(config.get_str("JOBS_SQLITE_PATH", "data/jobs.sqlite3"))
    if backend == "postgres":
        database = _database_for(database, config, logger, owned)
        schema = config.get_str("JOBS_SCHEMA", "infrakit")
        return PostgresJobStorage(database, schema=schema, logger=logger.child("jobs"))
    raise ConfigurationError(
        "JOBS_BACKEND must be 'memory', 'sqlite' or 'postgres'", details={"key": "JOBS_BACKEND"}
    )


def _pubsub_backplane(
    backplane: str,
    config: ConfigReader,
    logger: Logger,
    database: Database | None,
    owned: dict[str, Any],
) -> Any:
    """The backplane `PUBSUB_BACKPLANE` names; a pool it opens itself goes in `owned`."""
    from infrakit.pubsub import MemoryBackplane

    if backplane == "memory":
        return MemoryBackplane()
    if backplane == "redis":
        from infrakit.pubsub.redis import RedisBackplane

        url = config.get_str("PUBSUB_REDIS_URL", "") or config.get_str("REDIS_URL", "")
        if not url:
            raise ConfigurationError(
                "PUBSUB_BACKPLANE=redis needs PUBSUB_REDIS_URL (or REDIS_URL)",
                details={"key": "PUBSUB_REDIS_URL"},
            )
        return RedisBackplane(url, logger=logger.child("pubsub"))
    if backplane == "postgres":
        database = _database_for(database, config, logger, owned)
        from infrakit.pubsub.postgres import PostgresBackplane

        return PostgresBackplane(database, logger=logger.child("pubsub"))
    raise ConfigurationError(
        "PUBSUB_BACKPLANE must be 'memory', 'redis' or 'postgres'",
        details={"key": "PUBSUB_BACKPLANE"},
    )
