"""What both forms of `Database` share: settings, masking, statistics, error translation.

`infrakit.db.Database` (asyncio) and `infrakit.db.sync.Database` (blocking) differ only
in their I/O calls; everything they decide (the merged settings, the masked URL, the
pool and connection options, how a failure is translated, counted and logged, when a
query is slow, the retry policy of `with_transaction`) is written here once.
"""

from __future__ import annotations

import select
import time
from typing import TYPE_CHECKING, Any

from infrakit._internal.secrets import MASK
from infrakit.db._cancel import remember_cancel_key
from infrakit.db._dsn import checked_dsn
from infrakit.db._errors import (
    DatabaseTimeoutError,
    TransactionConflictError,
    is_retryable,
    translate_error,
)
from infrakit.db._executor import Params, _TupleRow
from infrakit.db._settings import DatabaseSettings
from infrakit.db._stats import ConnectionStats, StatsRecorder
from infrakit.db._transaction import begin_statement
from infrakit.errors import ConfigurationError, DatabaseError, ValidationError, json_pointer

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["DatabaseCore", "checked_isolation", "has_pending_input", "redact_params"]

HEALTH_TIMEOUT = 5.0


class DatabaseCore:
    """The state and decisions of a `Database`, without its I/O."""

    _stats_type: type[StatsRecorder] = StatsRecorder  # the blocking form's is locked

    def __init__(
        self,
        settings: str | DatabaseSettings,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        acquire_timeout: float | None = None,
        statement_timeout: float | None = None,
        slow_query_threshold: float | None = None,
        application_name: str | None = None,
        logger: Logger | None = None,
    ) -> None:
        if isinstance(settings, str):
            settings = DatabaseSettings(url=settings)
        self._display_url = checked_dsn(settings.url.get_secret_value())
        overrides = {
            "pool_min_size": min_size,
            "pool_max_size": max_size,
            "acquire_timeout": acquire_timeout,
            "statement_timeout": statement_timeout,
            "slow_query_threshold": slow_query_threshold,
            "application_name": application_name,
        }
        changes = {key: value for key, value in overrides.items() if value is not None}
        self.settings = _merged(settings, changes)
        self._logger = logger if logger is not None else _default_logger()
        self._stats = self._stats_type()
        self._slow_seconds = self.settings.slow_query_threshold
        self._pool: Any = None  # psycopg_pool's AsyncConnectionPool or ConnectionPool
        self._rows: Any = None

    _display_url = MASK  # until __init__ has checked the URL: repr() never raises

    def __repr__(self) -> str:
        return f"Database({self._display_url!r})"

    def get_stats(self, reset: bool = False) -> ConnectionStats:
        """Counters, duration percentiles and pool figures; `reset=True` starts them again."""
        pool: dict[str, int] = {}
        if self._pool is not None:
            pool = self._pool.pop_stats() if reset else self._pool.get_stats()
        snapshot = self._stats.snapshot(pool)
        if reset:
            self._stats.reset()
        return snapshot

    def _pool_arguments(self) -> dict[str, Any]:
        """The psycopg_pool constructor arguments, the same for both pool classes.

        The `configure` hook is the async form's; the blocking form replaces it.
        """
        settings = self.settings
        return {
            "conninfo": settings.url.get_secret_value(),
            "min_size": settings.pool_min_size,
            "max_size": max(settings.pool_max_size, settings.pool_min_size),
            "timeout": settings.acquire_timeout,
            "kwargs": self._connection_options(),
            "configure": remember_cancel_key,
            "name": settings.application_name,
            "open": False,
        }

    def _retry_arguments(self, retries: int) -> dict[str, Any]:
        """tenacity's arguments for `with_transaction`: re-run on 40001 / 40P01 only.

        Exponential backoff with full jitter, at most 1 s per wait.
        """
        from tenacity import retry_if_exception, stop_after_attempt, wait_random_exponential

        return {
            "stop": stop_after_attempt(max(retries, 0) + 1),
            "wait": wait_random_exponential(multiplier=0.01, max=1.0),
            "retry": retry_if_exception(is_retryable),
            "before_sleep": self._log_retry,
            "reraise": True,
            **self._retry_sleep(),
        }

    def _retry_sleep(self) -> dict[str, Any]:
        """How tenacity waits between attempts: its own default (the blocking form's seam)."""
        return {}

    def _pool_figures(self) -> dict[str, int]:
        return self._pool.get_stats() if self._pool is not None else {}

    def _record(self, sql: str, params: Params, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._stats.record(elapsed)
        if elapsed >= self._slow_seconds:
            self._stats.record_slow()
            self._logger.warning(
                "slow query",
                sql=sql,
                params=redact_params(params),
                duration_ms=round(elapsed * 1000, 3),
            )

    def _failed(self, error: Exception, sql: str, params: Params) -> DatabaseError:
        """Translate, count and log a failure; the caller raises the result `from error`."""
        if isinstance(error, DatabaseError):
            return error
        if isinstance(error, TimeoutError):
            translated: DatabaseError = DatabaseTimeoutError(
                "The database call did not finish within its timeout."
            )
        elif _is_row_mapping_error(error):
            translated = DatabaseError(
                "Rows do not fit the requested row_type.", details=_row_mismatch(error)
            )
        else:
            translated = translate_error(error)
        sqlstate = translated.details.get("sqlstate")
        self._stats.record_error(sqlstate or translated.code)
        if translated.status_code >= 500:
            log = self._logger.error
        elif isinstance(translated, TransactionConflictError):
            log = self._logger.debug  # expected under contention; retried or re-raised
        else:
            log = self._logger.info
        log(
            "query failed",
            code=translated.code,
            sqlstate=sqlstate,
            sql=sql,
            params=redact_params(params),
            error=type(error).__name__,
        )
        return translated

    def _log_retry(self, retry_state: Any) -> None:
        outcome = retry_state.outcome.exception() if retry_state.outcome else None
        self._logger.debug(
            "transaction conflict, retrying",
            attempt=retry_state.attempt_number,
            sqlstate=getattr(outcome, "details", {}).get("sqlstate"),
            wait_ms=round(retry_state.upcoming_sleep * 1000, 3),
        )

    def _row_factory(self, row_type: type[Any] | None) -> Any:
        if row_type is None:
            return self._rows.dict_row
        if row_type is _TupleRow:
            return self._rows.tuple_row
        return self._rows.class_row(row_type)

    def _connection_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "autocommit": True,
            "application_name": self.settings.application_name,
        }
        if self.settings.statement_timeout is not None:
            milliseconds = int(self.settings.statement_timeout * 1000)
            options["options"] = f"-c statement_timeout={milliseconds}"
        return options


def redact_params(params: Params) -> Any:
    """Parameter types only: values may be secrets or personal data, so they never log."""
    if params is None:
        return None
    if isinstance(params, dict):
        return {key: type(value).__name__ for key, value in params.items()}
    return [type(value).__name__ for value in params]


def has_pending_input(connection: Any) -> bool:
    """Input, EOF or an error waiting on an idle connection's socket, without blocking.

    `poll` has no FD_SETSIZE limit and costs less than `select`; `select` remains for
    platforms without `poll`.
    """
    try:
        descriptor = connection.pgconn.socket
        if _POLL is None:
            readable, _, _ = select.select([descriptor], [], [], 0)
            return bool(readable)
        poller = _POLL()
        poller.register(descriptor, select.POLLIN)
        return bool(poller.poll(0))
    except (ValueError, OSError):  # a closed descriptor: let the query decide
        return False


_POLL = getattr(select, "poll", None)


def _row_mismatch(error: Any) -> dict[str, Any]:
    """The fields that did not fit and why (pydantic's error types), never the row's values.

    pydantic's message quotes the input (`input_value='ann@example.com'`): row data.
    """
    problems = [
        {"field": ".".join(map(str, item.get("loc", ()))), "type": item.get("type")}
        for item in error.errors(include_url=False)[:20]
    ]
    return {"fields": problems}


def _is_row_mapping_error(error: Exception) -> bool:
    import pydantic

    return isinstance(error, pydantic.ValidationError)


def _merged(settings: DatabaseSettings, changes: dict[str, Any]) -> DatabaseSettings:
    """`settings` with the constructor's overrides; a bad one names its field, not its value."""
    import pydantic

    try:
        return settings.model_validate({**settings.model_dump(), **changes})
    except pydantic.ValidationError as error:
        fields = sorted({".".join(map(str, item["loc"])) for item in error.errors()})
        raise ConfigurationError(
            f"Invalid database option(s): {', '.join(fields)}.", details={"fields": fields}
        ) from error


def checked_isolation(isolation: str) -> str:
    try:
        begin_statement(isolation, False)
    except KeyError:
        raise ValidationError(
            "Unknown isolation level; use serializable, repeatable_read or read_committed.",
            errors=[{"pointer": json_pointer(["isolation"]), "detail": "unknown isolation level"}],
        ) from None
    return isolation


def _default_logger() -> Logger:
    from infrakit.log import get_logger

    return get_logger("infrakit.db")
