"""Port allocation: the preferred port, else the next free one in a range, else the OS's."""

from __future__ import annotations

import socket

from infrakit.server._errors import PortUnavailableError

__all__ = ["bind_socket", "find_available_port"]


async def find_available_port(
    preferred_port: int, *, host: str = "127.0.0.1", port_range: int = 10
) -> int:
    """The first port free on `host`: `preferred_port`, the next `port_range` ones, else the OS's.

    The answer is only a hint: another process may take the port before you bind it.
    `ServerManager` avoids that race by keeping the socket it probed with (`bind_socket`).

    Args:
        preferred_port: the port to try first; 0 asks the OS for any free port.
        host: the address to bind.
        port_range: how many ports after `preferred_port` to try before asking the OS.

    Returns:
        The port number that was free.

    Raises:
        PortUnavailableError: not even an OS-assigned port could be bound (a bad host).
    """
    sock = bind_socket(host, preferred_port, port_range=port_range)
    try:
        return int(sock.getsockname()[1])
    finally:
        sock.close()


def bind_socket(
    host: str, preferred_port: int, *, port_range: int = 10, backlog: int = 2048
) -> socket.socket:
    """A listening socket on the first free port in the order `find_available_port` tries."""
    candidates = _candidates(preferred_port, port_range)
    last_error: OSError | None = None
    for port in candidates:
        try:
            return _listen(host, port, backlog)
        except OSError as error:
            last_error = error
    raise PortUnavailableError(
        f"no port could be bound on {host}", details={"host": host, "port": preferred_port}
    ) from last_error


def _candidates(preferred_port: int, port_range: int) -> list[int]:
    if preferred_port == 0:
        return [0]
    upper = min(preferred_port + port_range, 65535)
    return [*range(preferred_port, upper + 1), 0]


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns on TCP_NODELAY only for sockets whose proto says
    # TCP, and without it a response written in two parts waits out a delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # SO_REUSEADDR lets a restarted server bind past TIME_WAIT; on Linux it never
        # lets two listeners share a port, so a taken port still fails here.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
