"""The Redis backplane: messages over one pub/sub channel, history in a Redis stream.

Needs the `redis` extra. A publish is one Lua script, so numbering, history and
delivery stay atomic: `INCR` the channel's counter, `XADD` the message to the channel's
stream under the id `<seq>-0` (trimmed exactly to `history_size`; entries older than
`history_age` deleted from its head; the key expiring `history_age` after the last
message), `PUBLISH` it to every node; the reply gives the number of nodes that received
it. Replay is one `XRANGE` from `<since + 1>`. Each command runs under an
`asyncio.timeout` of our own; the listener survives any message (a malformed one is
counted and ignored) and restarts with backoff after a lost connection, and clients
see what it missed through `seq`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from infrakit._internal.secrets import mask_dsn, register_dsn
from infrakit.errors import ConfigurationError, import_optional
from infrakit.pubsub._errors import PubSubBackplaneError
from infrakit.pubsub._history import check_history
from infrakit.pubsub._listener import Listener
from infrakit.pubsub._protocol import BackplaneMessage, ChannelMessage, Deliver

_redis = import_optional("redis.asyncio", extra="redis")

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from infrakit.log import Logger

__all__ = ["RedisBackplane"]

_FAILURES = (_redis.RedisError, OSError)
# KEYS: counter, stream, bus. ARGV: record, history_size, history_age (ms), now, horizon.
# Stream ids are `<seq>-0`, explicit and increasing; should the counter be lost while
# the stream lives (evicted under maxmemory), it resumes after the stream's last id.
# Age: the entry keeps its publish time (`t`); at most 32 expired entries are deleted
# from the head per publish, and reads skip any left (publishers' clocks, as PostgreSQL).
_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local record = seq .. ' ' .. ARGV[1]
local size = tonumber(ARGV[2])
if size > 0 then
  local added = redis.pcall('XADD', KEYS[2], 'MAXLEN', size, seq .. '-0', 't', ARGV[4], 'm', record)
  if type(added) == 'table' and added.err then
    local info = redis.call('XINFO', 'STREAM', KEYS[2])
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then
        seq = tonumber(string.match(info[i + 1], '^%d+')) + 1
      end
    end
    redis.call('SET', KEYS[1], seq)
    record = seq .. ' ' .. ARGV[1]
    redis.call('XADD', KEYS[2], 'MAXLEN', size, seq .. '-0', 't', ARGV[4], 'm', record)
  end
  local horizon = tonumber(ARGV[5])
  for _ = 1, 32 do
    local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
    if head == nil or (tonumber(head[2][2]) or 0) >= horizon then break end
    redis.call('XDEL', KEYS[2], head[1])
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
local nodes = redis.call('PUBLISH', KEYS[3], record)
return {seq, nodes}
"""
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RedisBackplane:
    """Joins hubs through one Redis server; every hub needs its own instance.

    Args:
        url_or_client: a `redis://` URL (the backplane owns its client) or a
            `redis.asyncio.Redis` you own.
        prefix: before every key and the bus channel; hubs with one prefix see each other.
        history_size: messages kept per channel (0 keeps none).
        history_age: seconds a message stays in the history (a quiet channel's whole
            stream expires this long after its last message).
        timeout: seconds one command may take.
        client_name: `CLIENT SETNAME` of the connections it opens.
        logger: defaults to `get_logger("infrakit.pubsub")`.

    Raises:
        ConfigurationError: the URL is malformed.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "infrakit:pubsub:",
        history_size: int = 1000,
        history_age: float = 300.0,
        timeout: float = 2.0,
        client_name: str = "infrakit-pubsub",
        logger: Logger | None = None,
    ) -> None:
        self.history_size, self.history_age = check_history(history_size, history_age)
        self.prefix, self.timeout, self.client_name = prefix, timeout, client_name
        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            self.url: str | None = register_dsn(url_or_client)
            self._client: Redis = _connect(url_or_client, client_name)
        else:
            self.url, self._client = None, url_or_client
        self._bus = f"{prefix}bus"
        self._script = self._client.register_script(_PUBLISH)
        self._logger = logger
        self._deliver: Deliver | None = None
        self._node_id = ""
        self.malformed = 0
        self._listener = Listener("pubsub redis listener", self._listen_once, self._get_logger)

    def __repr__(self) -> str:
        return f"RedisBackplane({self.url!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Redis:
        """The underlying `redis.asyncio.Redis`."""
        return self._client

    @property
    def restarts(self) -> int:
        """How many times the listener was restarted."""
        return self._listener.restarts

    async def start(self, node_id: str, deliver: Deliver) -> None:
        """Start listening; waits (bounded by `timeout`) until the subscription holds."""
        self._node_id, self._deliver = node_id, deliver
        self._listener.start()
        try:
            async with asyncio.timeout(self.timeout):
                await self._listener.ready.wait()
        except TimeoutError:
            self._get_logger().warning("pubsub redis listener not ready; retrying", url=self.url)

    async def publish(
        self, origin: str, channel: str, event: str, data: Any, exclude: tuple[str, ...]
    ) -> tuple[ChannelMessage, int | None]:
        now = time.time()
        body = _json({"o": origin, "c": channel, "e": event, "d": data, "t": now, "x": exclude})
        keys = [f"{self.prefix}seq:{channel}", self._stream(channel), self._bus]
        horizon = now - self.history_age
        args = [body, self.history_size, int(self.history_age * 1000), repr(now), repr(horizon)]
        seq, nodes = await self._command(self._script, keys=keys, args=args)
        return ChannelMessage(channel, int(seq), event, data, now), int(nodes)

    async def send_control(self, origin: str, payload: Mapping[str, Any]) -> None:
        await self._command(
            self._client.publish, self._bus, "0 " + _json({"o": origin, "p": payload})
        )

    async def history(self, channel: str, since: int) -> list[ChannelMessage] | None:
        async with self._client.pipeline(transaction=False) as pipeline:
            pipeline.get(f"{self.prefix}seq:{channel}")
            pipeline.xrange(self._stream(channel), min=f"{since + 1}-0", max="+")
            last, entries = await self._command(pipeline.execute)
        if since >= int(last or 0):
            return []
        messages = _fresh(entries, time.time() - self.history_age)
        if not messages or messages[0].seq > since + 1:
            return None
        return messages

    async def health(self) -> bool:
        try:
            await self._command(self._client.ping)
        except PubSubBackplaneError:
            return False
        return True

    async def stop(self, node_id: str) -> None:
        await self._listener.stop()

    async def close(self) -> None:
        await self._listener.stop()
        if self._owns_client:
            await self._client.aclose()

    def _stream(self, channel: str) -> str:
        return f"{self.prefix}stream:{channel}"

    async def _command(self, function: Any, *args: Any, **kw: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await function(*args, **kw)
        except _FAILURES as error:
            raise PubSubBackplaneError(
                f"Redis backplane failed ({type(error).__name__}): {mask_dsn(str(error))}",
                details={"url": self.url},
            ) from error

    async def _listen_once(self, connected: Any) -> None:
        pubsub = self._client.pubsub()
        try:
            async with asyncio.timeout(self.timeout):
                await pubsub.subscribe(self._bus)
                await pubsub.get_message(timeout=self.timeout)  # the confirmation
            connected()
            async for record in pubsub.listen():
                await self._received(record)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _received(self, record: Any) -> None:
        """Hand one bus message to the hub; anything malformed is counted and ignored."""
        if not isinstance(record, dict) or record.get("type") != "message":
            return
        item = _item(record.get("data"))
        if item is None:
            self.malformed += 1
            return
        if item.origin != self._node_id and self._deliver is not None:
            await self._deliver(item)

    def _get_logger(self) -> Logger:
        if self._logger is None:
            from infrakit.log import get_logger

            self._logger = get_logger("infrakit.pubsub")
        return self._logger


def _decode(record: Any) -> tuple[dict[str, Any] | None, ChannelMessage | None]:
    """A stored or published record (`<seq> <json>`), or (None, None) when malformed."""
    try:
        text = record.decode() if isinstance(record, bytes) else record
        head, _, body = text.partition(" ")
        seq, fields = int(head), json.loads(body)
    except (AttributeError, ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(fields, dict):
        return None, None
    if seq == 0:
        return fields, None
    try:
        message = ChannelMessage(
            str(fields["c"]), seq, str(fields["e"]), fields.get("d"), float(fields["t"])
        )
    except (KeyError, TypeError, ValueError):
        return None, None
    return fields, message


def _fresh(entries: Any, horizon: float) -> list[ChannelMessage]:
    """The stream entries' messages, those published before `horizon` dropped from the head.

    A malformed entry (written by something else under our prefix) is skipped, so the
    `seq` check that follows reports a gap rather than a crash.
    """
    messages: list[ChannelMessage] = []
    for _, fields in entries:
        message = _decode(fields.get(b"m", fields.get("m")))[1]
        if message is not None and (messages or message.published_at >= horizon):
            messages.append(message)
    return messages


def _item(record: Any) -> BackplaneMessage | None:
    fields, message = _decode(record)
    if fields is None or not isinstance(fields.get("o"), str):
        return None
    if message is not None:
        exclude = fields.get("x")
        excluded = (
            tuple(x for x in exclude if isinstance(x, str)) if isinstance(exclude, list) else ()
        )
        return BackplaneMessage(fields["o"], "message", message=message, exclude=excluded)
    payload = fields.get("p")
    if not isinstance(payload, dict):
        return None
    return BackplaneMessage(fields["o"], "control", control=payload)


def _connect(url: str, client_name: str) -> Redis:
    try:
        client: Redis = _redis.Redis.from_url(
            url, client_name=client_name, socket_timeout=None, socket_connect_timeout=None
        )
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"PUBSUB_REDIS_URL is not a valid Redis URL: {mask_dsn(url)}",
            details={"url": mask_dsn(url)},
        ) from error
    return client
