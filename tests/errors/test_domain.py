"""domain_errors: per-entity families of real, named, catchable, picklable classes."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import pytest

from infrakit.errors import (
    AppError,
    ConflictError,
    DomainBusinessRuleError,
    DomainError,
    DomainErrors,
    DomainNotFoundError,
    DomainValidationError,
    EntityNotFoundError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ServiceError,
    UnauthorizedError,
    domain_errors,
)

UserErrors = domain_errors("User")

FAMILY = [
    ("NotFound", "UserNotFoundError", "USER_NOT_FOUND", 404, EntityNotFoundError),
    ("Validation", "UserValidationError", "USER_VALIDATION_ERROR", 422, DomainValidationError),
    ("Operation", "UserOperationError", "USER_OPERATION_FAILED", 500, ServiceError),
    ("Conflict", "UserConflictError", "USER_CONFLICT", 409, ConflictError),
    (
        "BusinessRule",
        "UserBusinessRuleError",
        "USER_BUSINESS_RULE_VIOLATION",
        422,
        DomainBusinessRuleError,
    ),
    ("Unauthorized", "UserUnauthorizedError", "USER_UNAUTHORIZED", 401, UnauthorizedError),
    ("Forbidden", "UserForbiddenError", "USER_FORBIDDEN", 403, ForbiddenError),
]


def test_not_found_message_and_code() -> None:
    error = UserErrors.NotFound("42")
    assert str(error) == "User not found: 42"
    assert error.code == "USER_NOT_FOUND"
    assert error.status_code == 404
    assert error.identifier == "42"
    assert error.to_problem()["detail"] == "User not found: 42"
    assert str(UserErrors.NotFound()) == "User not found"
    assert str(UserErrors.NotFound(7, "No such account.")) == "No such account."


@pytest.mark.parametrize(("attribute", "name", "code", "status", "base"), FAMILY)
def test_family_member(
    attribute: str, name: str, code: str, status: int, base: type[AppError]
) -> None:
    cls = getattr(UserErrors, attribute)
    assert cls.__name__ == name
    assert issubclass(cls, base)
    error = cls()
    assert (error.code, error.status_code, error.to_problem()["status"]) == (code, status, status)
    assert cls.entity == "User"


def test_catchable_by_family() -> None:
    with pytest.raises(NotFoundError):
        raise UserErrors.NotFound("1")
    with pytest.raises(DomainNotFoundError):
        raise UserErrors.NotFound("1")
    with pytest.raises(DomainError):
        raise UserErrors.Conflict("email taken")
    with pytest.raises(ConflictError):
        raise UserErrors.Conflict("email taken")
    with pytest.raises(UserErrors.NotFound):
        raise UserErrors.NotFound("1")
    assert not issubclass(UserErrors.Operation, DomainError)


def test_family_members_are_distinct_across_entities() -> None:
    order = domain_errors("Order")
    assert not issubclass(order.NotFound, UserErrors.NotFound)
    with pytest.raises(EntityNotFoundError):
        raise order.NotFound(3)


@pytest.mark.parametrize(
    ("entity", "code", "message"),
    [
        ("OrderItem", "ORDER_ITEM_NOT_FOUND", "Order item not found: 7"),
        ("HTTPRoute", "HTTP_ROUTE_NOT_FOUND", "HTTP route not found: 7"),
        ("User2FA", "USER2_FA_NOT_FOUND", "User2 FA not found: 7"),
        ("API", "API_NOT_FOUND", "API not found: 7"),
    ],
)
def test_multi_word_entities(entity: str, code: str, message: str) -> None:
    error = domain_errors(entity).NotFound(7)
    assert (error.code, str(error)) == (code, message)
    assert type(error).__name__ == f"{entity}NotFoundError"


def test_default_messages_use_the_entity() -> None:
    family = domain_errors("OrderItem")
    assert str(family.Validation()) == "Invalid order item data."
    assert (
        str(family.Conflict()) == "The request conflicts with the current state of the order item."
    )
    assert str(family.BusinessRule()) == "The order item operation breaks a business rule."
    assert family.Operation("charge failed").to_problem()["detail"] == "An internal error occurred."


def test_validation_member_keeps_field_errors() -> None:
    error = UserErrors.Validation(errors=[FieldError(pointer="#/email", detail="is required")])
    assert error.to_problem()["errors"] == [{"pointer": "#/email", "detail": "is required"}]


def test_same_family_for_the_same_name_even_across_threads() -> None:
    results: list[DomainErrors] = []
    threads = [
        threading.Thread(target=lambda: results.append(domain_errors("Invoice"))) for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(family is results[0] for family in results)
    assert domain_errors("User") is UserErrors
    assert UserErrors.classes()[0] is UserErrors.NotFound
    assert len(UserErrors.classes()) == 7


@pytest.mark.parametrize("bad", ["user", "Order Item", "order_item", "", "User-Account", "Élan"])
def test_invalid_entity_names(bad: str) -> None:
    with pytest.raises(ValueError, match="PascalCase"):
        domain_errors(bad)


def test_namespace_is_frozen() -> None:
    with pytest.raises(AttributeError):
        UserErrors.NotFound = UserErrors.Conflict  # type: ignore[misc, assignment]


def test_classes_and_instances_pickle() -> None:
    error = UserErrors.NotFound("42", details={"tenant": "a"})
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is UserErrors.NotFound
    assert (str(clone), clone.identifier, dict(clone.details)) == (
        "User not found: 42",
        "42",
        {"tenant": "a"},
    )
    for cls in UserErrors.classes():
        assert pickle.loads(pickle.dumps(cls)) is cls
    assert pickle.loads(pickle.dumps(UserErrors)) == UserErrors


def test_unpickled_in_a_fresh_process() -> None:
    payload = pickle.dumps(domain_errors("Shipment").Conflict("already shipped"))
    script = (
        "import pickle, sys\n"
        "from infrakit.errors import ConflictError\n"
        "error = pickle.loads(sys.stdin.buffer.read())\n"
        "assert isinstance(error, ConflictError), type(error)\n"
        "print(type(error).__name__, error.code, error)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], input=payload, capture_output=True, check=True, timeout=60
    )
    assert (
        completed.stdout.decode().strip()
        == "ShipmentConflictError SHIPMENT_CONFLICT already shipped"
    )


def test_traceback_names_the_class() -> None:
    assert UserErrors.NotFound.__module__ == "infrakit.errors._domain"
    assert UserErrors.NotFound.__qualname__ == "families.UserNotFoundError"
