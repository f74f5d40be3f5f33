"""Server lifecycle: host an ASGI app on uvicorn with probes, metrics and a graceful shutdown.

Only the names in `__all__` are public; see `docs/server.md`. Needs the `server` extra
(`pip install 'infrakit[server]'`: uvicorn, websockets, prometheus-client), imported
when the server starts, so `import infrakit.server` works without it.
"""

from infrakit.server._config import ServerConfig
from infrakit.server._errors import PortUnavailableError, ServerError
from infrakit.server._manager import ServerManager, run, serve
from infrakit.server._ports import find_available_port

__all__ = [
    "PortUnavailableError",
    "ServerConfig",
    "ServerError",
    "ServerManager",
    "find_available_port",
    "run",
    "serve",
]
