"""`LogSettings`: the `LOG_*` keys, read and checked before the pipeline is swapped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from infrakit.errors import ConfigurationError
from infrakit.log._configure import configure_logging
from infrakit.log._entry import LEVEL_NUMBERS

if TYPE_CHECKING:
    from infrakit.config import ConfigReader

__all__ = ["LogSettings"]


@dataclass(frozen=True, slots=True)
class LogSettings:
    """How `configure_logging` is called, from `LOG_LEVEL` and `LOG_FORMAT`.

    Attributes:
        level: the minimum level (`LOG_LEVEL`, default `INFO`).
        format: `LOG_FORMAT`; JSON in production and pretty elsewhere by default.
        levels: minimum level per logger name prefix (no key; an override only).
        loguru: route loguru's global `logger` through the pipeline too.
    """

    level: str = "INFO"
    format: Literal["pretty", "json"] = "pretty"
    levels: Mapping[str, str] = field(default_factory=dict)
    loguru: bool = False

    @classmethod
    def from_config(
        cls,
        config: ConfigReader,
        *,
        level: str | None = None,
        format: Literal["pretty", "json"] | None = None,
        levels: Mapping[str, str] | None = None,
        loguru: bool = False,
    ) -> LogSettings:
        """Read `LOG_LEVEL` and `LOG_FORMAT`; an override that is not None wins.

        Raises:
            ConfigurationError: an unknown level or format; `details["key"]` names the key.
        """
        return cls(level or _log_level(config), format or _log_format(config), levels or {}, loguru)

    def configure(self) -> None:
        """Apply these settings to the process-wide pipeline (`configure_logging`)."""
        configure_logging(
            level=self.level, format=self.format, levels=self.levels, loguru=self.loguru
        )


def _log_level(config: ConfigReader) -> str:
    """`LOG_LEVEL` (default `INFO`), checked here so the error names the key."""
    chosen = config.get_str("LOG_LEVEL", "INFO")
    if chosen.upper() not in LEVEL_NUMBERS:
        known = ", ".join(sorted(LEVEL_NUMBERS))
        raise ConfigurationError(f"LOG_LEVEL must be one of {known}", details={"key": "LOG_LEVEL"})
    return chosen


def _log_format(config: ConfigReader) -> Literal["pretty", "json"]:
    """`LOG_FORMAT`, else JSON in production and pretty elsewhere."""
    default = "json" if config.env == "production" else "pretty"
    chosen = config.get_str("LOG_FORMAT", default)
    if chosen == "json":
        return "json"
    if chosen == "pretty":
        return "pretty"
    raise ConfigurationError("LOG_FORMAT must be 'pretty' or 'json'", details={"key": "LOG_FORMAT"})
