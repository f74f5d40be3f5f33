"""`Config.load` and `validate_config`: every problem at once, one line per key, no values."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from infrakit.config import Config, DirectorySecretProvider, load_config, validate_config
from infrakit.errors import ConfigurationError
from tests.config.conftest import WriteFiles


class ReplicaSettings(BaseModel):
    url: str
    weight: int = 1


class DatabaseSettings(BaseModel):
    url: str
    pool_max_size: int = 10
    timeout: float = 5.0
    echo: bool = False
    password: SecretStr | None = None
    hosts: list[str] = []
    ports: tuple[int, ...] = ()
    mode: Literal["read", "write"] = "write"
    replica: ReplicaSettings | None = None


def test_field_reads_namespaced_key() -> None:
    config = Config.from_mapping(
        {
            "DATABASE_URL": "postgresql://db/app",
            "DATABASE_POOL_MAX_SIZE": "20",
            "DATABASE_ECHO": "on",
            "DATABASE_HOSTS": "a, b",
            "DATABASE_PORTS": "[5432, 5433]",
            "DATABASE_REPLICA_URL": "postgresql://replica/app",
            "CACHE_URL": "ignored, outside the namespace",
        }
    )
    settings = config.load(DatabaseSettings, namespace="database")
    assert settings.url == "postgresql://db/app"
    assert settings.pool_max_size == 20
    assert settings.echo is True
    assert settings.hosts == ["a", "b"]
    assert settings.ports == (5432, 5433)
    assert settings.replica == ReplicaSettings(url="postgresql://replica/app")
    assert settings.password is None


def test_load_on_a_namespace_view_and_nested_namespace() -> None:
    config = Config.from_mapping({"DATABASE_REPLICA_URL": "r", "DATABASE_REPLICA_WEIGHT": "3"})
    expected = ReplicaSettings(url="r", weight=3)
    assert config.namespace("database").load(ReplicaSettings, namespace="replica") == expected
    assert config.load(ReplicaSettings, namespace="database_replica") == expected


def test_every_problem_is_reported_at_once(write_files: WriteFiles) -> None:
    directory = write_files(
        {
            ".env": "DATABASE_POOL_MAX_SIZE=many\nDATABASE_TIMEOUT=soon\n",
            ".env.production": "DATABASE_MODE=sideways\nDATABASE_POOL_MAX_SIZE_TYPO=3\n",
        }
    )
    config = load_config(
        "production", directory=directory, environ={"DATABASE_ECHO": "loud"}, secret_providers=()
    )
    with pytest.raises(ConfigurationError) as caught:
        config.load(DatabaseSettings, namespace="database")
    lines = str(caught.value).splitlines()
    assert lines[0] == "DatabaseSettings: namespace DATABASE has 6 problems:"
    by_key = {line.split(":")[0].strip(): line for line in lines[1:]}
    assert set(by_key) == {
        "DATABASE_URL",
        "DATABASE_POOL_MAX_SIZE",
        "DATABASE_TIMEOUT",
        "DATABASE_MODE",
        "DATABASE_ECHO",
        "DATABASE_POOL_MAX_SIZE_TYPO",
    }
    missing = by_key["DATABASE_URL"]
    assert "required but not set (expected str; looked in the environment and" in missing
    assert f".env.production, .env.local, .env in {directory}" in missing
    assert "expected int; from " in by_key["DATABASE_POOL_MAX_SIZE"]
    assert f"{directory / '.env'} line 1" in by_key["DATABASE_POOL_MAX_SIZE"]
    assert f"{directory / '.env'} line 2" in by_key["DATABASE_TIMEOUT"]
    assert "from environment" in by_key["DATABASE_ECHO"]
    assert "'read' or 'write'" in by_key["DATABASE_MODE"]
    assert (
        "unknown key (did you mean DATABASE_POOL_MAX_SIZE?)"
        in by_key["DATABASE_POOL_MAX_SIZE_TYPO"]
    )
    assert f"{directory / '.env.production'} line 2" in by_key["DATABASE_POOL_MAX_SIZE_TYPO"]
    text = str(caught.value) + repr(caught.value.details)
    for value in ("many", "soon", "sideways", "loud"):
        assert value not in text
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert [item["key"] for item in caught.value.details["errors"]] == sorted(by_key)


def test_list_item_errors_name_the_item() -> None:
    config = Config.from_mapping({"DATABASE_URL": "u", "DATABASE_PORTS": "[1, 2"})
    with pytest.raises(ConfigurationError, match="DATABASE_PORTS: starts with"):
        config.load(DatabaseSettings, namespace="database")
    config = Config.from_mapping({"DATABASE_URL": "u", "DATABASE_PORTS": "1,x"})
    with pytest.raises(
        ConfigurationError, match=r"DATABASE_PORTS: item 1 is not a whole number"
    ) as caught:
        config.load(DatabaseSettings, namespace="database")
    assert str(caught.value).count("DATABASE_PORTS") == 1  # not also reported as missing


def test_nested_model_errors_use_nested_keys() -> None:
    class Settings(BaseModel):
        replica: ReplicaSettings

    config = Config.from_mapping({"DATABASE_REPLICA_WEIGHT": "heavy"})
    with pytest.raises(ConfigurationError) as caught:
        config.load(Settings, namespace="database")
    message = str(caught.value)
    assert "DATABASE_REPLICA_URL: required but not set" in message
    assert "DATABASE_REPLICA_WEIGHT: Input should be a valid integer" in message


def test_a_key_named_after_a_nested_model_is_unknown_with_a_hint() -> None:
    class Settings(BaseModel):
        replica: ReplicaSettings

    config = Config.from_mapping({"DATABASE_REPLICA": "r", "DATABASE_REPLICA_URL": "r"})
    with pytest.raises(ConfigurationError) as caught:
        config.load(Settings, namespace="database")
    (problem,) = caught.value.details["errors"]
    assert problem["key"] == "DATABASE_REPLICA"
    assert problem["problem"] == (
        "unknown key (a nested model reads DATABASE_REPLICA_* keys, not DATABASE_REPLICA itself)"
    )


def test_unknown_keys_are_ignored_when_the_model_says_so() -> None:
    class Lenient(BaseModel):
        model_config = ConfigDict(extra="ignore")
        url: str

    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        url: str

    values = {"APP_URL": "u", "APP_OTHER": "x"}
    assert Config.from_mapping(values).load(Lenient, namespace="app").url == "u"
    opened = Config.from_mapping(values).load(Open, namespace="app")
    assert opened.model_extra == {"other": "x"}
    with pytest.raises(ConfigurationError, match="APP_OTHER: unknown key"):
        validate_config(values, ReplicaSettings, namespace="app")


def test_foreign_keys_a_model_names_are_neither_read_nor_reported() -> None:
    class Hosted(BaseModel):
        model_config = ConfigDict(extra="forbid")
        config_foreign_keys: ClassVar[frozenset[str]] = frozenset({"APP_SOFTWARE", "app_name"})
        url: str

    values = {"APP_URL": "u", "APP_SOFTWARE": "gunicorn/22", "APP_NAME": "x"}
    assert Config.from_mapping(values).load(Hosted, namespace="app").url == "u"
    with pytest.raises(ConfigurationError, match="APP_SOFTWAER: unknown key"):
        Config.from_mapping({**values, "APP_SOFTWAER": "typo"}).load(Hosted, namespace="app")


def test_root_load_ignores_unknown_keys() -> None:
    class Root(BaseModel):
        app_name: str

    config = Config.from_mapping({"APP_NAME": "x", "PATH": "/bin", "HOME": "/root"})
    assert config.load(Root).app_name == "x"


def test_validate_config_with_a_plain_mapping() -> None:
    settings = validate_config(
        {"database_url": "u", "DATABASE_POOL_MAX_SIZE": "3"}, DatabaseSettings, namespace="database"
    )
    assert settings.pool_max_size == 3
    with pytest.raises(ConfigurationError) as caught:
        validate_config({"DATABASE_POOL_MAX_SIZE": "x"}, DatabaseSettings, namespace="database")
    assert "DATABASE_URL: required but not set (expected str; not set)" in str(caught.value)
    with pytest.raises(ConfigurationError, match=r"DATABASE_URI: unknown key \(did you mean"):
        validate_config({"DATABASE_URI": "u"}, DatabaseSettings, namespace="database")
    assert "DATABASE_POOL_MAX_SIZE: " in str(caught.value)


def test_aliases_name_the_key() -> None:
    class Aliased(BaseModel):
        max_size: int = Field(alias="size")

    assert Config.from_mapping({"POOL_SIZE": "4"}).load(Aliased, namespace="pool").max_size == 4


def test_custom_validator_message_is_hidden_for_secret_fields() -> None:
    class Credentials(BaseModel):
        api_token: SecretStr
        region: str

        @field_validator("api_token")
        @classmethod
        def long_enough(cls, value: SecretStr) -> SecretStr:
            raise ValueError(f"too short: {value.get_secret_value()}")

        @field_validator("region")
        @classmethod
        def known_region(cls, value: str) -> str:
            raise ValueError("unknown region")

    config = Config.from_mapping({"SVC_API_TOKEN": "tok-abc-123", "SVC_REGION": "mars"})
    with pytest.raises(ConfigurationError) as caught:
        config.load(Credentials, namespace="svc")
    message = str(caught.value)
    assert "SVC_API_TOKEN: rejected by a validator" in message
    assert "SVC_REGION: Value error, unknown region" in message
    assert "tok-abc-123" not in message + repr(caught.value.details)
    assert "mars" not in message


def test_secret_fields_ask_providers_first(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "database_password").write_text("from-provider\n")
    config = load_config(
        "production",
        directory=tmp_path,
        environ={"DATABASE_URL": "u", "DATABASE_PASSWORD": "plain"},
        secret_providers=[DirectorySecretProvider(secrets)],
    )
    settings = config.load(DatabaseSettings, namespace="database")
    assert settings.password is not None
    assert settings.password.get_secret_value() == "from-provider"
    assert "from-provider" not in repr(settings)


def test_file_pointer_keys_are_not_unknown(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret")
    config = load_config(
        "production",
        directory=tmp_path,
        environ={"DATABASE_URL": "u", "DATABASE_PASSWORD_FILE": str(tmp_path / "pw")},
    )
    settings = config.load(DatabaseSettings, namespace="database")
    assert settings.password is not None
    assert settings.password.get_secret_value() == "s3cret"


def test_file_pointer_key_is_unknown_without_a_file_provider(tmp_path: Path) -> None:
    config = load_config(
        "production",
        directory=tmp_path,
        environ={"DATABASE_URL": "u", "DATABASE_PASSWORD_FILE": "/x"},
        secret_providers=(),
    )
    with pytest.raises(ConfigurationError, match="DATABASE_PASSWORD_FILE: unknown key"):
        config.load(DatabaseSettings, namespace="database")


def test_model_level_validator_is_reported_under_the_namespace() -> None:
    from pydantic import model_validator

    class Pair(BaseModel):
        low: int
        high: int

        @model_validator(mode="after")
        def ordered(self) -> Pair:
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    with pytest.raises(ConfigurationError, match="RANGE: Value error, low must not exceed high"):
        Config.from_mapping({"RANGE_LOW": "5", "RANGE_HIGH": "1"}).load(Pair, namespace="range")


def test_dict_fields_take_a_json_object() -> None:
    class Limits(BaseModel):
        per_route: dict[str, int]

    config = Config.from_mapping({"LIMITS_PER_ROUTE": '{"/a": 5}'})
    assert config.load(Limits, namespace="limits").per_route == {"/a": 5}
    with pytest.raises(ConfigurationError, match="LIMITS_PER_ROUTE: not a valid JSON object"):
        Config.from_mapping({"LIMITS_PER_ROUTE": "/a=5"}).load(Limits, namespace="limits")


def test_file_pointer_for_a_plain_field_is_reported(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("postgresql://db/app")
    config = load_config(
        "production", directory=tmp_path, environ={"DATABASE_URL_FILE": str(tmp_path / "url")}
    )
    with pytest.raises(ConfigurationError) as caught:
        config.load(DatabaseSettings, namespace="database")
    message = str(caught.value)
    assert "DATABASE_URL: required but not set" in message
    assert (
        "DATABASE_URL_FILE: unknown key (a KEY_FILE pointer only feeds SecretStr fields)" in message
    )
