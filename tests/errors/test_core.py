"""The hierarchy: families, codes, statuses, problem shape, hiding of internal messages."""

from __future__ import annotations

import copy
import pickle

import pytest

import infrakit.errors as errors
from infrakit.errors import (
    AppError,
    ConfigurationError,
    ConflictError,
    DatabaseError,
    DomainBusinessRuleError,
    DomainConflictError,
    DomainError,
    DomainNotFoundError,
    DomainValidationError,
    EntityNotFoundError,
    ForbiddenError,
    InfrastructureError,
    InitializationError,
    MissingDependencyError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServiceError,
    SystemFailureError,
    TechnicalError,
    UnauthorizedError,
    ValidationError,
)
from tests.errors.helpers import make_error

# The documented table (docs/errors.md): class, code, HTTP status.
EXPECTED = [
    (AppError, "INTERNAL_ERROR", 500),
    (ServiceError, "SERVICE_ERROR", 500),
    (NotFoundError, "NOT_FOUND", 404),
    (ConflictError, "CONFLICT", 409),
    (UnauthorizedError, "UNAUTHORIZED", 401),
    (ForbiddenError, "FORBIDDEN", 403),
    (RateLimitedError, "RATE_LIMITED", 429),
    (DomainError, "DOMAIN_ERROR", 400),
    (DomainNotFoundError, "NOT_FOUND", 404),
    (EntityNotFoundError, "NOT_FOUND", 404),
    (DomainConflictError, "CONFLICT", 409),
    (DomainValidationError, "VALIDATION_ERROR", 422),
    (DomainBusinessRuleError, "BUSINESS_RULE_VIOLATION", 422),
    (InfrastructureError, "INFRASTRUCTURE_ERROR", 500),
    (DatabaseError, "DATABASE_ERROR", 500),
    (ValidationError, "VALIDATION_ERROR", 422),
    (NetworkError, "NETWORK_ERROR", 502),
    (TechnicalError, "TECHNICAL_ERROR", 500),
    (ConfigurationError, "CONFIGURATION_ERROR", 500),
    (InitializationError, "INITIALIZATION_ERROR", 500),
    (SystemFailureError, "SYSTEM_FAILURE", 500),
    (MissingDependencyError, "MISSING_DEPENDENCY", 500),
]
ALL_CLASSES = [cls for cls, _, _ in EXPECTED]
# What a middleware may meet: every exported class and every member of a domain family.
SENT_CLASSES = [*ALL_CLASSES, *errors.domain_errors("Invoice").classes()]
RFC_9457_KEYS = {"type", "title", "status", "detail", "instance"}


def test_expected_table_covers_every_exported_error_class() -> None:
    exported = {
        value
        for name in errors.__all__
        if isinstance(value := getattr(errors, name), type) and issubclass(value, AppError)
    }
    assert exported == set(ALL_CLASSES)


@pytest.mark.parametrize(
    ("cls", "code", "status"), EXPECTED, ids=lambda v: getattr(v, "__name__", v)
)
def test_code_and_status(cls: type[AppError], code: str, status: int) -> None:
    error = make_error(cls)
    assert (cls.code, cls.status_code) == (code, status)
    assert (error.code, error.status_code) == (code, status)
    assert error.to_problem()["status"] == status
    assert error.to_problem()["code"] == code


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (ServiceError, AppError),
        (DomainNotFoundError, DomainError),
        (DomainValidationError, DomainError),
        (DomainBusinessRuleError, DomainError),
        (DomainConflictError, DomainError),
        (DatabaseError, InfrastructureError),
        (ValidationError, InfrastructureError),
        (NetworkError, InfrastructureError),
        (ConfigurationError, TechnicalError),
        (InitializationError, TechnicalError),
        (SystemFailureError, TechnicalError),
        (MissingDependencyError, TechnicalError),
        (MissingDependencyError, ImportError),
        (DomainNotFoundError, NotFoundError),
        (DomainConflictError, ConflictError),
        (DomainValidationError, ValidationError),
        (EntityNotFoundError, DomainNotFoundError),
    ],
)
def test_hierarchy(child: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(child, parent)


def test_system_failure_does_not_shadow_the_builtin() -> None:
    assert not hasattr(errors, "SystemError")
    assert not issubclass(SystemFailureError, SystemError)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
def test_problem_shape(cls: type[AppError]) -> None:
    problem = make_error(cls).to_problem("/orders/7")
    assert RFC_9457_KEYS | {"code"} <= problem.keys()
    assert problem["type"] == "about:blank"
    assert problem["instance"] == "/orders/7"
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert "instance" not in make_error(cls).to_problem()


@pytest.mark.parametrize("cls", [cls for cls, _, status in EXPECTED if status >= 500])
def test_internal_messages_and_details_are_hidden(cls: type[AppError]) -> None:
    error = make_error(cls)
    problem = error.to_problem()
    assert problem["detail"] == "An internal error occurred."
    assert "details" not in problem
    assert "hunter2" not in repr(problem)
    assert "redis" not in repr(problem)
    exposed = error.to_problem(expose_internal=True)
    assert exposed["detail"] == error.message


@pytest.mark.parametrize("cls", [cls for cls, _, status in EXPECTED if status < 500])
def test_client_messages_and_details_are_shown(cls: type[AppError]) -> None:
    problem = cls(message="Order 7 is closed.", details={"order": 7}).to_problem()
    assert problem["detail"] == "Order 7 is closed."
    assert problem["details"] == {"order": 7}


def test_expose_message_overrides_the_status_rule() -> None:
    class MaintenanceError(ServiceError):
        code = "MAINTENANCE"
        status_code = 503
        expose_message = True

    class SecretRuleError(DomainError):
        code = "SECRET_RULE"
        expose_message = False

    assert MaintenanceError("Back at 10:00.").to_problem()["detail"] == "Back at 10:00."
    assert SecretRuleError("internal").to_problem()["detail"] == "An internal error occurred."


def test_instance_overrides_and_cause() -> None:
    root = KeyError("k")
    error = ServiceError("boom", code="PAYMENT_DECLINED", status_code=503, cause=root)
    assert (error.code, error.status_code, error.__cause__) == ("PAYMENT_DECLINED", 503, root)
    assert error.title == "Service Unavailable"
    assert ServiceError.code == "SERVICE_ERROR"
    assert repr(error) == "ServiceError(code='PAYMENT_DECLINED', message='boom')"


def test_raise_from_chains_the_cause() -> None:
    def query() -> None:
        try:
            raise ConnectionError("refused")
        except ConnectionError as error:
            raise DatabaseError("query failed") from error

    with pytest.raises(DatabaseError) as caught:
        query()
    assert isinstance(caught.value.__cause__, ConnectionError)


@pytest.mark.parametrize("bad", ["lower_case", "WITH SPACE", "", "TRAILING_", 42])
def test_codes_must_be_upper_snake(bad: object) -> None:
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        AppError("x", code=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="UPPER_SNAKE"):
        type("BadError", (AppError,), {"code": bad})


@pytest.mark.parametrize("bad", [200, 302, 399, 600, "500"])
def test_statuses_must_be_http_errors(bad: object) -> None:
    with pytest.raises(ValueError, match="400-599"):
        AppError("x", status_code=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="400-599"):
        type("BadError", (AppError,), {"status_code": bad})


def test_unregistered_status_gets_a_generic_title() -> None:
    assert AppError("x", status_code=499).title == "Error"


def test_details_are_read_only() -> None:
    error = AppError("x", details={"a": 1})
    with pytest.raises(TypeError):
        error.details["a"] = 2  # type: ignore[index]


def test_headers_of_http_shaped_errors() -> None:
    assert RateLimitedError(retry_after=2.6).headers == {"Retry-After": "3"}
    assert RateLimitedError(retry_after=2.1).headers == {"Retry-After": "3"}  # never too early
    assert RateLimitedError(retry_after=-5).headers == {"Retry-After": "0"}
    for unknown in (float("inf"), float("nan")):  # no header rather than a failing handler
        assert RateLimitedError(retry_after=unknown).headers == {}
    assert RateLimitedError().headers == {}
    assert UnauthorizedError(scheme='Basic realm="api"').headers == {
        "WWW-Authenticate": 'Basic realm="api"'
    }
    assert AppError().headers == {}


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
def test_pickle_and_copy_round_trip(cls: type[AppError]) -> None:
    error = make_error(cls)
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(clone) is cls
        assert clone.to_problem(expose_internal=True) == error.to_problem(expose_internal=True)
        assert clone.args == error.args


def test_pickle_keeps_instance_overrides_and_extra_state() -> None:
    error = RateLimitedError("slow down", retry_after=5, code="TOO_FAST", details={"limit": 10})
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.code, clone.retry_after, dict(clone.details)) == ("TOO_FAST", 5, {"limit": 10})
    assert clone.headers == {"Retry-After": "5"}
    missing = pickle.loads(pickle.dumps(MissingDependencyError("redis", "redis")))
    assert (missing.package, missing.extra) == ("redis", "redis")
