"""The server's own errors."""

from __future__ import annotations

from infrakit.errors import AppError

__all__ = ["PortUnavailableError", "ServerError"]


class ServerError(AppError):
    """The server could not start or load its app (a bad `module:app`, a second start) (500)."""

    code = "SERVER_ERROR"
    default_message = "The server could not start."


class PortUnavailableError(ServerError):
    """No port could be bound on the host: the preferred one, its range and the OS all refused."""

    code = "SERVER_PORT_UNAVAILABLE"
    default_message = "No port could be bound."
