"""A Redis client from a URL, with its options checked before redis-py sees them.

redis-py passes an unknown query option (`?sockettimeout=1`) to the connection class,
which fails at the first command with a `TypeError`; a value it cannot parse is a bare
`ValueError` quoting nothing useful. Both become a `ConfigurationError` naming the
option here, at construction. No socket timeout is set: the cache bounds each command
with its own `asyncio.timeout` (redis-py's socket timeout wraps every send in
`asyncio.wait_for`, a task per command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from infrakit._internal.secrets import mask_dsn
from infrakit.errors import ConfigurationError, import_optional

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["URL_OPTIONS", "connect", "connect_blocking"]

_redis = import_optional("redis.asyncio", extra="redis")
_connection = import_optional("redis.asyncio.connection", extra="redis")
_retry = import_optional("redis.asyncio.retry", extra="redis")
_backoff = import_optional("redis.backoff", extra="redis")

URL_OPTIONS = frozenset(_connection.URL_QUERY_ARGUMENT_PARSERS) | {
    "client_name",
    "decode_responses",
    "encoding",
    "encoding_errors",
    "lib_name",
    "lib_version",
    "password",
    "path",
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_cert_reqs",
    "ssl_certfile",
    "ssl_ciphers",
    "ssl_keyfile",
    "ssl_password",
    "username",
}
"""The query options a cache URL may carry (redis-py's parsed ones and its string ones)."""


def connect(url: str, client_name: str, retries: int) -> Redis:
    """A client that reconnects and retries on a dropped connection (`from_url` does not).

    Raises:
        ConfigurationError: an unknown query option, a value redis-py cannot parse, or
            a malformed URL; the message names the option and shows the URL masked.
    """
    client: Redis = _from_url(_redis, _retry.Retry, url, client_name, retries, None)
    return client


def connect_blocking(url: str, client_name: str, retries: int, timeout: float | None) -> Any:
    """`connect` for redis-py's blocking client (`infrakit.cache.sync`).

    A blocking socket's timeout costs nothing per call, so `timeout` bounds each
    command there, where the async cache uses its own `asyncio.timeout`.
    """
    blocking = import_optional("redis", extra="redis")
    retry = import_optional("redis.retry", extra="redis")
    return _from_url(blocking, retry.Retry, url, client_name, retries, timeout)


def _from_url(
    module: Any,
    retry_class: Any,
    url: str,
    client_name: str,
    retries: int,
    timeout: float | None,
) -> Any:
    _check_options(url)
    retry = retry_class(_backoff.ExponentialBackoff(cap=0.5, base=0.01), retries)
    try:
        return module.Redis.from_url(
            url,
            client_name=client_name,
            retry=retry,
            retry_on_error=[module.ConnectionError, module.TimeoutError],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"CACHE_URL is not a valid Redis URL ({mask_dsn(str(error))}): {mask_dsn(url)}",
            details={"url": mask_dsn(url)},
        ) from error


def _check_options(url: str) -> None:
    try:
        query = urlsplit(url).query
    except ValueError as error:
        raise ConfigurationError(
            "CACHE_URL is not a valid URL", details={"url": mask_dsn(url)}
        ) from error
    for name, _ in parse_qsl(query, keep_blank_values=True):
        if name not in URL_OPTIONS:
            raise ConfigurationError(
                f"CACHE_URL has an unknown option {name!r}; known options: "
                + ", ".join(sorted(URL_OPTIONS)),
                details={"option": name, "url": mask_dsn(url)},
            )
