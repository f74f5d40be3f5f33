"""The start-up banner: name, environment, bound URLs, services and their health, pid."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["status_lines", "write_status"]

_BOLD, _GREEN, _RED, _RESET = "\033[1m", "\033[32m", "\033[31m", "\033[0m"


def status_lines(
    *,
    name: str,
    environment: str,
    urls: list[str],
    health: Mapping[str, Mapping[str, Any]],
    color: bool,
) -> list[str]:
    """The banner as lines; ANSI colours only when `color`."""
    title = f"{_BOLD}{name}{_RESET}" if color else name
    lines = [f"{title} ({environment}) pid {os.getpid()}"]
    lines += [f"  listening on {url}" for url in urls]
    for service, entry in sorted(health.items()):
        healthy = bool(entry.get("healthy"))
        word = "healthy" if healthy else "UNHEALTHY"
        if color:
            word = f"{_GREEN if healthy else _RED}{word}{_RESET}"
        lines.append(f"  {service}: {word}")
    if not health:
        lines.append("  services: none")
    return lines


def write_status(stream: TextIO, lines: list[str]) -> None:
    stream.write("\n".join(lines) + "\n")
    stream.flush()
