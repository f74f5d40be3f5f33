"""The PostgreSQL backplane: payloads in a table, `LISTEN/NOTIFY` carries only their id.

Needs the `postgres` extra and an `infrakit.db` database. A publish is one statement:
bump the channel's counter, insert the message, trim the channel to `history_size`
and `pg_notify` the new row's id, so a payload of any size works (NOTIFY's own limit
is 8,000 bytes) and the history is the table itself. The listener holds a connection
of its own, opened from the database's URL, and restarts with backoff when it is lost;
messages it missed meanwhile show to clients as a jump in `seq`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from infrakit._internal.secrets import mask_dsn
from infrakit.errors import ConfigurationError, import_optional
from infrakit.pubsub._errors import PubSubBackplaneError
from infrakit.pubsub._history import check_history
from infrakit.pubsub._listener import Listener
from infrakit.pubsub._protocol import BackplaneMessage, ChannelMessage, Deliver

if TYPE_CHECKING:
    from infrakit.db import Queryable
    from infrakit.log import Logger

__all__ = ["PostgresBackplane"]

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}\Z")
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class PostgresBackplane:
    """Joins hubs through one PostgreSQL database; every hub needs its own instance.

    Args:
        database: an `infrakit.db.Database` (it stays the caller's: not closed here).
        table: the prefix of the two tables (`<table>_channels`, `<table>_messages`)
            and of the notification channel; hubs with one table see each other.
        schema: where the tables live (created by `start()` when missing).
        history_size: messages kept per channel.
        history_age: seconds a message is kept.
        listen_url: the URL of the listening connection; defaults to the database's.
        timeout: seconds one statement may take.
        logger: defaults to `get_logger("infrakit.pubsub")`.

    Raises:
        ConfigurationError: `table` or `schema` is not a plain lower-case identifier.
    """

    def __init__(
        self,
        database: Queryable,
        *,
        table: str = "pubsub",
        schema: str = "public",
        history_size: int = 1000,
        history_age: float = 300.0,
        listen_url: str | None = None,
        timeout: float = 5.0,
        logger: Logger | None = None,
    ) -> None:
        for field, value in (("table", table), ("schema", schema)):
            if not _IDENTIFIER.match(value):
                raise ConfigurationError(
                    f"{field} must be a lower-case identifier", details={"field": field}
                )
        self.history_size, self.history_age = check_history(history_size, history_age)
        self.database, self.timeout = database, timeout
        self.table, self.schema = table, schema
        self._channels = f"{schema}.{table}_channels"
        self._messages = f"{schema}.{table}_messages"
        self._bus = f"{table}_bus"
        self._listen_url = listen_url
        self._logger = logger
        self._deliver: Deliver | None = None
        self._node_id = ""
        self._published = 0
        self.malformed = 0
        self._listener = Listener("pubsub postgres listener", self._listen_once, self._get_logger)

    def __repr__(self) -> str:
        return f"PostgresBackplane(table={self.schema}.{self.table!r})"

    @property
    def restarts(self) -> int:
        return self._listener.restarts

    async def setup(self) -> None:
        """Create the tables when missing (idempotent; safe from several processes)."""
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self._channels} "
            "(channel text PRIMARY KEY, seq bigint NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self._messages} (id bigserial PRIMARY KEY, "
            "kind text NOT NULL, channel text, seq bigint, event text, data jsonb, "
            "origin text NOT NULL, exclude text[] NOT NULL DEFAULT '{}', "
            "published_at double precision NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_messages_channel_seq "
            f"ON {self._messages} (channel, seq)",
        ]
        async with self.database.transaction() as transaction:  # type: ignore[attr-defined]
            await transaction.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (self._messages,)
            )
            for statement in statements:
                await transaction.execute(statement)

    async def start(self, node_id: str, deliver: Deliver) -> None:
        await self._command(self.setup)
        self._node_id, self._deliver = node_id, deliver
        self._listener.start()
        try:
            async with asyncio.timeout(self.timeout):
                await self._listener.ready.wait()
        except TimeoutError:
            self._get_logger().warning("pubsub postgres listener not ready; retrying")

    async def publish(
        self, origin: str, channel: str, event: str, data: Any, exclude: tuple[str, ...]
    ) -> tuple[ChannelMessage, int | None]:
        now = time.time()
        sql = (
            f"WITH s AS (INSERT INTO {self._channels} AS c VALUES (%(channel)s, 1) "
            "ON CONFLICT (channel) DO UPDATE SET seq = c.seq + 1 RETURNING seq), "
            f"m AS (INSERT INTO {self._messages} "
            "(kind, channel, seq, event, data, origin, exclude, published_at) "
            "SELECT 'message', %(channel)s, s.seq, %(event)s, %(data)s::jsonb, "
            "%(origin)s, %(exclude)s, %(now)s FROM s RETURNING id, seq), "
            f"d AS (DELETE FROM {self._messages} WHERE channel = %(channel)s "
            "AND seq <= (SELECT seq FROM s) - %(size)s) "
            "SELECT m.seq, pg_notify(%(bus)s, m.id::text) FROM m"
        )
        params = {
            "channel": channel,
            "event": event,
            "data": _json(data),
            "origin": origin,
            "exclude": list(exclude),
            "now": now,
            "size": max(self.history_size, 1),
            "bus": self._bus,
        }
        row = await self._command(self.database.fetch_one, sql, params)
        await self._maybe_prune()
        return ChannelMessage(channel, int(row["seq"]), event, data, now), None

    async def send_control(self, origin: str, payload: Mapping[str, Any]) -> None:
        sql = (
            f"WITH m AS (INSERT INTO {self._messages} (kind, data, origin, published_at) "
            "VALUES ('control', %s::jsonb, %s, %s) RETURNING id) "
            "SELECT pg_notify(%s, m.id::text) FROM m"
        )
        await self._command(
            self.database.fetch_one, sql, (_json(payload), origin, time.time(), self._bus)
        )

    async def history(self, channel: str, since: int) -> list[ChannelMessage] | None:
        last = await self._command(
            self.database.fetch_value,
            f"SELECT seq FROM {self._channels} WHERE channel = %s",
            (channel,),
        )
        if since >= int(last or 0):
            return []
        rows = await self._command(
            self.database.fetch_all,
            f"SELECT seq, event, data, published_at FROM {self._messages} "
            "WHERE kind = 'message' AND channel = %s AND seq > %s AND published_at >= %s "
            "ORDER BY seq",
            (channel, since, time.time() - self.history_age),
        )
        if not rows or int(rows[0]["seq"]) > since + 1:
            return None
        return [
            ChannelMessage(channel, int(r["seq"]), r["event"], r["data"], float(r["published_at"]))
            for r in rows
        ]

    async def health(self) -> bool:
        try:
            await self._command(self.database.fetch_value, "SELECT 1")
        except PubSubBackplaneError:
            return False
        return True

    async def stop(self, node_id: str) -> None:
        await self._listener.stop()

    async def close(self) -> None:
        await self._listener.stop()

    async def _maybe_prune(self) -> None:
        """Every 500 publishes, drop messages past `history_age` and old control rows."""
        self._published += 1
        if self._published % 500:
            return
        await self._command(
            self.database.execute,
            f"DELETE FROM {self._messages} "
            "WHERE published_at < %s OR (kind = 'control' AND published_at < %s)",
            (time.time() - self.history_age, time.time() - 60.0),
        )

    async def _command(self, function: Any, *args: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await function(*args)
        except PubSubBackplaneError:
            raise
        except Exception as error:
            raise PubSubBackplaneError(
                f"PostgreSQL backplane failed ({type(error).__name__}): {mask_dsn(str(error))}"
            ) from error

    async def _listen_once(self, connected: Any) -> None:
        """LISTEN on one connection of our own; read notified rows on a second one.

        Neither comes from the database's pool, so stopping the listener never
        cancels a pooled query.
        """
        psycopg = import_optional("psycopg", extra="postgres")
        rows = import_optional("psycopg.rows", extra="postgres")
        url = self._listen_url or _database_url(self.database)
        if url is None:
            raise ConfigurationError("PostgresBackplane needs listen_url for this database")
        connect = psycopg.AsyncConnection.connect
        name = f"infrakit-pubsub-{self.table}"[:63]
        async with asyncio.timeout(self.timeout):
            listening = await connect(url, autocommit=True, application_name=name)
            reader = await connect(
                url, autocommit=True, application_name=name, row_factory=rows.dict_row
            )
        async with listening, reader:
            await listening.execute(f"LISTEN {self._bus}")
            connected()
            async for notification in listening.notifies():
                await self._received(notification.payload, reader)

    async def _received(self, payload: str, reader: Any) -> None:
        """Fetch the notified row and hand it to the hub; a bad one is counted, ignored."""
        try:
            identifier = int(payload)
        except ValueError:
            self.malformed += 1
            return
        async with asyncio.timeout(self.timeout):
            cursor = await reader.execute(
                f"SELECT kind, channel, seq, event, data, origin, exclude, published_at "
                f"FROM {self._messages} WHERE id = %s",
                (identifier,),
            )
            row = await cursor.fetchone()
        item = _item(row)
        if item is None:
            self.malformed += 1
        elif item.origin != self._node_id and self._deliver is not None:
            await self._deliver(item)

    def _get_logger(self) -> Logger:
        if self._logger is None:
            from infrakit.log import get_logger

            self._logger = get_logger("infrakit.pubsub")
        return self._logger


def _item(row: Any) -> BackplaneMessage | None:
    if row is None:
        return None  # pruned before we read it
    if row["kind"] == "control":
        data = row["data"]
        return (
            BackplaneMessage(row["origin"], "control", control=data)
            if isinstance(data, dict)
            else None
        )
    message = ChannelMessage(
        row["channel"], int(row["seq"]), row["event"], row["data"], float(row["published_at"])
    )
    return BackplaneMessage(
        row["origin"], "message", message=message, exclude=tuple(row["exclude"])
    )


def _database_url(database: Any) -> str | None:
    """The URL of an `infrakit.db.Database` (its settings), or None for other Protocols."""
    url = getattr(getattr(database, "settings", None), "url", None)
    secret = getattr(url, "get_secret_value", None)
    if callable(secret):
        return str(secret())
    return url if isinstance(url, str) else None
