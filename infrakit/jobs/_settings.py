"""`JobsSettings`: the `JOBS_*` keys, the store they pick and the queue on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from infrakit.errors import ConfigurationError

if TYPE_CHECKING:
    from infrakit.config import ConfigReader
    from infrakit.db import DatabaseProtocol
    from infrakit.jobs._protocol import JobStorage
    from infrakit.jobs._queue import JobQueue
    from infrakit.log import Logger

__all__ = ["JobsSettings"]

Backend = Literal["memory", "sqlite", "postgres"]
_BACKENDS: tuple[Backend, ...] = ("memory", "sqlite", "postgres")


@dataclass(frozen=True, slots=True)
class JobsSettings:
    """Where jobs are kept, and whether `Infra` runs a worker.

    Attributes:
        backend: `JOBS_BACKEND`: `sqlite` (the default, durable on one host), `memory`
            (tests) or `postgres` (several hosts; needs a database, `needs_database`).
        sqlite_path: `JOBS_SQLITE_PATH` (`data/jobs.sqlite3`).
        schema: `JOBS_SCHEMA`, the PostgreSQL schema of the tables (`infrakit`).
        worker: `JOBS_WORKER`: `Infra` also runs a worker while it runs.
    """

    backend: Backend = "sqlite"
    sqlite_path: str = "data/jobs.sqlite3"
    schema: str = "infrakit"
    worker: bool = False

    @classmethod
    def from_config(
        cls,
        config: ConfigReader,
        *,
        backend: Backend | None = None,
        worker: bool | None = None,
    ) -> JobsSettings:
        """Read the `JOBS_*` keys; an override that is not None wins over its key.

        Raises:
            ConfigurationError: an unknown `JOBS_BACKEND` or a `JOBS_WORKER` that is not
                a boolean; `details["key"]` names the key.
        """
        return cls(
            backend=_backend(backend or config.get_str("JOBS_BACKEND", "sqlite")),
            sqlite_path=config.get_str("JOBS_SQLITE_PATH", "data/jobs.sqlite3"),
            schema=config.get_str("JOBS_SCHEMA", "infrakit"),
            worker=worker if worker is not None else config.get_bool("JOBS_WORKER", False),
        )

    @property
    def needs_database(self) -> bool:
        """True when `create()` needs a `database` (the `postgres` backend)."""
        return self.backend == "postgres"

    def create(
        self, *, database: DatabaseProtocol | None = None, logger: Logger | None = None
    ) -> JobQueue:
        """A `JobQueue` on the store `backend` names; `database` serves `postgres`.

        Raises:
            ConfigurationError: `postgres` without a `database`, or a bad `JOBS_SCHEMA`.
        """
        from infrakit.jobs._queue import JobQueue

        return JobQueue(self._storage(database, logger), logger=logger)

    async def start(self, queue: JobQueue) -> None:
        """Set the store up, and start a worker for the registered processors if `worker`."""
        await queue.setup()
        if self.worker:
            queue.start_worker()

    def _storage(self, database: DatabaseProtocol | None, logger: Logger | None) -> JobStorage:
        if self.backend == "memory":
            from infrakit.jobs.memory import MemoryJobStorage

            return MemoryJobStorage()
        if self.backend == "sqlite":
            from infrakit.jobs.sqlite import SqliteJobStorage

            return SqliteJobStorage(self.sqlite_path)
        if database is None:
            raise ConfigurationError(
                "JOBS_BACKEND=postgres needs a database", details={"key": "JOBS_BACKEND"}
            )
        from infrakit.jobs.postgres import PostgresJobStorage

        return PostgresJobStorage(database, schema=self.schema, logger=logger)


def _backend(chosen: str) -> Backend:
    for backend in _BACKENDS:
        if chosen == backend:
            return backend
    raise ConfigurationError(
        "JOBS_BACKEND must be 'memory', 'sqlite' or 'postgres'", details={"key": "JOBS_BACKEND"}
    )
