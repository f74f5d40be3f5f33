"""The usage patterns of punq's README work on infrakit.di after changing the import.

Each test is a README snippet with `import punq` replaced by
`from infrakit.di import punq`; the core container runs the same register/resolve calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infrakit.di import (
    Container,
    NotRegisteredError,
    RegistrationError,
    Scope,
    create_container,
    punq,
)


class ConfigReader:
    def get_config(self) -> dict[str, str]:
        raise NotImplementedError


class EnvironmentConfigReader(ConfigReader):
    def get_config(self) -> dict[str, str]:
        return {"greeting": "Hello world"}


class Greeter:
    def greet(self) -> str:
        raise NotImplementedError


class ConsoleGreeter(Greeter):
    def __init__(self, config_reader: ConfigReader) -> None:
        self.config = config_reader.get_config()

    def greet(self) -> str:
        return self.config["greeting"]


class FileWritingGreeter(Greeter):
    def __init__(self, path: str, greeting: str) -> None:
        self.path = path
        self.message = greeting

    def greet(self) -> str:
        Path(self.path).write_text(self.message, encoding="utf-8")
        return self.message


@pytest.fixture(params=["punq", "core"])
def container(request: pytest.FixtureRequest) -> Container:
    """punq's `Container()` from the compatibility module, and the core container."""
    if request.param == "punq":
        return punq.Container()
    return create_container()


def test_an_arbitrary_key_and_instance(container: Container) -> None:
    container.register("connection_string", instance="postgresql://...")
    assert container.resolve("connection_string") == "postgresql://..."


def test_an_interface_and_its_implementation_with_injected_dependencies(
    container: Container,
) -> None:
    container.register(ConfigReader, EnvironmentConfigReader)
    assert container.resolve(ConfigReader).get_config() == {"greeting": "Hello world"}
    container.register(Greeter, ConsoleGreeter)
    assert container.resolve(Greeter).greet() == "Hello world"


def test_a_class_without_a_base_class(container: Container) -> None:
    class PlainGreeter:
        def __init__(self, config_reader: ConfigReader) -> None:
            self.config = config_reader.get_config()

    container.register(ConfigReader, EnvironmentConfigReader)
    container.register(PlainGreeter)
    assert container.resolve(PlainGreeter).config["greeting"] == "Hello world"


def test_a_specific_instance(container: Container, tmp_path: Path) -> None:
    one_true_greeter = FileWritingGreeter(str(tmp_path / "greetings"), "Hello world")
    container.register(Greeter, instance=one_true_greeter)
    assert container.resolve(Greeter) is one_true_greeter


def test_arguments_given_at_resolve_time(container: Container, tmp_path: Path) -> None:
    container.register(Greeter, FileWritingGreeter)
    greeter = container.resolve(Greeter, path=str(tmp_path / "foo"), greeting="Hello world")
    assert greeter.greet() == "Hello world"
    assert (tmp_path / "foo").read_text(encoding="utf-8") == "Hello world"


def test_arguments_given_at_registration_time(container: Container, tmp_path: Path) -> None:
    path = str(tmp_path / "foo")
    container.register(Greeter, FileWritingGreeter, path=path, greeting="Hello world")
    greeter = container.resolve(Greeter)
    assert (greeter.path, greeter.message) == (path, "Hello world")
    assert container.resolve(Greeter, greeting="Hi").message == "Hi"  # resolve-time wins


def test_an_unknown_registration_argument_is_refused_at_register(container: Container) -> None:
    with pytest.raises(RegistrationError, match="no parameter named colour"):
        container.register(Greeter, FileWritingGreeter, colour="blue")


def test_a_missing_registration_is_punqs_missing_dependency_error(container: Container) -> None:
    with pytest.raises(punq.MissingDependencyError):
        container.resolve(Greeter)
    assert punq.MissingDependencyError is NotRegisteredError
    assert punq.InvalidRegistrationError is RegistrationError


def test_punqs_defaults_transient_scope_and_chained_registration() -> None:
    container = punq.Container()
    returned = container.register(ConfigReader, EnvironmentConfigReader).register(
        Greeter, ConsoleGreeter, scope=punq.Scope.singleton
    )
    assert returned is container
    assert container.resolve(ConfigReader) is not container.resolve(ConfigReader)
    assert container.resolve(Greeter) is container.resolve(Greeter)
    assert punq.Scope.transient is Scope.TRANSIENT


def test_punqs_keyword_spelling_of_factory_and_instance() -> None:
    container = punq.Container()
    container.register(ConfigReader, factory=EnvironmentConfigReader)
    container.register("greeting", instance="hello")
    assert isinstance(container.resolve(ConfigReader), EnvironmentConfigReader)
    assert container.resolve("greeting") == "hello"


def test_registration_arguments_may_be_called_name_under_punq() -> None:
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    container = punq.Container()
    container.register(Named, name="given")
    assert container.resolve(Named).name == "given"
