"""Type-checked by `mypy --strict` (see the Makefile's typecheck), never run.

Each `assert_type` states what a caller of the configuration API sees statically:
the typed getters and their defaults, namespaces, and `load(Model) -> Model`.
"""

from __future__ import annotations

from typing import Any, assert_type

from pydantic import BaseModel, SecretStr

from infrakit import Infra
from infrakit.config import Config, ConfigReader, load_config


class DatabaseSettings(BaseModel):
    url: str
    pool_max_size: int = 10
    password: SecretStr | None = None


def check_config_getters(config: Config) -> None:
    assert_type(config.get_str("NAME"), str)
    assert_type(config.get_str("NAME", "fallback"), str)
    assert_type(config.get_str("NAME", None), str | None)
    assert_type(config.get_int("PORT"), int)
    assert_type(config.get_int("PORT", 8000), int)
    assert_type(config.get_int("PORT", None), int | None)
    assert_type(config.get_float("RATIO"), float)
    assert_type(config.get_float("RATIO", 0.5), float)
    assert_type(config.get_float("RATIO", None), float | None)
    assert_type(config.get_bool("DEBUG"), bool)
    assert_type(config.get_bool("DEBUG", False), bool)
    assert_type(config.get_bool("DEBUG", None), bool | None)
    assert_type(config.get_list("HOSTS"), list[Any])
    assert_type(config.get_list("PORTS", item_type=int), list[Any])
    assert_type(config.get_list("HOSTS", None), list[Any] | None)
    assert_type(config.get_secret("API_TOKEN"), SecretStr)
    assert_type(config.get_secret("API_TOKEN", "fallback"), SecretStr)
    assert_type(config.get_secret("API_TOKEN", None), SecretStr | None)
    assert_type(config.has("NAME"), bool)
    assert_type(config.env, str)
    assert_type(config.files, tuple[str, ...])
    assert_type(config.namespace("database"), Config)
    assert_type(config.dump(), dict[str, str])


def check_reader_getters(reader: ConfigReader) -> None:
    assert_type(reader.get_str("NAME"), str)
    assert_type(reader.get_str("NAME", None), str | None)
    assert_type(reader.get_int("PORT", 8000), int)
    assert_type(reader.get_int("PORT", None), int | None)
    assert_type(reader.get_float("RATIO"), float)
    assert_type(reader.get_bool("DEBUG", True), bool)
    assert_type(reader.get_list("HOSTS", []), list[Any])
    assert_type(reader.get_secret("API_TOKEN", None), SecretStr | None)
    assert_type(reader.namespace("database"), ConfigReader)


def check_load_returns_the_model(config: Config, reader: ConfigReader) -> None:
    assert_type(config.load(DatabaseSettings), DatabaseSettings)
    assert_type(config.load(DatabaseSettings, namespace="database"), DatabaseSettings)
    assert_type(reader.load(DatabaseSettings, namespace="database"), DatabaseSettings)
    assert_type(load_config("test", directory=".", environ={}), Config)
    assert_type(Config.from_mapping({"A": "1"}), Config)


def check_the_builder_config_is_typed(infra: Infra) -> None:
    assert_type(infra.config, ConfigReader)
    assert_type(infra.config.env, str)
