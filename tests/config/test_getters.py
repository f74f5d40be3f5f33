"""Typed getters, namespaces, sources, dump and the immutable `Config` surface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from infrakit.config import Config, ConfigReader, ConfigSource, load_config
from infrakit.errors import ConfigurationError
from tests.config.conftest import WriteFiles


@pytest.fixture
def config(write_files: WriteFiles) -> Config:
    directory = write_files({".env": "PORT=8080\nRATIO=0.25\nBAD=abc\nDEBUG=yes\n"})
    return load_config("development", directory=directory, environ={}, secret_providers=())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", 42), ("-7", -7), ("+3", 3), (" 12 ", 12), ("1_000", 1000), ("0", 0)],
)
def test_get_int_converts(raw: str, expected: int) -> None:
    assert Config.from_mapping({"N": raw}).get_int("N") == expected


@pytest.mark.parametrize("raw", ["", "abc", "1.5", "1e3", "0x10", "12abc"])
def test_get_int_rejects(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="N is not a valid int"):
        Config.from_mapping({"N": raw}).get_int("N")


@pytest.mark.parametrize(
    ("raw", "expected"), [("0.5", 0.5), ("3", 3.0), ("-1e3", -1000.0), (" 2.5 ", 2.5)]
)
def test_get_float_converts(raw: str, expected: float) -> None:
    assert Config.from_mapping({"F": raw}).get_float("F") == expected


@pytest.mark.parametrize("raw", ["", "half", "nan", "inf", "-Infinity", "1,5"])
def test_get_float_rejects(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="F is not a valid float"):
        Config.from_mapping({"F": raw}).get_float("F")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(word, True) for word in ["true", "TRUE", "True", "1", "yes", "YES", "on", "On", " on "]],
        *[(word, False) for word in ["false", "False", "0", "no", "NO", "off", "OFF"]],
    ],
)
def test_get_bool_converts(raw: str, expected: bool) -> None:
    assert Config.from_mapping({"B": raw}).get_bool("B") is expected


@pytest.mark.parametrize("raw", ["", "y", "n", "2", "enabled", "truee"])
def test_get_bool_rejects(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="true/false, 1/0, yes/no, on/off"):
        Config.from_mapping({"B": raw}).get_bool("B")


@pytest.mark.parametrize(
    ("raw", "item_type", "expected"),
    [
        ("a,b,c", str, ["a", "b", "c"]),
        (" a , b ,, c, ", str, ["a", "b", "c"]),
        ("", str, []),
        ("single", str, ["single"]),
        ('["a,b", "c"]', str, ["a,b", "c"]),
        ("[]", str, []),
        ("1, 2,3", int, [1, 2, 3]),
        ("[1, 2]", int, [1, 2]),
        ('["1", "2"]', int, [1, 2]),
        ("[1, 2.5]", float, [1.0, 2.5]),
        ("yes,off", bool, [True, False]),
        ("[true, false]", bool, [True, False]),
        ("[1, true]", str, ["1", "true"]),
    ],
)
def test_get_list_converts(raw: str, item_type: type[Any], expected: list[Any]) -> None:
    assert Config.from_mapping({"L": raw}).get_list("L", item_type=item_type) == expected


@pytest.mark.parametrize(
    ("raw", "item_type", "reason"),
    [
        ("1,x,3", int, "item 1 is not a whole number"),
        ("[1, 2", int, "not a valid JSON array"),
        ('["1", 1.5]', int, "item 1 is not a whole number"),
        ("[true]", int, "item 0 is a JSON value of the wrong type for int"),
        ('[{"a": 1}]', str, "item 0 is a JSON value of the wrong type for str"),
        ("[1]", bool, "item 0 is a JSON value of the wrong type for bool"),
        ("yes,maybe", bool, "item 1 is not one of"),
    ],
)
def test_get_list_rejects(raw: str, item_type: type[Any], reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Config.from_mapping({"L": raw}).get_list("L", item_type=item_type)
    assert reason in str(caught.value)
    assert f"list[{item_type.__name__}]" in str(caught.value)


def test_get_list_with_other_item_types_uses_pydantic() -> None:
    from decimal import Decimal

    config = Config.from_mapping({"L": "1.10, 2"})
    assert config.get_list("L", item_type=Decimal) == [Decimal("1.10"), Decimal("2")]


def test_get_str_returns_text(config: Config) -> None:
    assert config.get_str("PORT") == "8080"
    assert config.get_int("port") == 8080
    assert config.get_float("RATIO") == 0.25
    assert config.get_bool("DEBUG") is True


def test_defaults_are_returned_only_when_missing(config: Config) -> None:
    assert config.get_int("PORT", 1) == 8080
    assert config.get_int("NOPE", 1) == 1
    assert config.get_str("NOPE", None) is None
    assert config.get_float("NOPE", 0.5) == 0.5
    assert config.get_bool("NOPE", False) is False
    assert config.get_list("NOPE", ["x"]) == ["x"]
    secret = config.get_secret("NOPE", "fallback")
    assert isinstance(secret, SecretStr)
    assert secret.get_secret_value() == "fallback"
    assert config.get_secret("NOPE", None) is None


def test_a_default_does_not_hide_a_bad_value(config: Config) -> None:
    with pytest.raises(ConfigurationError):
        config.get_int("BAD", 1)


@pytest.mark.parametrize(
    ("getter", "expected"),
    [
        ("get_str", "str"),
        ("get_int", "int"),
        ("get_float", "float"),
        ("get_bool", "bool"),
        ("get_list", "list[str]"),
        ("get_secret", "SecretStr"),
    ],
)
def test_missing_key_names_key_type_and_files(config: Config, getter: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        getattr(config, getter)("database_url")
    message = str(caught.value)
    assert "DATABASE_URL is not set" in message
    assert f"expected {expected}" in message
    assert ".env.development" in message
    assert caught.value.details["key"] == "DATABASE_URL"


def test_conversion_error_names_key_type_and_file_line(config: Config) -> None:
    with pytest.raises(ConfigurationError) as caught:
        config.get_int("BAD")
    message = str(caught.value)
    assert "BAD is not a valid int" in message
    assert ".env line 3" in message
    assert "abc" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None  # the ValueError quoting the value is gone


def test_empty_key_is_refused(config: Config) -> None:
    with pytest.raises(ConfigurationError, match="must not be empty"):
        config.get_str("")


class TestNamespaces:
    def test_namespace_prefixes_keys(self) -> None:
        config = Config.from_mapping({"DATABASE_URL": "u", "DATABASE_POOL_MAX_SIZE": "5"})
        database = config.namespace("database")
        assert database.get_str("url") == "u"
        assert database.get_int("pool_max_size") == 5
        assert database.has("URL")
        assert not database.has("DATABASE_URL")

    def test_namespaces_nest(self) -> None:
        config = Config.from_mapping({"DATABASE_REPLICA_URL": "replica"})
        replica = config.namespace("database").namespace("replica")
        assert replica.get_str("url") == "replica"
        assert config.namespace("DATABASE_REPLICA").get_str("URL") == "replica"

    def test_errors_name_the_full_key(self) -> None:
        database = Config.from_mapping({"DATABASE_PORT": "x"}).namespace("database")
        with pytest.raises(ConfigurationError, match="DATABASE_PORT is not a valid int"):
            database.get_int("port")
        with pytest.raises(ConfigurationError, match="DATABASE_HOST is not set"):
            database.get_str("host")

    def test_namespace_dump_and_source(self) -> None:
        config = Config.from_mapping({"DATABASE_URL": "u", "CACHE_URL": "c"})
        database = config.namespace("database")
        assert database.dump() == {"DATABASE_URL": "u"}
        assert database.source_of("url") == ConfigSource("mapping", "mapping")
        assert database.env == "test"

    def test_empty_namespace_is_refused(self) -> None:
        with pytest.raises(ConfigurationError):
            Config.from_mapping({}).namespace("_")

    def test_namespace_satisfies_the_reader_protocol(self) -> None:
        reader: ConfigReader = Config.from_mapping({}).namespace("x")
        assert isinstance(reader, ConfigReader)


class TestSourcesAndDump:
    def test_source_of_each_kind(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "A=1\n\nB=2\n"})
        config = load_config("dev", directory=directory, environ={"C": "3"}, secret_providers=())
        assert str(config.source_of("A")) == f"{directory / '.env'} line 1"
        assert str(config.source_of("b")) == f"{directory / '.env'} line 3"
        assert str(config.source_of("C")) == "environment"
        assert config.source_of("D") is None

    def test_dump_masks_secret_looking_keys_and_url_passwords(self) -> None:
        values = {
            "DATABASE_PASSWORD": "p1",
            "API_TOKEN": "t1",
            "STRIPE_API_KEY": "k1",
            "CLIENT_SECRET": "s1",
            "AWS_CREDENTIALS": "c1",
            "SESSION_COOKIE_NAME": "c2",
            "DATABASE_URL": "postgresql://app:pw-in-url@db:5432/app",
            "CACHE_URL": "redis://localhost:6379/0",
            "DATABASE_PASSWORD_FILE": "/run/secrets/db",
            "MONKEY_COUNT": "3",
            "KEYBOARD": "qwerty",
        }
        dumped = Config.from_mapping(values).dump()
        text = repr(dumped)
        for secret in ("p1", "t1", "k1", "s1", "c1", "c2", "pw-in-url"):
            assert f"'{secret}'" not in text
            assert f":{secret}@" not in text
        assert dumped["DATABASE_URL"] == "postgresql://app:***@db:5432/app"
        assert dumped["CACHE_URL"] == "redis://localhost:6379/0"
        assert dumped["DATABASE_PASSWORD_FILE"] == "/run/secrets/db"
        assert dumped["MONKEY_COUNT"] == "3"
        assert dumped["KEYBOARD"] == "qwerty"
        assert list(dumped) == sorted(dumped)

    def test_dump_masks_a_secret_interpolated_into_another_value(
        self, write_files: WriteFiles
    ) -> None:
        directory = write_files(
            {
                ".env": (
                    "DATABASE_PASSWORD=hunter2-long\n"
                    "DATABASE_DSN=host=db password=${DATABASE_PASSWORD} sslmode=require\n"
                    "SESSION_SECURE=true\nDEBUG=true\nAPI_TOKEN_TTL=86400000\nTIMEOUT=86400000\n"
                )
            }
        )
        config = load_config("production", directory=directory, environ={}, secret_providers=())
        dumped = config.dump()
        assert dumped["DATABASE_DSN"] == "host=db password=*** sslmode=require"
        assert config.namespace("database").dump()["DATABASE_DSN"] == dumped["DATABASE_DSN"]
        assert (dumped["DEBUG"], dumped["TIMEOUT"]) == ("true", "86400000")  # short or numeric
        assert "hunter2" in config.dump(redact=False)["DATABASE_DSN"]

    def test_dump_without_redaction(self) -> None:
        assert Config.from_mapping({"A_TOKEN": "t"}).dump(redact=False) == {"A_TOKEN": "t"}


class TestImmutabilityAndRepr:
    def test_config_cannot_be_changed(self) -> None:
        config = Config.from_mapping({"A": "1"})
        with pytest.raises(AttributeError):
            config.env = "other"  # type: ignore[misc]
        with pytest.raises(AttributeError):
            config._prefix = "X_"
        with pytest.raises(AttributeError):
            config.anything = 1
        with pytest.raises(AttributeError):
            del config._state
        with pytest.raises(TypeError):
            config._state.values["A"] = "2"  # type: ignore[index]
        assert config.get_str("A") == "1"

    def test_repr_shows_env_and_sources_not_values(self, write_files: WriteFiles) -> None:
        directory = write_files({".env": "DATABASE_PASSWORD=hunter2\nPLAIN=visible-value\n"})
        config = load_config("production", directory=directory, environ={"TOKEN": "tok-123"})
        for text in (repr(config), str(config), repr(config.namespace("database"))):
            assert "production" in text
            assert "hunter2" not in text
            assert "visible-value" not in text
            assert "tok-123" not in text
        assert ".env" in repr(config)
        assert "DirectorySecretProvider(/run/secrets)" in repr(config)
        assert "namespace='DATABASE'" in repr(config.namespace("database"))

    def test_load_config_returns_a_reader(self, tmp_path: Path) -> None:
        assert isinstance(load_config(directory=tmp_path, environ={}), ConfigReader)


def test_an_empty_value_is_a_value_not_a_missing_key() -> None:
    config = Config.from_mapping({"PORT": ""})
    assert config.get_str("PORT", "x") == ""
    with pytest.raises(ConfigurationError, match="PORT is not a valid int"):
        config.get_int("PORT", 80)
