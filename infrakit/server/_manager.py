"""ServerManager: host an ASGI app on uvicorn with the infrastructure around it, then stop it well.

The shutdown sequence (docs/server.md draws it as a timeline): on the first SIGTERM or
SIGINT `/readyz` answers 503 at once; after `drain_delay` the pub/sub hub closes its
WebSocket clients with 1001 and the listener stops accepting; in-flight requests finish
within what is left of `shutdown_timeout`; the `Infra` closes in reverse order; the
exit code is 0. A second signal skips the waiting and the exit code is 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TextIO

from infrakit.errors import InitializationError, ProblemDetailsMiddleware, import_optional
from infrakit.server._app import Router, not_found_app
from infrakit.server._config import ServerConfig
from infrakit.server._errors import ServerError
from infrakit.server._files import FileRoute, presigned_elsewhere, signs_for
from infrakit.server._health import Readiness
from infrakit.server._metrics import Metrics
from infrakit.server._ports import bind_socket
from infrakit.server._ports import find_available_port as _find_available_port
from infrakit.server._signals import SignalHandlers
from infrakit.server._status import status_lines, write_status
from infrakit.web import RequestContextMiddleware

if TYPE_CHECKING:
    from infrakit import Infra
    from infrakit.log import Logger
    from infrakit.pubsub import PubSubService
    from infrakit.storage import StorageProvider

__all__ = ["ServerManager", "run", "serve"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SERVICE_NAMES = ("database", "cache", "storage", "jobs", "media", "pubsub")
_FORCED_CLOSE_LIMIT = 1.0
_STARTED_POLL = 0.01


class ServerManager:
    """One server's lifecycle: ports, services, the wrapped app, signals, status and shutdown.

    `serve()` is the usual way in; the methods are public so a caller can run the steps
    itself (initialize, then `serve_forever()`). The manager owns the `infra` it is given:
    it starts it in `initialize()` and stops it after the last request, so pass one that
    is not started yet.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        infra: Infra | None = None,
        pubsub: PubSubService | None = None,
        storage: StorageProvider | None = None,
        config: ServerConfig | None = None,
        logger: Logger | None = None,
    ) -> None:
        """Prepare, without opening anything.

        Args:
            app: any ASGI 3 application (Starlette, FastAPI, Litestar, Django, a callable);
                None serves only the probes, `/metrics` and the pub/sub endpoint.
            infra: the `Infra` to start, probe, scrape and close; its pub/sub hub, if it
                has one, is mounted at `config.websocket_path`.
            pubsub: a hub to mount when it is not part of `infra`; started and closed here.
            storage: the storage whose signed URLs `config.files_path` answers, instead
                of `infra`'s; not closed here (it needs no start; its owner closes it).
            config: where to listen and how to stop (`ServerConfig()` by default).
            logger: defaults to `infra.log`, else `get_logger("infrakit.server")`.
        """
        self.app = app
        self.infra = infra
        self.pubsub = pubsub
        self.storage = storage
        self.config = config if config is not None else ServerConfig()
        self.readiness = Readiness()
        self.services: dict[str, Any] = {}
        self.metrics: Metrics | None = None
        self.asgi_app: ASGIApp | None = None
        self.exit_code = 0
        self._logger = logger
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._server: Any = None
        self._signals: SignalHandlers | None = None
        self._stop_requested: asyncio.Event | None = None
        self._forced_event: asyncio.Event | None = None
        self._forced = False
        self._deadline: float | None = None
        self._owns_pubsub = pubsub is not None
        self._files_refused = False
        self._initialized = False

    # -- set-up ------------------------------------------------------------------------

    async def initialize(self, config: ServerConfig | None = None) -> None:
        """Start the infrastructure, load the services, wrap the app and bind the port.

        Raises:
            ServerError: already initialized.
            PortUnavailableError: no port could be bound.
            InitializationError: a component of `infra` failed to start.
        """
        if self._initialized:
            raise ServerError("the server is already initialized")
        if config is not None:
            self.config = config
        self._socket = bind_socket(
            self.config.host,
            self.config.port,
            port_range=self.config.port_range,
            backlog=self.config.backlog,
        )
        self._port = int(self._socket.getsockname()[1])
        try:
            await self._start_infrastructure()
        except BaseException:
            self._socket.close()
            raise
        self._load_services()
        await self._check_files_route()
        self.configure_app()
        self._initialized = True

    async def find_available_port(self, preferred_port: int, *, host: str | None = None) -> int:
        """The first free port from `preferred_port` in this config's range, else the OS's."""
        return await _find_available_port(
            preferred_port, host=host or self.config.host, port_range=self.config.port_range
        )

    async def load_services(self) -> dict[str, Any]:
        """The services of `infra` (and the explicit hub); their health checks feed `/readyz`.

        Returns:
            `{name: service}`: `database`, `cache`, `storage`, `jobs`, `media`, `pubsub`
            (those `infra` has), `di` (its container); `/metrics` reads their `get_stats()`.
        """
        return self._load_services()

    def _load_services(self) -> dict[str, Any]:
        services: dict[str, Any] = {}
        sources: list[Any] = []
        if self.infra is not None:
            services.update(_infra_services(self.infra))
            services["di"] = self.infra.container
            sources.append(self.infra.health)
        if self.pubsub is not None and "pubsub" not in services:
            services["pubsub"] = self.pubsub
            sources.append(_hub_health(self.pubsub))
        if self.pubsub is None and "pubsub" in services:
            self.pubsub = services["pubsub"]
        if self.storage is not None and "storage" not in services:
            services["storage"] = self.storage
            sources.append(_storage_health(self.storage))
        self.services = services
        self.readiness.sources = sources
        return services

    def configure_app(self, config: ServerConfig | None = None) -> ASGIApp:
        """Wrap the app (request context, problems, metrics); mount the probes and `/ws`."""
        if config is not None:
            self.config = config
        app: ASGIApp = self.app if self.app is not None else not_found_app
        storage = self._files_storage()
        if storage is not None:  # inside the middleware: file requests get ids, logs, metrics
            app = FileRoute(app, storage, prefix=self.config.files_path)
        app = ProblemDetailsMiddleware(app, debug=self.config.debug, logger=self._get_logger())
        self.metrics = Metrics(self.services) if self.config.metrics else None
        app = RequestContextMiddleware(
            app,  # outside the problems: it sees the status the client got
            access_log=self.config.access_log,
            on_complete=self.metrics.record if self.metrics is not None else None,
        )
        hub = self.pubsub
        self.asgi_app = Router(
            app,
            readiness=self.readiness,
            metrics=self.metrics,
            websocket_path=self.config.websocket_path,
            websocket_app=hub.asgi_app if hub is not None else None,
        )
        return self.asgi_app

    def _files_storage(self) -> StorageProvider | None:
        """The storage `files_path` serves: given, else `infra`'s; none for S3 or when off."""
        storage = self.storage if self.storage is not None else self.services.get("storage")
        if storage is None or not self.config.files_path or self._files_refused:
            return None
        return None if presigned_elsewhere(storage) else storage

    async def _check_files_route(self) -> None:
        """Leave `files_path` to the app when the storage's signed URLs point elsewhere."""
        storage = self._files_storage()
        if storage is not None and not await signs_for(storage, self.config.files_path):
            self._files_refused = True
            self._get_logger().warning(
                "the storage's signed URLs do not start with files_path: no file route",
                files_path=self.config.files_path,
            )

    def setup_graceful_shutdown(self) -> bool:
        """Handle SIGTERM/SIGINT (main thread), chaining the app's handlers; True if installed."""
        loop = asyncio.get_running_loop()
        self._stop_requested = self._stop_requested or asyncio.Event()
        self._forced_event = self._forced_event or asyncio.Event()
        self._signals = SignalHandlers(loop, self._on_signal)
        return self._signals.install()

    def display_server_status(
        self, stream: TextIO | None = None, health: Mapping[str, Any] | None = None
    ) -> None:
        """Write the start-up banner; ANSI colour only when `stream` is a terminal."""
        stream = stream if stream is not None else sys.stderr
        color = stream.isatty() and "NO_COLOR" not in os.environ
        lines = status_lines(
            name=self.config.name,
            environment=self._environment(),
            urls=self.urls,
            health=health or {},
            color=color,
        )
        write_status(stream, lines)

    # -- the bound address ------------------------------------------------------------

    @property
    def port(self) -> int | None:
        """The bound port once `initialize()` ran (the real one when the config said 0)."""
        return self._port

    @property
    def urls(self) -> list[str]:
        """`http://host:port` and, with a hub, `ws://host:port/ws`."""
        if self.port is None:
            return []
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        urls = [f"http://{host}:{self.port}"]
        if self.pubsub is not None:
            urls.append(f"ws://{host}:{self.port}{self.config.websocket_path}")
        return urls

    # -- running and stopping ---------------------------------------------------------

    async def serve_forever(self, *, status_stream: TextIO | None = None) -> int:
        """Serve until a signal or `request_shutdown()`, stop gracefully, return the exit code."""
        if not self._initialized:
            await self.initialize()
        self.setup_graceful_shutdown()
        try:
            server = self._uvicorn_server()
            serving = asyncio.create_task(_serve_uvicorn(server, self._socket))
            await self._wait_started(server, serving)
            self.readiness.started = True
            self.display_server_status(status_stream, await self.readiness.checks())
            self._get_logger().info("server started", urls=self.urls, pid=os.getpid())
            await self._run_until_stopped(server, serving)
        finally:
            if self._signals is not None:
                self._signals.restore()
            if self._socket is not None:
                self._socket.close()  # uvicorn closes it only when it got as far as serving
            await self._stop_infrastructure()
        return self.exit_code

    def request_shutdown(self) -> None:
        """Begin the graceful shutdown, as SIGTERM would; a second call forces it."""
        self._on_signal(0)

    def _on_signal(self, signum: int) -> None:
        if self._stop_requested is None:
            self._stop_requested = asyncio.Event()
        if self._stop_requested.is_set():
            self._force()
            return
        self.readiness.draining = True
        self._stop_requested.set()
        self._get_logger().info(
            "shutdown requested: draining", signal=signum, drain_delay=self.config.drain_delay
        )

    def _force(self) -> None:
        self._forced = True
        self.exit_code = 1
        if self._forced_event is not None:
            self._forced_event.set()
        if self._server is not None:
            self._server.force_exit = True
            self._server.should_exit = True
        self._get_logger().warning("second signal: exiting without waiting")

    async def _run_until_stopped(self, server: Any, serving: asyncio.Task[None]) -> None:
        assert self._stop_requested is not None
        stop = asyncio.ensure_future(self._stop_requested.wait())
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not serving.done():
            await self._drain(
                server, asyncio.get_running_loop().time() + self.config.shutdown_timeout
            )
        stop.cancel()
        await serving

    async def _drain(self, server: Any, deadline: float) -> None:
        """Wait `drain_delay`, close WebSocket clients (1001), stop the listener, bound the rest."""
        loop = asyncio.get_running_loop()
        self._deadline = deadline
        assert self._forced_event is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.drain_delay):
                await self._forced_event.wait()
        if self.pubsub is not None and not self._forced:
            await self.pubsub.close(timeout=max(min(deadline - loop.time(), 5.0), 0.1))
        server.config.timeout_graceful_shutdown = max(deadline - loop.time(), 0.1)
        server.should_exit = True

    async def _wait_started(self, server: Any, serving: asyncio.Task[None]) -> None:
        while not server.started:
            if serving.done():
                await serving  # re-raises why it stopped
                raise ServerError("the server stopped before it started serving (see the log)")
            await asyncio.sleep(_STARTED_POLL)

    def _uvicorn_server(self) -> Any:
        uvicorn = import_optional("uvicorn", extra="server")
        config = uvicorn.Config(
            self.asgi_app,
            log_level=self.config.log_level,
            log_config=None,
            access_log=False,
            lifespan="auto",
            timeout_graceful_shutdown=self.config.shutdown_timeout,
            backlog=self.config.backlog,
        )
        self._server = _server_class()(config)
        return self._server

    async def _start_infrastructure(self) -> None:
        if self.infra is not None:
            await self.infra.start()
        if self._owns_pubsub and self.pubsub is not None:
            await self.pubsub.start()

    async def _stop_infrastructure(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = self._deadline or loop.time() + self.config.shutdown_timeout
        limit = (
            _FORCED_CLOSE_LIMIT
            if self._forced
            else max(deadline - loop.time(), _FORCED_CLOSE_LIMIT)
        )
        try:
            async with asyncio.timeout(limit):
                if self._owns_pubsub and self.pubsub is not None:
                    await self.pubsub.close()
                if self.infra is not None:
                    await self.infra.stop()
        except TimeoutError:
            self.exit_code = 1
            self._get_logger().error(
                "the infrastructure did not close in time", seconds=round(limit, 2)
            )
        self._get_logger().info("server stopped", exit_code=self.exit_code)

    def _environment(self) -> str:
        if self.infra is not None:
            return str(self.infra.config.env)
        return os.environ.get("APP_ENV", "development")

    def _get_logger(self) -> Logger:
        if self._logger is None:
            if self.infra is not None:
                self._logger = self.infra.log.child("server")
            else:
                from infrakit.log import get_logger

                self._logger = get_logger("infrakit.server")
        return self._logger


async def serve(
    app: ASGIApp | None = None,
    *,
    infra: Infra | None = None,
    pubsub: PubSubService | None = None,
    storage: StorageProvider | None = None,
    config: ServerConfig | None = None,
) -> int:
    """The whole main of a service: start `infra`, serve `app`, stop gracefully on SIGTERM.

    Args:
        app: any ASGI 3 application; None serves only the probes, metrics and `/ws`.
        infra: started here and closed after the last request (pass it not started).
        pubsub: a hub to mount at `/ws` when it is not part of `infra`.
        storage: whose signed URLs `/files` answers, when not `infra`'s (not closed here).
        config: `ServerConfig`; by default `ServerConfig.from_config(infra.config)` when
            `infra` is given, else `ServerConfig()`.

    Returns:
        The exit code: 0 after a graceful stop, 1 when forced or past the deadline.
    """
    if config is None:
        config = ServerConfig.from_config(infra.config) if infra is not None else ServerConfig()
    manager = ServerManager(app, infra=infra, pubsub=pubsub, storage=storage, config=config)
    return await manager.serve_forever()


def run(
    app: ASGIApp | None = None,
    *,
    infra: Infra | None = None,
    pubsub: PubSubService | None = None,
    storage: StorageProvider | None = None,
    config: ServerConfig | None = None,
) -> int:
    """`serve()` for a plain `main()`: runs its own event loop and returns the exit code.

    The loop is uvloop's when it is installed, as `uvicorn.run()` chooses (`loop="auto"`),
    else asyncio's.
    """
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(serve(app, infra=infra, pubsub=pubsub, storage=storage, config=config))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:  # optional: imported by name so type checking does not need it installed
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _infra_services(infra: Infra) -> Iterator[tuple[str, Any]]:
    for name in _SERVICE_NAMES:
        try:
            yield name, infra.component(name)
        except InitializationError:
            continue


def _hub_health(hub: PubSubService) -> Callable[[], Awaitable[Mapping[str, bool]]]:
    async def pubsub() -> Mapping[str, bool]:
        return {"pubsub": await hub.health()}

    return pubsub


def _storage_health(storage: StorageProvider) -> Callable[[], Awaitable[Mapping[str, bool]]]:
    async def health() -> Mapping[str, bool]:
        return {"storage": await storage.health()}

    return health


async def _serve_uvicorn(server: Any, sock: socket.socket | None) -> None:
    """uvicorn ends a failed start-up with `sys.exit(3)`, which would tear a task's loop down."""
    try:
        await server.serve(sockets=[sock] if sock is not None else None)
    except SystemExit as exit_:
        raise ServerError(
            "the app failed its lifespan start-up (see the log)", details={"exit_code": exit_.code}
        ) from None


@functools.cache
def _server_class() -> type[Any]:
    """uvicorn.Server without `capture_signals()`: the manager's handlers stay in place.

    uvicorn's `Server.serve()` wraps itself in `capture_signals()`, which replaces the
    SIGINT/SIGTERM handlers for the whole run; the manager installs its own (chaining
    the app's) instead, so that context manager becomes a no-op here.
    """
    uvicorn = import_optional("uvicorn", extra="server")

    class _Server(uvicorn.Server):  # type: ignore[name-defined,misc]
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return _Server
