"""Connection strings: every password form masked, a malformed one refused at construction."""

from __future__ import annotations

import io
import logging

import pytest

from infrakit._internal.secrets import mask_known_secrets
from infrakit.db import Database, DatabaseSettings, DatabaseUnavailableError
from infrakit.errors import ConfigurationError
from tests.recording import RecordingLogger

# (DSN, the secret texts that must never show). Each is a form libpq accepts.
ACCEPTED = [
    ("postgresql://app:s3cr3t-pw@127.0.0.1:5432/test", ["s3cr3t-pw"]),
    ("postgresql://app:pa#ss-word1@127.0.0.1/test", ["pa#ss-word1", "ss-word1"]),
    ("postgresql://app:pa?ss-word2@127.0.0.1/test", ["pa?ss-word2", "ss-word2"]),
    ("postgresql://app:p%40ss%2Fword3@127.0.0.1/test", ["p@ss/word3", "p%40ss%2Fword3"]),
    ("postgres://app:pw-in-ipv6@[::1]:5432/test", ["pw-in-ipv6"]),
    ("postgresql://app:pw-two-hosts@h1:5432,h2:5433/test", ["pw-two-hosts"]),
    ("postgresql://127.0.0.1/test?user=app&password=query-pw-1", ["query-pw-1"]),
    ("postgresql://127.0.0.1/test?user=app&pass%77ord=query-pw-2", ["query-pw-2"]),
    ("postgresql://127.0.0.1/test?password=query%23pw%3F3", ["query%23pw%3F3", "query#pw?3"]),
    ("host=127.0.0.1 dbname=test password=kv-secret-1", ["kv-secret-1"]),
    ("host=127.0.0.1 password = kv-secret-2 dbname=test", ["kv-secret-2"]),
    ("host=127.0.0.1 password='kv secret 3' dbname=test", ["kv secret 3", "secret 3"]),
    (r"host=127.0.0.1 password='it\'s kv 4' dbname=test", ["it's kv 4", "kv 4"]),
]

# Forms libpq refuses or misreads; the text after the DSN must not show in any message.
MALFORMED = [
    ("postgresql://app:bad%zzpass@127.0.0.1/test", ["bad%zzpass", "zzpass"]),
    ("postgresql://app:pw@127.0.0.1/test?application_name=a%zzsecret", ["zzsecret"]),
    ("postgresql://app:split/secret@127.0.0.1/test", ["split", "secret"]),
    ("postgresql://app:at@secret9@127.0.0.1/test", ["at@secret9", "secret9"]),
    ("host=127.0.0.1 password=spaced secret", ["spaced", "secret"]),
    ("host=127.0.0.1 password='unterminated-secret", ["unterminated-secret"]),
    ("postgresql://app:pw-unknown@127.0.0.1/test?bogus=1", ["pw-unknown"]),
    ("just-a-secret-word", ["just-a-secret-word"]),
]


@pytest.mark.parametrize(("dsn", "secrets"), ACCEPTED)
def test_every_accepted_form_is_masked_in_repr_and_settings(dsn: str, secrets: list[str]) -> None:
    database = Database(dsn)
    shown = [repr(database), database.settings.redacted_url, repr(database.settings)]
    for text in shown:
        for secret in secrets:
            assert secret not in text, text
    assert "***" in repr(database)


@pytest.mark.parametrize(("dsn", "secrets"), ACCEPTED)
def test_constructing_registers_the_passwords_for_the_log_pipeline(
    dsn: str, secrets: list[str]
) -> None:
    Database(dsn)
    line = f"libpq said: could not connect with {secrets[0]!s} here"
    assert secrets[0] not in mask_known_secrets(line)


@pytest.mark.parametrize(("dsn", "secrets"), MALFORMED)
def test_a_malformed_dsn_is_a_configuration_error_that_quotes_no_secret(
    dsn: str, secrets: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Database(dsn)
    error = caught.value
    assert not isinstance(error, ValueError)
    assert error.details["field"] == "url"
    assert error.__cause__ is None  # libpq's own message quotes the text it could not read
    shown = str(error) + repr(error.details) + str(error.to_problem(expose_internal=True))
    for secret in secrets:
        assert secret not in shown, shown


def test_a_malformed_dsn_names_the_parameter_libpq_refused() -> None:
    with pytest.raises(ConfigurationError, match='invalid URI query parameter: "bogus"'):
        Database("postgresql://app:pw-unknown@127.0.0.1/test?bogus=1")


def test_settings_with_a_malformed_url_fail_when_the_database_is_built() -> None:
    settings = DatabaseSettings(url="postgresql://app:bad%zzpass@127.0.0.1/test")
    with pytest.raises(ConfigurationError, match="malformed"):
        Database(settings)


def test_repr_never_raises_even_half_built() -> None:
    half_built = Database.__new__(Database)
    assert repr(half_built) == "Database('***')"


async def test_connection_errors_never_show_the_password(
    recording_logger: RecordingLogger,
) -> None:
    database = Database(
        "postgresql://postgres:pw-hidden%23x@127.0.0.1:1/test",
        acquire_timeout=0.3,
        logger=recording_logger,
    )
    with pytest.raises(DatabaseUnavailableError) as caught:
        await database.open()
    shown = str(caught.value) + repr(caught.value.details) + recording_logger.text()
    for secret in ("pw-hidden", "pw-hidden#x", "pw-hidden%23x"):
        assert secret not in shown
    assert "postgres:***@127.0.0.1:1/test" in str(caught.value)


@pytest.mark.postgres
async def test_pool_retry_warnings_through_intercept_stdlib_carry_no_password(
    database_url: str,
) -> None:
    """psycopg_pool logs each failed connection attempt at WARNING, quoting libpq's text."""
    from infrakit.log import configure_logging, intercept_stdlib, shutdown_logging

    password = "pool-retry-secret"
    # Unreachable port with the password also placed where libpq repeats it verbatim
    # in its error text (an unknown host name).
    dsn = f"postgresql://postgres:{password}@{password}.invalid:5432/test"
    stream = io.StringIO()
    configure_logging("DEBUG", format="json", sinks=[stream], stdlib=True)
    intercept_stdlib(["psycopg"])
    try:
        database = Database(dsn, acquire_timeout=1.0, min_size=1)
        with pytest.raises(DatabaseUnavailableError):
            await database.open()
        logging.getLogger("psycopg.pool").warning("final check %s", dsn)
    finally:
        shutdown_logging()
    written = stream.getvalue()
    assert "error connecting" in written  # the pool's own retry lines were captured
    assert password not in written
