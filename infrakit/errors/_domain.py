"""Error families per domain entity, as the original's `UserErrors`: `domain_errors("User")`."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from infrakit.errors._core import (
    AppError,
    DomainBusinessRuleError,
    DomainConflictError,
    DomainNotFoundError,
    DomainValidationError,
    ForbiddenError,
    ServiceError,
    UnauthorizedError,
)

__all__ = ["DomainErrors", "EntityNotFoundError", "domain_errors"]

_ENTITY = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[0-9]+")


class EntityNotFoundError(DomainNotFoundError):
    """No entity has this identifier; the message names both (`User not found: 42`).

    `domain_errors()` subclasses it per entity; subclass it yourself when you want a
    class a type checker can see by name (`class UserNotFoundError(EntityNotFoundError)`
    with `label = "User"` and `code = "USER_NOT_FOUND"`).
    """

    label: ClassVar[str] = "Resource"

    def __init__(
        self,
        identifier: object = None,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        code: str | None = None,
        status_code: int | None = None,
        cause: BaseException | None = None,
    ) -> None:
        if message is None:
            suffix = "" if identifier is None else f": {identifier}"
            message = f"{self.label} not found{suffix}"
        super().__init__(message, details=details, code=code, status_code=status_code, cause=cause)
        self.identifier = identifier


@dataclass(frozen=True)
class DomainErrors:
    """The error classes of one entity; each is a real, picklable, named subclass.

    `Operation` is a `ServiceError` (500, message hidden from clients): an operation
    on the entity failed for a reason the caller cannot fix. The others are client
    errors whose messages are shown.
    """

    entity: str
    NotFound: type[EntityNotFoundError]
    Validation: type[DomainValidationError]
    Operation: type[ServiceError]
    Conflict: type[DomainConflictError]
    BusinessRule: type[DomainBusinessRuleError]
    Unauthorized: type[UnauthorizedError]
    Forbidden: type[ForbiddenError]

    def classes(self) -> tuple[type[AppError], ...]:
        """Every class of the family, in declaration order (handy to register handlers)."""
        return (
            self.NotFound,
            self.Validation,
            self.Operation,
            self.Conflict,
            self.BusinessRule,
            self.Unauthorized,
            self.Forbidden,
        )


class _Kind(NamedTuple):
    attribute: str
    base: type[AppError]
    code_suffix: str
    default_message: str | None  # None keeps the base class's message


_KINDS = (
    _Kind("NotFound", EntityNotFoundError, "NOT_FOUND", None),
    _Kind("Validation", DomainValidationError, "VALIDATION_ERROR", "Invalid {lower} data."),
    _Kind("Operation", ServiceError, "OPERATION_FAILED", "The {lower} operation failed."),
    _Kind(
        "Conflict",
        DomainConflictError,
        "CONFLICT",
        "The request conflicts with the current state of the {lower}.",
    ),
    _Kind(
        "BusinessRule",
        DomainBusinessRuleError,
        "BUSINESS_RULE_VIOLATION",
        "The {lower} operation breaks a business rule.",
    ),
    _Kind("Unauthorized", UnauthorizedError, "UNAUTHORIZED", None),
    _Kind("Forbidden", ForbiddenError, "FORBIDDEN", None),
)
_families: dict[str, DomainErrors] = {}
_families_lock = threading.Lock()


def domain_errors(entity: str) -> DomainErrors:
    """Return the error family of `entity`, created once and shared by every caller.

    `domain_errors("OrderItem").NotFound(7)` is an `OrderItemNotFoundError` with code
    `ORDER_ITEM_NOT_FOUND` and message `Order item not found: 7`. Calling it again with
    the same name returns the same classes, so `except` clauses and pickling agree
    across modules and processes.

    Args:
        entity: the entity name in PascalCase (`User`, `OrderItem`, `HTTPRoute`).

    Returns:
        The frozen `DomainErrors` namespace of the entity's error classes.

    Raises:
        ValueError: `entity` is not a PascalCase identifier (it becomes class names).
    """
    if not isinstance(entity, str) or not _ENTITY.match(entity):
        raise ValueError(f"entity must be a PascalCase identifier such as 'OrderItem': {entity!r}")
    with _families_lock:
        family = _families.get(entity)
        if family is None:
            family = _families[entity] = _build_family(entity)
    return family


def _build_family(entity: str) -> DomainErrors:
    words = _WORDS.findall(entity)
    code_prefix = "_".join(word.upper() for word in words)
    lower = " ".join(word if word.isupper() else word.lower() for word in words)
    label = lower[:1].upper() + lower[1:]
    classes = {
        kind.attribute: _build_class(entity, kind, code_prefix, label, lower) for kind in _KINDS
    }
    return DomainErrors(entity=entity, **classes)  # type: ignore[arg-type]


def _build_class(
    entity: str, kind: _Kind, code_prefix: str, label: str, lower: str
) -> type[AppError]:
    name = f"{entity}{kind.attribute}Error"
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": f"families.{name}",
        "__doc__": f"{kind.base.__name__} of the {entity} entity.",
        "code": f"{code_prefix}_{kind.code_suffix}",
        "entity": entity,
        "label": label,
    }
    if kind.default_message is not None:
        namespace["default_message"] = kind.default_message.format(lower=lower)
    return type(name, (kind.base,), namespace)


class _Families:
    """Finds generated classes by name: their `__qualname__` is `families.<Name>`, so pickle
    looks them up here and a new process rebuilds them on demand."""

    def __getattr__(self, name: str) -> type[AppError]:
        for kind in _KINDS:
            entity = name.removesuffix(f"{kind.attribute}Error")
            if entity != name and _ENTITY.match(entity):
                found: type[AppError] = getattr(domain_errors(entity), kind.attribute)
                return found
        raise AttributeError(f"no domain error class named {name!r}")


families = _Families()
