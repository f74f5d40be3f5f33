"""config applies the shared secret rules: one key list, one DSN masking, values registered."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from infrakit._internal.secrets import MASK, mask_known_secrets
from infrakit.config import Config, DirectorySecretProvider, load_config, validate_config
from tests.config.conftest import WriteFiles


def unique(label: str) -> str:
    """A secret no other test registered, so the process-wide registry cannot mislead."""
    return f"{label}-{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    "key",
    [
        "DB_PWD",
        "GPG_PASSPHRASE",
        "UPSTREAM_AUTH",
        "TLS_PRIVATE_KEY",
        "JWT",
        "BEARER",
        "SID",
        "OAUTH_CLIENT_SECRET",
        "githubToken",
        "SIGNING_KEY",
        "SESSION_COOKIE_NAME",
    ],
)
def test_dump_masks_every_key_the_shared_list_names(key: str) -> None:
    assert Config.from_mapping({key: "visible?"}).dump() == {key.upper(): MASK}


@pytest.mark.parametrize(
    "key", ["AUTHOR", "MONKEY_COUNT", "KEYBOARD", "SIDE", "DATABASE_PASSWORD_FILE", "KEY"]
)
def test_dump_keeps_ordinary_keys_and_pointers(key: str) -> None:
    assert Config.from_mapping({key: "shown"}).dump() == {key.upper(): "shown"}


@pytest.mark.parametrize(
    ("value", "password"),
    [
        ("postgresql://app:p#ss?w/rd@db:5432/app", "p#ss?w/rd"),
        ("postgresql://app:p%zzword@db/app", "p%zzword"),
        ("postgresql://app@db/app?sslmode=require&password=hunter22", "hunter22"),
        ("postgresql://app:v6-pass@[2001:db8::1]:5432/app", "v6-pass"),
        ("host=db password='a b c' dbname=app", "a b c"),
        ("redis://:r3disPass@127.0.0.1:6379/0", "r3disPass"),
        ("amqp://guest:gu%40est@rabbit:5672/vhost", "gu%40est"),
    ],
)
def test_dump_masks_every_dsn_form_with_the_shared_function(value: str, password: str) -> None:
    dumped = Config.from_mapping({"UPSTREAM": value}).dump()["UPSTREAM"]
    assert password not in dumped
    assert MASK in dumped


def test_loaded_secret_values_are_registered_for_the_log_pipeline(
    write_files: WriteFiles,
) -> None:
    password, token = unique("file-password"), unique("env-token")
    dsn_password = unique("dsn")
    directory = write_files(
        {".env": f"DATABASE_PASSWORD={password}\nCACHE_URL=redis://:{dsn_password}@cache:6379/0\n"}
    )
    load_config("test", directory=directory, environ={"API_TOKEN": token}, secret_providers=())
    line = f"connect failed: {password} / {token} / {dsn_password}"
    assert mask_known_secrets(line) == f"connect failed: {MASK} / {MASK} / {MASK}"


def test_ordinary_values_under_sensitive_names_are_not_registered() -> None:
    Config.from_mapping({"SESSION_SECURE": "true", "API_TOKEN_TTL": "86400000", "X_KEY": "ab"})
    assert mask_known_secrets("secure=true ttl=86400000") == "secure=true ttl=86400000"


def test_secrets_read_through_providers_and_models_are_registered(tmp_path: Path) -> None:
    from_provider, from_model, from_getter = unique("prov"), unique("model"), unique("get")
    (tmp_path / "app_password").write_text(from_provider)
    provider = DirectorySecretProvider(tmp_path)

    class Settings(BaseModel):
        password: SecretStr
        signing: SecretStr

    config = Config.from_mapping(
        {"APP_SIGNING": from_model, "PLAIN": from_getter}, secret_providers=[provider]
    )
    assert mask_known_secrets(from_model) == from_model  # not a sensitive key name
    settings = config.load(Settings, namespace="app")
    assert settings.password.get_secret_value() == from_provider
    config.get_secret("PLAIN")
    for value in (from_provider, from_model, from_getter):
        assert mask_known_secrets(f"[{value}]") == f"[{MASK}]"


def test_validate_config_registers_the_secret_fields_it_returns() -> None:
    class Settings(BaseModel):
        password: SecretStr

    value = unique("validated")
    validate_config({"DB_PASSWORD": value}, Settings, namespace="db")
    assert mask_known_secrets(value) == MASK
