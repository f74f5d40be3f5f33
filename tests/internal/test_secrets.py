"""The shared secret rules: key names, every DSN form, and the registry of known values."""

from __future__ import annotations

import pytest

from infrakit._internal import secrets
from infrakit._internal.secrets import (
    MASK,
    dsn_passwords,
    is_sensitive_key,
    mask_dsn,
    mask_known_secrets,
    register_dsn,
    register_secret,
)

# (DSN, the password text that must not survive masking)
DSNS = [
    ("postgresql://app:p#ss?w/rd@db.example:5432/app", "p#ss?w/rd"),
    ("postgresql://app:p%zzword@db/app", "p%zzword"),
    ("postgresql://app:s%40cr%2Fet@db/app", "s%40cr%2Fet"),
    ("postgres://app:a@b@c@[::1]:5432/app?sslmode=require", "a@b@c"),
    ("postgresql://app:v6-pass@[2001:db8::1]:5432/app", "v6-pass"),
    ("postgresql://app@db/app?password=hunter22&sslmode=require", "hunter22"),
    ("postgresql://app@db/app?pass%77ord=hunter22", "hunter22"),
    ("postgresql://app@db/app?sslmode=require&PASSWORD=Hunter22#frag", "Hunter22"),
    ("host=db password = 'a b\\' c' dbname=app", "a b\\' c"),
    ("host=db password=plainpass dbname=app", "plainpass"),
    ("host=db sslpassword=keypass1 dbname=app", "keypass1"),
    ("redis://:r3disPass@127.0.0.1:6379/0", "r3disPass"),
    ("rediss://default:tls-pass@cache:6380/1", "tls-pass"),
    ("amqp://guest:gu%40est@rabbit:5672/vhost", "gu%40est"),
]


@pytest.mark.parametrize(("dsn", "password"), DSNS)
def test_every_dsn_form_is_masked(dsn: str, password: str) -> None:
    masked = mask_dsn(dsn)
    assert password not in masked
    assert MASK in masked


@pytest.mark.parametrize(("dsn", "password"), DSNS)
def test_the_password_is_found_in_its_forms(dsn: str, password: str) -> None:
    found = dsn_passwords(dsn)
    assert any(password.replace("\\", "") in form or form in password for form in found), found


def test_masking_keeps_what_is_not_secret() -> None:
    assert mask_dsn("postgresql://app:pw@db:5432/app?sslmode=require") == (
        f"postgresql://app:{MASK}@db:5432/app?sslmode=require"
    )
    assert mask_dsn("postgresql://db/app") == "postgresql://db/app"
    assert mask_dsn("host=db dbname=app") == "host=db dbname=app"


@pytest.mark.parametrize("value", ["", "://", "postgresql://", "%%%", "a=" * 100, "\x00\udcff"])
def test_masking_never_raises(value: str) -> None:
    assert isinstance(mask_dsn(value), str)
    assert isinstance(dsn_passwords(value), list)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "DATABASE_PASSWORD",
        "db_passwd",
        "pwd",
        "passphrase",
        "auth",
        "Authorization",
        "private_key",
        "privateKey",
        "jwt",
        "bearerToken",
        "sid",
        "X-Api-Key",
        "SessionId",
        "SECRET_KEY",
        "client_secret",
        "cookies",
        "refresh_token",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "key",
        "author",
        "side",
        "MONKEY_COUNT",
        "KEYBOARD_LAYOUT",
        "PASSWORD_FILE",
        "DATABASE_URL",
        "user",
        "path",
        "status",
    ],
)
def test_ordinary_keys(key: str) -> None:
    assert not is_sensitive_key(key)


def test_registered_values_are_masked_in_any_text() -> None:
    register_secret("registry-secret-1")
    register_dsn("postgresql://app:dsn-secret-2@db/app")
    text = 'connection to "app:dsn-secret-2@db" failed; token registry-secret-1'
    masked = mask_known_secrets(text)
    assert "dsn-secret-2" not in masked
    assert "registry-secret-1" not in masked
    assert masked.count(MASK) == 2


def test_the_json_escaped_form_is_registered() -> None:
    register_secret('quote"back\\slash')
    assert 'quote\\"back\\\\slash' not in mask_known_secrets('{"m": "quote\\"back\\\\slash"}')


def test_short_values_are_not_registered() -> None:
    version = secrets.registry_version()
    register_secret("abc")
    assert secrets.registry_version() == version
    assert mask_known_secrets("abc") == "abc"
