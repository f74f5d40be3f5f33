"""Redis URLs: options checked up front, the password registered and shown only masked."""

from __future__ import annotations

import pytest

from infrakit._internal.secrets import mask_known_secrets
from infrakit.cache import RedisCache, cache_from_url
from infrakit.errors import ConfigurationError
from tests.recording import RecordingLogger

PASSWORD = "s3cr3t-cache-pass-77"


@pytest.mark.parametrize(
    "query", ["sockettimeout=1", "bogus=", "socket_timeout=1&Db=2", "%70refix=x", "ssl=true"]
)
def test_an_unknown_url_option_is_a_configuration_error_naming_it(query: str) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:1/0?{query}"
    with pytest.raises(ConfigurationError) as raised:
        RedisCache(url)
    error = raised.value
    assert error.details["option"] in error.message
    assert PASSWORD not in error.message + repr(error.details)
    assert error.details["url"] == "redis://:***@127.0.0.1:1/0?" + query


@pytest.mark.parametrize("query", ["db=abc", "max_connections=lots", "protocol=two"])
def test_a_url_option_redis_cannot_parse_is_a_configuration_error(query: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        cache_from_url(f"redis://:{PASSWORD}@127.0.0.1:1/0?{query}")
    assert query.split("=")[0] in raised.value.message
    assert PASSWORD not in raised.value.message + repr(raised.value.details)


def test_known_options_are_accepted() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0?db=2&health_check_interval=5&client_name=x")
    assert cache.client.connection_pool.connection_kwargs["db"] == 2


def test_an_unknown_memory_option_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="maxsize"):
        cache_from_url("memory://?maxsize=5")


async def test_the_password_is_registered_and_only_shown_masked() -> None:
    logger = RecordingLogger()
    cache = RedisCache(f"redis://:{PASSWORD}@127.0.0.1:1/0", logger=logger, retries=0)
    try:
        assert cache.url == "redis://:***@127.0.0.1:1/0"
        assert PASSWORD not in repr(cache)
        assert mask_known_secrets(f"libpq said {PASSWORD}!") == "libpq said ***!"
        for _ in range(5):
            await cache.get("key")
        await cache.health()
        assert logger.records  # the outage was reported ...
        assert PASSWORD not in logger.text()  # ... without the password
    finally:
        await cache.close()


def test_no_socket_timeout_underneath_our_own_timeout() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", timeout=0.5)
    options = cache.client.connection_pool.connection_kwargs
    assert options.get("socket_timeout") is None
    assert options.get("socket_connect_timeout") is None
    assert cache.timeout == 0.5
