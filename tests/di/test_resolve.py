"""Registration shapes, constructor injection and the errors a wrong wiring produces."""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import NewType, Protocol

import pytest

from infrakit.di import (
    AsyncResolutionRequiredError,
    CircularDependencyError,
    Container,
    FactoryError,
    NotRegisteredError,
    RegistrationError,
    ResolutionError,
    Scope,
    create_container,
)
from infrakit.errors import AppError, ConfigurationError, TechnicalError

DatabaseUrl = NewType("DatabaseUrl", str)


class Clock(Protocol):
    def now(self) -> float: ...


class FixedClock:
    def now(self) -> float:
        return 42.0


class Database:
    def __init__(self, url: DatabaseUrl) -> None:
        self.url = url


class Repository:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock


@dataclass
class Service:
    repository: Repository
    retries: int = 3


class Notifier(ABC):
    @abstractmethod
    def send(self, text: str) -> None: ...


class EmailNotifier(Notifier):
    def send(self, text: str) -> None:
        return None


@pytest.fixture
def container() -> Container:
    container = create_container()
    container.register(DatabaseUrl, instance=DatabaseUrl("postgresql://db/app"))
    container.register(Clock, FixedClock)
    container.register(Database)
    container.register(Repository, scope=Scope.TRANSIENT)
    container.register(Service, scope=Scope.TRANSIENT)
    return container


def test_constructor_injection_builds_the_graph(container: Container) -> None:
    service = container.resolve(Service)
    assert isinstance(service.repository.clock, FixedClock)
    assert service.repository.database.url == "postgresql://db/app"
    assert service.retries == 3  # unregistered int keeps its default


def test_singletons_are_shared_and_transients_are_new(container: Container) -> None:
    first, second = container.resolve(Service), container.resolve(Service)
    assert first is not second
    assert first.repository is not second.repository
    assert first.repository.database is second.repository.database


def test_instance_is_returned_as_is() -> None:
    container = create_container()
    handler = functools.partial(print, "callable instance")
    container.register(Notifier, instance=handler)
    assert container.resolve(Notifier) is handler


def test_non_callable_positional_provider_is_an_instance() -> None:
    container = create_container()
    container.register(DatabaseUrl, "sqlite://")
    assert container.resolve(DatabaseUrl) == "sqlite://"


def test_abstract_interface_with_implementation() -> None:
    container = create_container()
    container.register(Notifier, EmailNotifier)
    assert isinstance(container.resolve(Notifier), EmailNotifier)
    assert container.is_registered(Notifier)
    assert not container.is_registered(EmailNotifier)


def test_factory_parameters_are_injected(container: Container) -> None:
    calls: list[Database] = []

    def make_notifier(database: Database, *, clock: Clock) -> Notifier:
        calls.append(database)
        assert clock.now() == 42.0
        return EmailNotifier()

    container.register(Notifier, make_notifier)
    assert isinstance(container.resolve(Notifier), EmailNotifier)
    assert calls == [container.resolve(Database)]


def test_optional_and_keyword_only_parameters() -> None:
    class Cache:
        pass

    class Reader:
        def __init__(self, database: Database | None = None, *, cache: Cache | None = None):
            self.database = database
            self.cache = cache

    container = create_container()
    container.register(Cache)
    container.register(Reader)
    reader = container.resolve(Reader)
    assert reader.database is None
    assert isinstance(reader.cache, Cache)


def test_positional_only_parameters_after_a_default() -> None:
    def build(first: Database, /, second: int = 5, third: Clock | None = None) -> Service:
        assert second == 5
        assert isinstance(third, FixedClock)
        return Service(Repository(first, third))

    container = create_container()
    container.register(DatabaseUrl, instance="x")
    container.register(Database)
    container.register(Clock, FixedClock)
    container.register(Service, build)
    assert container.resolve(Service).repository.database.url == "x"


def test_a_positional_only_parameter_after_a_skipped_one_is_refused() -> None:
    """Passing `clock` positionally would land it in `retries`: refused, never mis-wired."""

    def build(retries: int = 3, clock: Clock | None = None, /) -> Service:
        raise AssertionError("must not be called")

    async def abuild(retries: int = 3, clock: Clock | None = None, /) -> Service:
        raise AssertionError("must not be called")

    container = create_container()
    container.register(Clock, FixedClock)
    container.register(Service, build)
    container.register(Repository, abuild)
    with pytest.raises(ResolutionError, match="'clock' of Service follows one left"):
        container.resolve(Service)
    with pytest.raises(ResolutionError, match="'clock' of Repository follows one left"):
        asyncio.run(container.aresolve(Repository))


def test_forward_references_to_local_classes_resolve_by_name() -> None:
    class Engine:
        pass

    class Car:
        def __init__(self, engine: Engine) -> None:  # a string under __future__ annotations
            self.engine = engine

    container = create_container()
    container.register(Car)  # registered before Engine: hints are read on first resolve
    container.register(Engine)
    assert isinstance(container.resolve(Car).engine, Engine)


def test_unknown_name_in_annotation_is_a_resolution_error() -> None:
    class Broken:
        def __init__(self, thing: Missing) -> None:  # type: ignore[name-defined]  # noqa: F821
            self.thing = thing

    container = create_container()
    container.register(Broken)
    with pytest.raises(ResolutionError, match="Missing"):
        container.resolve(Broken)


def test_keyword_overrides_build_an_untracked_instance(container: Container) -> None:
    shared = container.resolve(Database)
    special = container.resolve(Database, url=DatabaseUrl("postgresql://other"))
    assert special.url == "postgresql://other"
    assert container.resolve(Database) is shared
    service = container.resolve(Service, retries=7)
    assert service.retries == 7


def test_overrides_supply_what_is_not_registered() -> None:
    container = create_container()
    container.register(Database)
    with pytest.raises(NotRegisteredError):
        container.resolve(Database)
    assert container.resolve(Database, url="sqlite://").url == "sqlite://"


def test_overriding_one_missing_parameter_next_to_an_injected_one() -> None:
    class Report:
        def __init__(self, title: str, clock: Clock) -> None:
            self.title = title
            self.clock = clock

    container = create_container()
    container.register(Clock, FixedClock)
    container.register(Report, scope=Scope.TRANSIENT)
    report = container.resolve(Report, title="weekly")
    assert report.title == "weekly"
    assert report.clock is container.resolve(Clock)


def test_unknown_override_is_refused(container: Container) -> None:
    with pytest.raises(ResolutionError, match="no parameter named colour"):
        container.resolve(Service, colour="red")


def test_not_registered_names_type_and_path() -> None:
    container = create_container()
    container.register(Service)
    container.register(Repository)
    container.register(Clock, FixedClock)
    with pytest.raises(NotRegisteredError) as caught:
        container.resolve(Service)
    error = caught.value
    assert isinstance(error, TechnicalError)
    assert error.code == "DI_NOT_REGISTERED"
    assert "Database is not registered (parameter 'database' of Repository)" in error.message
    assert "Service -> Repository -> Database" in error.message
    assert error.details["path"] == ["Service", "Repository", "Database"]


def test_resolving_an_unregistered_interface() -> None:
    with pytest.raises(NotRegisteredError, match=r"^Clock is not registered$"):
        create_container().resolve(Clock)


def test_parameter_without_hint_or_default() -> None:
    class Legacy:
        def __init__(self, anything) -> None:  # type: ignore[no-untyped-def]
            self.anything = anything

    container = create_container()
    container.register(Legacy)
    with pytest.raises(NotRegisteredError, match="'anything' of Legacy has no type hint"):
        container.resolve(Legacy)
    assert container.resolve(Legacy, anything=1).anything == 1


class Chicken:
    def __init__(self, egg: Egg) -> None:
        self.egg = egg


class Egg:
    def __init__(self, chicken: Chicken) -> None:
        self.chicken = chicken


class Farm:
    def __init__(self, chicken: Chicken) -> None:
        self.chicken = chicken


def test_cycle_is_reported_with_its_path() -> None:
    container = create_container()
    for cls in (Farm, Chicken, Egg):
        container.register(cls, scope=Scope.TRANSIENT)
    with pytest.raises(CircularDependencyError) as caught:
        container.resolve(Farm)
    assert caught.value.code == "DI_CYCLE"
    assert caught.value.message == "circular dependency: Chicken -> Egg -> Chicken"


def test_self_dependency_is_a_cycle() -> None:
    class Node:
        def __init__(self, parent: Node) -> None:
            self.parent = parent

    container = create_container()
    container.register(Node)
    with pytest.raises(CircularDependencyError, match="Node -> Node"):
        container.resolve(Node)


def test_factory_resolving_itself_at_run_time_is_a_cycle() -> None:
    container = create_container()

    def sneaky() -> Clock:
        return container.resolve(Clock)  # type: ignore[no-any-return]

    container.register(Clock, sneaky)
    with pytest.raises(CircularDependencyError, match="asked for itself"):
        container.resolve(Clock)


def test_factory_exception_is_wrapped_with_the_building_chain() -> None:
    def explode() -> Database:
        raise ValueError("boom with secret=hunter2")

    container = create_container()
    container.register(Database, explode)
    container.register(Repository, scope=Scope.TRANSIENT)
    container.register(Clock, FixedClock)
    with pytest.raises(FactoryError) as caught:
        container.resolve(Repository)
    error = caught.value
    assert error.code == "DI_FACTORY_FAILED"
    assert isinstance(error.__cause__, ValueError)
    assert "hunter2" not in error.message
    assert "while building Repository" in error.__notes__


def test_app_errors_from_factories_pass_through_unchanged() -> None:
    def misconfigured() -> Database:
        raise ConfigurationError("DATABASE_URL is missing")

    container = create_container()
    container.register(Database, misconfigured)
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        container.resolve(Database)


def test_failed_singleton_is_retried_on_next_resolve() -> None:
    attempts: list[int] = []

    def flaky() -> Clock:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("not yet")
        return FixedClock()

    container = create_container()
    container.register(Clock, flaky)
    with pytest.raises(FactoryError):
        container.resolve(Clock)
    assert isinstance(container.resolve(Clock), FixedClock)


def test_async_factory_with_resolve_tells_to_use_aresolve() -> None:
    async def connect() -> Database:
        return Database(DatabaseUrl("x"))

    container = create_container()
    container.register(Database, connect)
    container.register(Repository, scope=Scope.TRANSIENT)
    container.register(Clock, FixedClock)
    with pytest.raises(AsyncResolutionRequiredError, match="aresolve") as caught:
        container.resolve(Repository)
    assert caught.value.code == "DI_ASYNC_REQUIRED"
    assert "while building Repository" in caught.value.__notes__


def test_provider_and_instance_together_are_refused() -> None:
    with pytest.raises(RegistrationError, match="not both"):
        create_container().register(Notifier, EmailNotifier, instance=EmailNotifier())


def test_transient_instance_is_refused() -> None:
    with pytest.raises(RegistrationError, match="singleton by nature"):
        create_container().register(Notifier, instance=EmailNotifier(), scope=Scope.TRANSIENT)


def test_health_check_on_a_transient_is_refused() -> None:
    with pytest.raises(RegistrationError, match="need a singleton"):
        create_container().register(Notifier, EmailNotifier, scope=Scope.TRANSIENT, health=bool)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scope": "transient"}, "scope must be"),
        ({"health": "ping"}, "health must be a callable"),
    ],
)
def test_scope_and_health_of_the_wrong_type_are_refused(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(RegistrationError, match=message):
        create_container().register(Notifier, EmailNotifier, **options)  # type: ignore[arg-type]


def test_interface_must_be_a_class_when_no_provider() -> None:
    with pytest.raises(RegistrationError, match="not a class"):
        create_container().register("database")


@pytest.mark.parametrize("interface", [Notifier, Clock])
def test_abstract_interface_needs_an_implementation(interface: type) -> None:
    with pytest.raises(RegistrationError, match="is abstract"):
        create_container().register(interface)


def test_generator_factories_must_be_singletons() -> None:
    def session() -> object:
        yield object()

    with pytest.raises(RegistrationError, match=r"needs Scope\.SINGLETON"):
        create_container().register(Database, session, scope=Scope.TRANSIENT)


def test_re_registration_replaces_the_wiring(container: Container) -> None:
    before = container.resolve(Service)
    container.register(Clock, instance=FixedClock())
    after = container.resolve(Service)
    assert after.repository.clock is not before.repository.clock
    assert after.repository.clock is container.resolve(Clock)


def test_component_names_stay_unique() -> None:
    container = create_container()
    container.register(Database, name="primary")
    container.register(Repository, name="primary")  # falls back to the module-qualified name
    with pytest.raises(RegistrationError, match="taken"):
        container.register(Service, name="primary")


def test_errors_are_app_errors_with_stable_codes() -> None:
    codes = {
        cls.code
        for cls in (
            AsyncResolutionRequiredError,
            CircularDependencyError,
            FactoryError,
            NotRegisteredError,
            RegistrationError,
            ResolutionError,
        )
    }
    assert len(codes) == 6
    assert all(code.startswith("DI_") and code.isupper() for code in codes)
    assert issubclass(ResolutionError, AppError)
