"""Connection settings, loadable from the `database` configuration namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from infrakit._internal.secrets import mask_dsn

if TYPE_CHECKING:
    from infrakit.config import ConfigReader
    from infrakit.db._blocking import Database as BlockingDatabase
    from infrakit.db._database import Database
    from infrakit.log import Logger

__all__ = ["DatabaseSettings"]


class DatabaseSettings(BaseModel):
    """Everything `Database` needs; the URL is a `SecretStr` so it never shows in `repr`.

    Loaded with `DatabaseSettings.from_config(config)`: the field `pool_max_size`
    reads `DATABASE_POOL_MAX_SIZE`, `url` reads `DATABASE_URL`, and so on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: SecretStr
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    acquire_timeout: float = Field(default=5.0, gt=0)
    statement_timeout: float | None = Field(default=None, gt=0)
    slow_query_threshold: float = Field(default=1.0, gt=0)
    application_name: str = "infrakit"

    @classmethod
    def from_config(cls, config: ConfigReader) -> DatabaseSettings:
        """Read the `DATABASE_*` keys; a missing or bad key raises `ConfigurationError`."""
        return config.load(cls, namespace="database")

    @overload
    def create(self, *, logger: Logger | None = None, sync: Literal[False] = False) -> Database: ...
    @overload
    def create(self, *, logger: Logger | None = None, sync: Literal[True]) -> BlockingDatabase: ...
    @overload
    def create(
        self, *, logger: Logger | None = None, sync: bool
    ) -> Database | BlockingDatabase: ...

    def create(
        self, *, logger: Logger | None = None, sync: bool = False
    ) -> Database | BlockingDatabase:
        """A `Database` on these settings (not opened); `sync=True` gives `db.sync`'s."""
        if sync:
            from infrakit.db._blocking import Database as BlockingDatabase

            return BlockingDatabase(self, logger=logger)
        from infrakit.db._database import Database

        return Database(self, logger=logger)

    @property
    def redacted_url(self) -> str:
        """The URL with every password form masked (`mask_dsn`), safe for logs and messages."""
        return mask_dsn(self.url.get_secret_value())
