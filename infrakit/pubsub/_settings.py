"""`PubSubSettings`: the `PUBSUB_*` keys, the backplane they pick and where the hub listens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from infrakit._internal.secrets import mask_dsn
from infrakit.errors import ConfigurationError

if TYPE_CHECKING:
    from infrakit.config import ConfigReader
    from infrakit.db import Queryable
    from infrakit.log import Logger
    from infrakit.pubsub._hub import PubSubService
    from infrakit.pubsub._protocol import Backplane

__all__ = ["PubSubSettings"]

BackplaneName = Literal["memory", "redis", "postgres"]
_BACKPLANES: tuple[BackplaneName, ...] = ("memory", "redis", "postgres")


@dataclass(frozen=True, slots=True)
class PubSubSettings:
    """Which backplane joins the hubs, and where `Infra` serves the hub.

    Attributes:
        backplane: `PUBSUB_BACKPLANE`: `memory` (the default, one process), `redis` or
            `postgres` (needs a database, `needs_database`).
        redis_url: `PUBSUB_REDIS_URL`, else `REDIS_URL`; required by `redis`. Masked in
            `repr`.
        port: `PUBSUB_PORT`; None does not serve (0 picks a free port).
        host: `PUBSUB_HOST` (`127.0.0.1`).
    """

    backplane: BackplaneName = "memory"
    redis_url: str | None = None
    port: int | None = None
    host: str = "127.0.0.1"

    def __repr__(self) -> str:
        url = None if self.redis_url is None else mask_dsn(self.redis_url)
        return (
            f"PubSubSettings(backplane={self.backplane!r}, redis_url={url!r}, "
            f"port={self.port!r}, host={self.host!r})"
        )

    @classmethod
    def from_config(
        cls,
        config: ConfigReader,
        *,
        backplane: BackplaneName | None = None,
        port: int | None = None,
    ) -> PubSubSettings:
        """Read the `PUBSUB_*` keys; an override that is not None wins over its key.

        Raises:
            ConfigurationError: an unknown `PUBSUB_BACKPLANE`, `redis` without a URL, or a
                `PUBSUB_PORT` that is not a port number; `details["key"]` names the key.
        """
        chosen = _backplane(backplane or config.get_str("PUBSUB_BACKPLANE", "memory"))
        redis_url = None
        if chosen == "redis":
            redis_url = config.get_str("PUBSUB_REDIS_URL", "") or config.get_str("REDIS_URL", "")
            if not redis_url:
                raise ConfigurationError(
                    "PUBSUB_BACKPLANE=redis needs PUBSUB_REDIS_URL (or REDIS_URL)",
                    details={"key": "PUBSUB_REDIS_URL"},
                )
        return cls(
            backplane=chosen,
            redis_url=redis_url,
            port=port if port is not None else _port(config),
            host=config.get_str("PUBSUB_HOST", "127.0.0.1"),
        )

    @property
    def needs_database(self) -> bool:
        """True when `create()` needs a `database` (the `postgres` backplane)."""
        return self.backplane == "postgres"

    def create(
        self, *, database: Queryable | None = None, logger: Logger | None = None
    ) -> PubSubService:
        """A `PubSubService` on the backplane `backplane` names; `database` serves `postgres`.

        Raises:
            ConfigurationError: `postgres` without a `database`.
            MissingDependencyError: `redis` or `postgres` without their extra.
        """
        from infrakit.pubsub._hub import PubSubService

        return PubSubService(backplane=self._backplane(database, logger), logger=logger)

    async def start(self, hub: PubSubService) -> None:
        """Start the hub, and serve it on `host`:`port` when a port is set."""
        await hub.start()
        if self.port is not None:
            await hub.serve(self.host, self.port)

    def _backplane(self, database: Queryable | None, logger: Logger | None) -> Backplane:
        if self.backplane == "memory":
            from infrakit.pubsub.memory import MemoryBackplane

            return MemoryBackplane()
        if self.backplane == "redis":
            from infrakit.pubsub.redis import RedisBackplane

            return RedisBackplane(self.redis_url or "", logger=logger)
        if database is None:
            raise ConfigurationError(
                "PUBSUB_BACKPLANE=postgres needs a database", details={"key": "PUBSUB_BACKPLANE"}
            )
        from infrakit.pubsub.postgres import PostgresBackplane

        return PostgresBackplane(database, logger=logger)


def _backplane(chosen: str) -> BackplaneName:
    for name in _BACKPLANES:
        if chosen == name:
            return name
    raise ConfigurationError(
        "PUBSUB_BACKPLANE must be 'memory', 'redis' or 'postgres'",
        details={"key": "PUBSUB_BACKPLANE"},
    )


def _port(config: ConfigReader) -> int | None:
    port = config.get_int("PUBSUB_PORT", None)
    if port is not None and not 0 <= port <= 65_535:
        raise ConfigurationError(
            "PUBSUB_PORT must be a port number, 0-65535", details={"key": "PUBSUB_PORT"}
        )
    return port
