"""Connection settings, loadable from the `database` configuration namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from infrakit._internal.secrets import mask_dsn

if TYPE_CHECKING:
    from infrakit.config import ConfigReader

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

    @property
    def redacted_url(self) -> str:
        """The URL with every password form masked (`mask_dsn`), safe for logs and messages."""
        return mask_dsn(self.url.get_secret_value())
