"""A Redis client from a URL, with its options checked before redis-py sees them.

redis-py passes an unknown query option (`?sockettimeout=1`) to the connection class,
which fails at the first command with a `TypeError`; a value it cannot parse is a bare
`ValueError` quoting nothing useful. Both become a `ConfigurationError` naming the
option here, at construction. No socket timeout is set: the cache bounds each command
with its own `asyncio.timeout` (redis-py's socket timeout wraps every send in
`asyncio.wait_for`, a task per command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from infrakit._internal.secrets import mask_dsn
from infrakit.errors import ConfigurationError, import_optional

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["URL_OPTIONS", "connect"]

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
    _check_options(url)
    retry = _retry.Retry(_backoff.ExponentialBackoff(cap=0.5, base=0.01), retries)
    try:
        client: Redis = _redis.Redis.from_url(
            url,
            client_name=client_name,
            retry=retry,
            retry_on_error=[_redis.ConnectionError, _redis.TimeoutError],
            socket_timeout=None,
            socket_connect_timeout=None,
        )
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"CACHE_URL is not a valid Redis URL ({mask_dsn(str(error))}): {mask_dsn(url)}",
            details={"url": mask_dsn(url)},
        ) from error
    return client


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
