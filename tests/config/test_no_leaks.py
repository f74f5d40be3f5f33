"""No value, secret or not, appears in an error message, its details, or a repr."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from infrakit.config import Config, DirectorySecretProvider, load_config
from infrakit.errors import ConfigurationError

# A marker no message could contain by chance, followed by arbitrary printable text.
values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"]),
    min_size=0,
    max_size=30,
).map(lambda tail: f"Zq9x{tail}")


class Settings(BaseModel):
    port: int
    ratio: float
    enabled: bool
    hosts: list[int]
    password: SecretStr


def _error_text(error: ConfigurationError) -> str:
    return (
        f"{error}\n{error!r}\n{dict(error.details)!r}\n{error.to_problem(expose_internal=True)!r}"
    )


@given(value=values)
@settings(max_examples=60, deadline=None)
def test_getter_errors_never_echo_the_value(value: str) -> None:
    config = Config.from_mapping({"APP_SECRET": value})
    for getter in (config.get_int, config.get_float, config.get_bool):
        with pytest.raises(ConfigurationError) as caught:
            getter("APP_SECRET")
        assert value not in _error_text(caught.value)
        assert caught.value.__context__ is None
    with pytest.raises(ConfigurationError) as caught:
        config.get_list("APP_SECRET", item_type=int)
    assert value not in _error_text(caught.value)
    assert value not in repr(config) + str(config) + repr(config.get_secret("APP_SECRET"))
    assert value not in repr(config.dump())


@given(value=values)
@settings(max_examples=40, deadline=None)
def test_load_errors_never_echo_values(value: str) -> None:
    mapping = {
        "APP_PORT": value,
        "APP_RATIO": value,
        "APP_ENABLED": value,
        "APP_HOSTS": value,
        "APP_UNKNOWN": value,
    }
    with pytest.raises(ConfigurationError) as caught:
        Config.from_mapping(mapping).load(Settings, namespace="app")
    assert value not in _error_text(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert len(caught.value.details["errors"]) == 6


def _error_of(path: Path) -> ConfigurationError | None:
    try:
        load_config("test", directory=path, environ={}, secret_providers=())
    except ConfigurationError as error:
        return error
    return None


@given(value=values.filter(lambda text: '"' not in text and "\\" not in text))
@settings(max_examples=30, deadline=None)
def test_file_errors_never_echo_values(value: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / ".env").write_text(f'GOOD=1\nTOKEN="{value}\n', encoding="utf-8")
        error = _error_of(Path(directory))
    assert error is not None
    assert "line 2" in str(error)
    assert value not in _error_text(error)


def test_secret_from_a_provider_never_leaks(tmp_path: Path) -> None:
    secret = "Zq9x-provider-secret"
    (tmp_path / "app_password").write_text(secret)
    config = load_config(
        "test",
        directory=tmp_path,
        environ={"APP_PORT": "x"},
        secret_providers=[DirectorySecretProvider(tmp_path)],
    )
    with pytest.raises(ConfigurationError) as caught:
        config.load(Settings, namespace="app")
    assert secret not in _error_text(caught.value)
    assert "APP_PASSWORD" not in str(caught.value)  # found through the provider
    shown = repr(config) + repr(config.dump()) + repr(config.get_secret("app_password"))
    assert secret not in shown
    assert config.get_secret("APP_PASSWORD").get_secret_value() == secret


def test_internal_holders_of_values_have_no_revealing_repr(tmp_path: Path) -> None:
    # Error trackers and --showlocals print the locals of every frame, internals included.
    from infrakit.config._cascade import load_layers
    from infrakit.config._schema import SchemaInput, _Collector

    secret = "Zq9x-in-a-file"
    (tmp_path / ".env").write_text(f"DB_PASSWORD={secret}\n")
    config = load_config("test", directory=tmp_path, environ={}, secret_providers=())
    layers = load_layers(tmp_path, "test", {})
    collector = _Collector(dict(layers.values), SchemaInput())
    for holder in (config._state, layers, collector):
        assert secret not in repr(holder)
