"""The transport-agnostic hub: clients, channels, fan-out, acks, presence, recovery."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from infrakit.pubsub import _commands, _wire
from infrakit.pubsub._acks import Acks
from infrakit.pubsub._client import Client, SlowConsumerPolicy, TokenBucket, Transport
from infrakit.pubsub._errors import PubSubBackplaneError, PubSubError
from infrakit.pubsub._presence import Pair, Presence, parse_heartbeat
from infrakit.pubsub._protocol import (
    Authenticator,
    Authorizer,
    Backplane,
    BackplaneMessage,
    ChannelMessage,
    PresenceStatus,
    PublishResult,
    PubSubStats,
    User,
)
from infrakit.pubsub.memory import MemoryBackplane

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["PubSubService"]

_broadcast: Callable[..., None] | None = None


def _public_prefix(channel: str) -> bool:
    return channel.startswith("public:")


class PubSubService:
    """Real-time channels for many clients, on one node or many through a backplane.

    Args:
        backplane: `MemoryBackplane()` (default), `RedisBackplane(url)` or
            `PostgresBackplane(database)`; the hub closes it on `close()`.
        authenticator: checks tokens; without one every channel is public.
        authorizer: decides `can_subscribe` / `can_publish` per user and channel.
        is_public: which channels unauthenticated clients may use when there is an
            authenticator (default: names starting with `public:`).
        client_publish: whether clients may send `publish` commands at all.
        max_queue: messages queued per slow client before `slow_consumer` applies.
        slow_consumer: `drop_oldest` (counted in `dropped`) or `disconnect` (close 1008).
        high_water: bytes in a socket's write buffer past which messages queue.
        max_message_size: bytes per incoming frame (bigger ones close with 1009).
        rate: commands per second a client may send on average; `burst` at once.
        max_errors: `error` replies a client may earn before it is closed with 1008.
        ack_timeout: default `timeout` of `publish(..., ack=True)`.
        ack_retries: resends of an unacknowledged message within the timeout.
        presence_ttl: seconds a node's presence lease lasts without a heartbeat.
        ping_interval, ping_timeout: keepalive of the websockets transport.
        compression: `"deflate"` turns on permessage-deflate in `serve()`; off by
            default, because each connection then compresses every message itself
            (and keeps about 64 KiB of zlib state), which undoes one-encode fan-out.
        node_id: this node's name on the backplane (random by default).
        logger: defaults to `get_logger("infrakit.pubsub")`.
    """

    def __init__(
        self,
        *,
        backplane: Backplane | None = None,
        authenticator: Authenticator | None = None,
        authorizer: Authorizer | None = None,
        is_public: Callable[[str], bool] = _public_prefix,
        client_publish: bool = True,
        max_queue: int = 1000,
        slow_consumer: SlowConsumerPolicy = "drop_oldest",
        high_water: int = 256 * 1024,
        max_message_size: int = 1024 * 1024,
        rate: float = 100.0,
        burst: int = 200,
        max_errors: int = 50,
        ack_timeout: float = 5.0,
        ack_retries: int = 2,
        presence_ttl: float = 15.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        compression: str | None = None,
        node_id: str | None = None,
        logger: Logger | None = None,
    ) -> None:
        if slow_consumer not in ("drop_oldest", "disconnect"):
            raise PubSubError(
                "slow_consumer must be 'drop_oldest' or 'disconnect'",
                details={"field": "slow_consumer"},
            )
        _positive(max_queue=max_queue, max_message_size=max_message_size, rate=rate)
        _positive(burst=burst, max_errors=max_errors, ack_timeout=ack_timeout)
        _positive(presence_ttl=presence_ttl, high_water=high_water)
        self.backplane: Backplane = backplane if backplane is not None else MemoryBackplane()
        self.authenticator, self.authorizer = authenticator, authorizer
        self.is_public, self.client_publish = is_public, client_publish
        self.max_queue, self.slow_consumer, self.high_water = max_queue, slow_consumer, high_water
        self.max_message_size, self.rate, self.burst = max_message_size, rate, burst
        self.max_errors, self.ack_timeout, self.ack_retries = max_errors, ack_timeout, ack_retries
        self.presence_ttl = presence_ttl
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.compression = compression
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self._logger = logger
        self._clients: dict[str, Client] = {}
        self._channels: dict[str, set[Client]] = {}
        self._acks = Acks()
        self._manual_presence: set[str] = set()
        self._presence = Presence(self._presence_changed)
        self._counter = itertools.count(1)
        self._messages_in = self._messages_out = self._dropped = self._slow = 0
        self._errors_sent = self._restarts = 0
        self._started = self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat_due: asyncio.Event | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._healthy: bool | None = None
        self._servers: list[Any] = []

    def __repr__(self) -> str:
        return f"PubSubService(node_id={self.node_id!r}, backplane={self.backplane!r})"

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Attach to the backplane and start the presence heartbeat (idempotent)."""
        if self._started:
            return
        if self._closed:
            raise PubSubError("the hub is closed")
        self._started = True
        self._heartbeat_due = asyncio.Event()
        await self.backplane.start(self.node_id, self._from_backplane)
        self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeat_forever())

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Close every client (1001), stop servers and the backplane, within `timeout`."""
        if self._closed:
            return
        self._closed = True
        for server in self._servers:
            server.close(close_connections=False)
        clients = list(self._clients.values())
        closing = [self._close_client(client, 1001, "server shutting down") for client in clients]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*closing, return_exceptions=True)
                for server in self._servers:
                    await server.wait_closed()
                await self._stop_heartbeat()
                await self._say_goodbye()
        for task in [*self._tasks, *([self._heartbeat] if self._heartbeat else [])]:
            task.cancel()
        if self._tasks or self._heartbeat:
            pending = {*self._tasks, *([self._heartbeat] if self._heartbeat else [])}
            await asyncio.wait(pending, timeout=timeout)
        await self.backplane.stop(self.node_id)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.backplane.close()

    async def __aenter__(self) -> PubSubService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """True once `close()` began."""
        return self._closed

    # -- the original's surface -----------------------------------------------------

    async def publish(
        self,
        channel: str,
        event_type: str,
        data: Any,
        *,
        ack: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109
        exclude: str | set[str] | list[str] | tuple[str, ...] | None = None,
    ) -> PublishResult:
        """Send an event to every subscriber of `channel`, on every node.

        Args:
            channel: the channel name (1-200 of `A-Za-z0-9_.:-@/`).
            event_type: the envelope's `event`.
            data: any JSON value.
            ack: wait for this node's clients to answer `{"type":"ack","id":...}`,
                resending up to `ack_retries` times within `timeout`.
            timeout: seconds to wait for acknowledgements (default `ack_timeout`).
            exclude: client ids that should not receive it (a sender's own id).

        Returns:
            A `PublishResult` (an `int`): clients of this node it was delivered to, or
            with `ack=True` how many acknowledged in time; `.nodes` says how many nodes
            the backplane reached, `.seq` the channel's number for it.

        Raises:
            PubSubError: bad channel, event or data (not JSON), or a closed hub.
            PubSubBackplaneError: the backplane refused or timed out.
        """
        channel = self._checked_channel(channel)
        if not isinstance(event_type, str) or not event_type:
            raise PubSubError(
                "event_type must be a non-empty string", details={"field": "event_type"}
            )
        _check_json(data)
        excluded = _exclusions(exclude)
        await self.start()
        message, nodes = await self._publish_to_backplane(channel, event_type, data, excluded)
        nodes = nodes if nodes is not None else 1 + self._presence.remote_nodes
        if not ack:
            delivered = self._fan_out(message, excluded, None)
            return PublishResult(
                delivered=delivered, acknowledged=None, nodes=nodes, seq=message.seq
            )
        return await self._publish_with_ack(message, excluded, timeout, nodes)

    def subscribe(self, client_id: str, channel: str) -> bool:
        """Subscribe a connected client (no authorisation check: the server decides).

        Returns False when the client is unknown or already subscribed.
        """
        client = self._clients.get(client_id)
        channel = self._checked_channel(channel)
        if client is None or channel in client.channels:
            return False
        client.channels.add(channel)
        self._channels.setdefault(channel, set()).add(client)
        if client.user is not None:
            self._presence.add((client.user.user_id, channel))
        return True

    def unsubscribe(self, client_id: str, channel: str) -> bool:
        """Remove a subscription; False when there was none."""
        client = self._clients.get(client_id)
        if client is None or channel not in client.channels:
            return False
        client.channels.discard(channel)
        client.catching_up.pop(channel, None)
        members = self._channels.get(channel)
        if members is not None:
            members.discard(client)
            if not members:
                del self._channels[channel]
        if client.user is not None:
            self._presence.remove((client.user.user_id, channel))
        return True

    def get_client_channels(self, client_id: str) -> set[str]:
        client = self._clients.get(client_id)
        return set(client.channels) if client is not None else set()

    def get_channel_clients(self, channel: str) -> set[str]:
        return {client.client_id for client in self._channels.get(channel, ())}

    async def authenticate_client(
        self, client_id: str, user_id: str, metadata: Mapping[str, Any] | None = None
    ) -> bool:
        """Attach a user to a connected client (as an accepted token would); False if unknown."""
        client = self._clients.get(client_id)
        if client is None or not isinstance(user_id, str) or not user_id:
            return False
        self._attach_user(client, User(user_id, dict(metadata or {})))
        return True

    async def set_presence(
        self, user_id: str, status: PresenceStatus, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Mark a user online or offline by hand (besides their connections)."""
        if status not in ("online", "offline"):
            raise PubSubError("status must be 'online' or 'offline'", details={"field": "status"})
        self._presence.set_metadata(user_id, metadata)
        if status == "online" and user_id not in self._manual_presence:
            self._manual_presence.add(user_id)
            self._presence.add((user_id, None))
        elif status == "offline" and user_id in self._manual_presence:
            self._manual_presence.discard(user_id)
            self._presence.remove((user_id, None))

    def get_presence(self, channel: str | None = None) -> dict[str, Mapping[str, Any]]:
        """Users present (on every node) in `channel`, or every online user: id -> metadata."""
        return self._presence.users(channel)

    async def disconnect(self, client_id: str, code: int = 1000, reason: str = "") -> bool:
        """Close a client's connection; False when it is not connected here."""
        client = self._clients.get(client_id)
        if client is None:
            return False
        await self._close_client(client, code, reason)
        return True

    def get_stats(self) -> PubSubStats:
        """This node's counters; synchronous, no backplane call."""
        return PubSubStats(
            connections=len(self._clients),
            channels=len(self._channels),
            messages_in=self._messages_in,
            messages_out=self._messages_out,
            dropped=self._dropped,
            slow_disconnects=self._slow,
            pending_acks=self._acks.pending,
            presence=len(self._presence),
            errors_sent=self._errors_sent,
            backplane_restarts=self._restarts + getattr(self.backplane, "restarts", 0),
            nodes=1 + self._presence.remote_nodes,
        )

    async def health(self) -> bool:
        """Ping the backplane (bounded); logs one line when the answer changes."""
        try:
            async with asyncio.timeout(5.0):
                healthy = await self.backplane.health()
        except Exception:
            healthy = False
        if healthy != self._healthy:
            self._healthy = healthy
            log = self._get_logger()
            (log.info if healthy else log.warning)(
                "pubsub backplane reachable" if healthy else "pubsub backplane unreachable"
            )
        return healthy

    # -- transports: serve() and the ASGI endpoint ----------------------------------

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> Any:
        """Start a websockets server for this hub; returns the `websockets` Server.

        `close()` stops it. Port 0 picks a free port (`server.sockets[0].getsockname()`).
        """
        from infrakit.pubsub._server import serve

        await self.start()
        server = await serve(self, host, port)
        self._servers.append(server)
        return server

    @property
    def asgi_app(self) -> Any:
        """An ASGI application serving the hub on `websocket` scopes (HTTP gets 404)."""
        from infrakit.pubsub._asgi import AsgiEndpoint

        return AsgiEndpoint(self)

    # -- connections (called by the transports) -------------------------------------

    async def handle_frame(self, client: Client, frame: str | bytes) -> None:
        """Answer one frame from a client; never raises."""
        await _commands.handle_frame(self, client, frame)

    async def authenticate_token(self, client: Client, token: str) -> bool:
        """Check a token given at connect or in an `auth` message; never logs it."""
        return await _commands.authenticate_token(self, client, token)

    def connected(self, transport: Transport) -> Client:
        client_id = f"{self.node_id}-{next(self._counter)}"
        client = Client(
            client_id,
            transport,
            max_queue=self.max_queue,
            policy=self.slow_consumer,
            bucket=TokenBucket(self.rate, self.burst),
            on_drop=self._slow_client,
        )
        self._clients[client_id] = client
        return client

    async def disconnected(self, client: Client) -> None:
        for channel in list(client.channels):
            self.unsubscribe(client.client_id, channel)
        if client.user is not None:
            self._presence.remove((client.user.user_id, None))
        self._clients.pop(client.client_id, None)
        self._acks.forget_client(client.client_id)
        await client.stop()

    # -- internals --------------------------------------------------------------------

    def _checked_channel(self, channel: str) -> str:
        try:
            return _wire.check_channel(channel)
        except _wire.WireError as error:
            raise PubSubError(error.message, details={"field": "channel"}) from None

    async def _publish_to_backplane(
        self, channel: str, event: str, data: Any, excluded: tuple[str, ...]
    ) -> tuple[ChannelMessage, int | None]:
        try:
            return await self.backplane.publish(self.node_id, channel, event, data, excluded)
        except PubSubError:
            raise
        except Exception as error:
            raise PubSubBackplaneError(
                f"the backplane refused the publish ({type(error).__name__})"
            ) from error

    def _fan_out(
        self, message: ChannelMessage, excluded: tuple[str, ...], ack_id: str | None
    ) -> int:
        members = self._channels.get(message.channel)
        if not members:
            return 0
        text = _wire.encode_message(message, ack_id)
        channel, high_water = message.channel, self.high_water
        fast: list[Any] = []
        delivered = 0
        for client in members:  # nothing below changes the set synchronously
            if client.closed or (excluded and client.client_id in excluded):
                continue
            delivered += 1
            if client.catching_up and channel in client.catching_up:
                client.catching_up[channel].append((message.seq, text))
                continue
            socket = client.transport.writable_socket(high_water) if client.idle else None
            if socket is not None:
                fast.append(socket)
            elif not client.enqueue(text):
                delivered -= 1
        if fast:
            _broadcast_text(fast, text)
        self._messages_out += delivered
        return delivered

    async def _publish_with_ack(
        self,
        message: ChannelMessage,
        excluded: tuple[str, ...],
        timeout: float | None,  # noqa: ASYNC109
        nodes: int,
    ) -> PublishResult:
        members = self._channels.get(message.channel, set())
        waiting = {c.client_id for c in members if c.client_id not in excluded and not c.closed}
        ack_id = self._acks.open(waiting)
        delivered = self._fan_out(message, excluded, ack_id)

        def resend(client_ids: set[str]) -> None:
            text = _wire.encode_message(message, ack_id)
            for client_id in client_ids:
                client = self._clients.get(client_id)
                if client is not None:
                    client.enqueue(text)

        seconds = self.ack_timeout if timeout is None else timeout
        acknowledged = await self._acks.wait(ack_id, seconds, self.ack_retries + 1, resend)
        return PublishResult(
            delivered=delivered, acknowledged=acknowledged, nodes=nodes, seq=message.seq
        )

    def acknowledge(self, client: Client, ack_id: Any) -> bool:
        return self._acks.acknowledge(ack_id, client.client_id)

    def _slow_client(self, client: Client, disconnect: bool) -> None:
        if disconnect:
            self._slow += 1
            client.closed = True
            self._spawn(self._close_client(client, 1008, "slow consumer"))
        else:
            self._dropped += 1

    async def _close_client(self, client: Client, code: int, reason: str) -> None:
        """Close with `code`; a peer that does not take the close frame in 2 s is dropped."""
        client.closed = True
        try:
            async with asyncio.timeout(2.0):
                await client.transport.close(code, reason)
        except Exception:
            client.transport.abort()

    def _attach_user(self, client: Client, user: User) -> None:
        if client.user is not None:
            for channel in client.channels:
                self._presence.remove((client.user.user_id, channel))
            self._presence.remove((client.user.user_id, None))
        client.user = user
        self._presence.set_metadata(user.user_id, user.metadata)
        self._presence.add((user.user_id, None))
        for channel in client.channels:
            self._presence.add((user.user_id, channel))

    def _presence_changed(self, user_id: str, channel: str | None, joined: bool) -> None:
        if self._heartbeat_due is not None:
            self._heartbeat_due.set()
        if channel is None:
            return
        members = self._channels.get(channel)
        if not members:
            return
        text = _wire.encode(
            {
                "type": "presence",
                "channel": channel,
                "event": "join" if joined else "leave",
                "data": {"user_id": user_id, "metadata": dict(self._presence.metadata(user_id))},
            }
        )
        for client in list(members):
            if not client.closed:
                client.enqueue(text)

    # -- the backplane side -------------------------------------------------------------

    async def _from_backplane(self, item: BackplaneMessage) -> None:
        """Deliver what another node sent; never raises (a bad item is counted, logged)."""
        try:
            if item.origin == self.node_id:
                return
            if item.kind == "message" and item.message is not None:
                self._fan_out(item.message, item.exclude, None)
            elif item.kind == "control" and item.control is not None:
                self._control(item.origin, item.control)
        except Exception as error:
            self._get_logger().warning(
                "pubsub: a backplane item was ignored", error=type(error).__name__
            )

    def _control(self, origin: str, payload: Mapping[str, Any]) -> None:
        if payload.get("bye"):
            self._presence.remote_gone(origin)
            return
        heartbeat = parse_heartbeat(payload, self.presence_ttl)
        if heartbeat is not None:
            self._presence.remote_heartbeat(origin, *heartbeat)

    def _local_pairs(self) -> tuple[list[Pair], dict[str, Any]]:
        pairs: set[Pair] = {(user_id, None) for user_id in self._manual_presence}
        for client in self._clients.values():
            if client.user is not None:
                pairs.add((client.user.user_id, None))
                pairs.update((client.user.user_id, channel) for channel in client.channels)
        users = {user_id for user_id, _ in pairs}
        return sorted(pairs, key=str), {user: dict(self._presence.metadata(user)) for user in users}

    async def _heartbeat_forever(self) -> None:
        """Send this node's presence lease every TTL/3 (sooner after a change); expire others."""
        assert self._heartbeat_due is not None
        while not self._closed:
            try:
                pairs, metadata = self._local_pairs()
                payload = {
                    "pairs": [list(p) for p in pairs],
                    "metadata": metadata,
                    "ttl": self.presence_ttl,
                }
                async with asyncio.timeout(self.presence_ttl / 3):
                    await self.backplane.send_control(self.node_id, payload)
                self._presence.expire()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._restarts += 1
                self._get_logger().warning("pubsub heartbeat failed", error=type(error).__name__)
            if self.closed:
                return
            self._heartbeat_due.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.presence_ttl / 3):
                    await self._heartbeat_due.wait()
                    await asyncio.sleep(0.05)  # gather a burst of changes into one heartbeat

    async def _stop_heartbeat(self) -> None:
        """Let the heartbeat finish the write it is in (a cancelled query costs more)."""
        if self._heartbeat is not None and self._heartbeat_due is not None:
            self._heartbeat_due.set()
            await asyncio.wait({self._heartbeat})

    async def _say_goodbye(self) -> None:
        with contextlib.suppress(Exception):
            await self.backplane.send_control(self.node_id, {"bye": True})

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _get_logger(self) -> Logger:
        if self._logger is None:
            from infrakit.log import get_logger

            self._logger = get_logger("infrakit.pubsub")
        return self._logger


def _broadcast_text(sockets: list[Any], text: str) -> None:
    global _broadcast
    if _broadcast is None:
        from websockets.asyncio.server import broadcast

        _broadcast = broadcast
    _broadcast(sockets, text)  # encoded once for every socket of the batch


def _exclusions(exclude: str | set[str] | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if exclude is None:
        return ()
    if isinstance(exclude, str):
        return (exclude,)
    return tuple(exclude)


def _check_json(data: Any) -> None:
    try:
        _wire.encode({"data": data})
    except (TypeError, ValueError, RecursionError) as error:
        raise PubSubError("data must be a JSON value", details={"field": "data"}) from error


def _positive(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise PubSubError(f"{name} must be a number > 0", details={"field": name})
