"""Server settings, loadable from the `server` configuration namespace (`SERVER_*`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from infrakit.config import ConfigReader

__all__ = ["ServerConfig"]


class ServerConfig(BaseModel):
    """Where to listen and how to stop; every field reads `SERVER_<FIELD>` through `from_config`.

    The defaults fit a Kubernetes pod with the default 30 s grace period: readiness
    fails at once on SIGTERM, the listener keeps accepting for `drain_delay` seconds
    (while the endpoints controller removes the pod), and everything, in-flight
    requests and closing the infrastructure included, ends within `shutdown_timeout`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    # CGI's names, which hosting platforms (App Engine, gunicorn) put in the environment.
    config_foreign_keys: ClassVar[frozenset[str]] = frozenset(
        {
            "SERVER_SOFTWARE",
            "SERVER_NAME",
            "SERVER_PROTOCOL",
            "SERVER_ADDR",
            "SERVER_ADMIN",
            "SERVER_SIGNATURE",
        }
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    port_range: int = Field(default=10, ge=0, le=1000)
    drain_delay: float = Field(default=5.0, ge=0)
    shutdown_timeout: float = Field(default=25.0, gt=0)
    name: str = "infrakit"
    websocket_path: str = "/ws"
    files_path: str = "/files"
    metrics: bool = True
    access_log: bool = True
    debug: bool = False
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "warning"
    backlog: int = Field(default=2048, ge=1)

    @model_validator(mode="after")
    def _drain_inside_deadline(self) -> ServerConfig:
        if self.drain_delay >= self.shutdown_timeout:
            raise ValueError("drain_delay must be shorter than shutdown_timeout")
        if not self.websocket_path.startswith("/"):
            raise ValueError("websocket_path must start with '/'")
        if self.files_path and not (self.files_path.startswith("/") and self.files_path.strip("/")):
            raise ValueError("files_path must be '' (off) or a path below '/'")
        return self

    @classmethod
    def from_config(cls, config: ConfigReader) -> ServerConfig:
        """Read the `SERVER_*` keys; a missing or bad key raises `ConfigurationError`."""
        return config.load(cls, namespace="server")
