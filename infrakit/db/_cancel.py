"""What becomes of a connection whose task was cancelled (or interrupted) while using it.

psycopg answers a cancellation during a statement by asking the server to cancel it
and waiting for the statement to stop. A second cancellation interrupts that wait, and
psycopg then closes the socket without knowing whether the server stopped. PostgreSQL
does not notice a closed socket while a statement runs, so the statement would go on,
holding its locks, until it ends by itself (`pg_sleep(30)`: thirty seconds).

So after any interruption the connection is settled in a task of its own, which later
cancellations of the caller cannot interrupt (the caller waits for it, bounded, then
re-raises its own cancellation):

- idle: the cancel was confirmed; the connection goes back to the pool;
- in a transaction: rolled back, then back to the pool;
- anything else (a statement still running, a closed socket, a rollback that fails or
  does not answer within 5 s): the cancel request is sent again with the key saved when
  the connection opened, and the connection is closed and never reused. The cancelled
  backend then reads the closed socket, ends its session and releases its locks.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from infrakit.log import Logger

__all__ = ["remember_cancel_key", "settle"]

_SETTLE_SECONDS = 5.0
_IDLE, _IN_TRANSACTION, _IN_ERROR = 0, 2, 3  # psycopg.pq.TransactionStatus values
Release = Callable[["AsyncConnection[Any]"], Awaitable[None]]

_cancel_keys: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


async def remember_cancel_key(connection: AsyncConnection[Any]) -> None:
    """The pool's `configure` hook: keep the key that cancels this connection's statements.

    libpq can build it only while the connection is open; psycopg may close it first.
    """
    _cancel_keys[connection] = connection.pgconn.get_cancel()


async def settle(
    connection: AsyncConnection[Any], release: Release, logger: Logger, *, reuse: bool = True
) -> None:
    """Leave nothing running on the server for `connection`, then `release` it.

    Further cancellations of the caller are absorbed until this is done (at most about
    `2 * _SETTLE_SECONDS`); the caller re-raises the interruption it is handling.
    With `reuse=False` the connection is always closed (it may hold session state).
    """
    task = asyncio.ensure_future(_settle(connection, release, logger, reuse))
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue


async def _settle(
    connection: AsyncConnection[Any], release: Release, logger: Logger, reuse: bool
) -> None:
    try:
        if reuse and await _made_idle(connection):
            await release(connection)
            return
    except Exception:  # a rollback that failed or hung: the connection is discarded below
        logger.debug("rollback after an interruption failed")
    try:
        await _discard(connection, release, logger, unexpected=reuse)
    except Exception as error:  # never replace the interruption the caller is handling
        logger.warning("discarding a connection failed", error=type(error).__name__)


async def _made_idle(connection: AsyncConnection[Any]) -> bool:
    status = connection.pgconn.transaction_status
    if status == _IDLE:
        return True
    if status not in (_IN_TRANSACTION, _IN_ERROR):
        return False  # still running (unconfirmed cancel) or closed
    async with asyncio.timeout(_SETTLE_SECONDS):
        await connection.execute("ROLLBACK")
    return bool(connection.pgconn.transaction_status == _IDLE)


async def _discard(
    connection: AsyncConnection[Any], release: Release, logger: Logger, *, unexpected: bool
) -> None:
    key = _cancel_keys.get(connection)
    cancel_sent = False
    if key is not None:
        try:
            async with asyncio.timeout(_SETTLE_SECONDS):
                await asyncio.to_thread(key.cancel)
            cancel_sent = True
        except Exception as error:
            logger.warning("cancel request failed", error=type(error).__name__)
    try:
        await connection.close()
    finally:
        await release(connection)  # the pool counts it as lost and opens a new one
    if unexpected:  # a connection meant to be kept could not be made idle
        logger.warning("connection discarded after an interruption", cancel_sent=cancel_sent)
