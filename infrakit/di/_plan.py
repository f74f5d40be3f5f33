"""Reading a provider once: what it is (class, factory, generator...) and what it needs.

The container turns this description into a compiled builder, so the cost of
`inspect` and `typing.get_type_hints` is paid once per registration, not per resolve
(the part of punq's resolve path that dominates its cost).
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from infrakit.di._errors import ResolutionError

__all__ = [
    "NO_KEY",
    "Kind",
    "Parameter",
    "describe",
    "kind_of",
    "parameters_of",
    "split_arguments",
]

T = TypeVar("T")

NO_KEY: Any = object()
"""The dependency key of a parameter that has no usable type hint."""


class Kind(enum.Enum):
    """How calling a provider turns into a component."""

    PLAIN = "plain"
    COROUTINE = "coroutine"
    GENERATOR = "generator"
    ASYNC_GENERATOR = "async generator"
    INSTANCE = "instance"

    @property
    def is_async(self) -> bool:
        return self in (Kind.COROUTINE, Kind.ASYNC_GENERATOR)


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter of a provider and the key its value is resolved from."""

    name: str
    key: Any
    index: int  # place in the signature: positional-only arguments must not skip one
    positional_only: bool
    has_default: bool


def describe(key: Any) -> str:
    """A short human name for a key, used in error messages, health and stats."""
    name = getattr(key, "__qualname__", None) or getattr(key, "__name__", None)
    if not isinstance(name, str):
        return repr(key)
    return name.rpartition("<locals>.")[2]


def kind_of(provider: Callable[..., Any]) -> Kind:
    """Classify a provider; classes are plain even when their methods are async."""
    if isinstance(provider, type):
        return Kind.PLAIN
    target = provider
    if not (inspect.isfunction(target) or inspect.ismethod(target)) and not isinstance(
        target, functools.partial
    ):
        target = type(provider).__call__
    if inspect.isasyncgenfunction(target):
        return Kind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(target):
        return Kind.COROUTINE
    if inspect.isgeneratorfunction(target):
        return Kind.GENERATOR
    return Kind.PLAIN


def parameters_of(provider: Callable[..., Any], names: Mapping[str, Any]) -> tuple[Parameter, ...]:
    """The injectable parameters of `provider`; `names` resolves string annotations.

    Raises:
        ResolutionError: an annotation names something that does not exist.
    """
    try:
        signature = inspect.signature(provider)
    except (TypeError, ValueError):  # builtins without a signature take nothing we can inject
        return ()
    hints = _type_hints(provider, names)
    found = []
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(parameter.name, parameter.annotation)
        found.append(
            Parameter(
                name=parameter.name,
                key=_dependency_key(annotation),
                index=index,
                positional_only=parameter.kind is parameter.POSITIONAL_ONLY,
                has_default=parameter.default is not parameter.empty,
            )
        )
    return tuple(found)


def _type_hints(provider: Callable[..., Any], names: Mapping[str, Any]) -> dict[str, Any]:
    target: Any = provider
    while isinstance(target, functools.partial):
        target = target.func
    if isinstance(target, type):
        target = target.__init__  # type: ignore[misc]
    elif not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = type(target).__call__
    try:
        return typing.get_type_hints(target, localns=dict(names))
    except NameError as error:
        raise ResolutionError(
            f"cannot read the type hints of {describe(provider)}: {error}; register the "
            "missing type first or import it at module level",
            details={"provider": describe(provider)},
        ) from error
    except TypeError:  # slot wrappers (object.__init__) and other non-Python callables
        return {}


def _dependency_key(annotation: Any) -> Any:
    """The key to resolve: the annotation itself, or `X` for `X | None`."""
    if annotation is inspect.Parameter.empty or isinstance(annotation, str):
        return NO_KEY
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def split_arguments(
    pairs: list[tuple[Parameter, T]], name: str
) -> tuple[list[T], list[tuple[str, T]]]:
    """Sort `(parameter, value)` pairs into positional values and keyword `(name, value)`.

    Raises:
        ResolutionError: a positional-only parameter follows one left to its default,
            so no call can pass it without also passing the skipped one.
    """
    positional: list[T] = []
    keyword: list[tuple[str, T]] = []
    for parameter, value in pairs:
        if not parameter.positional_only:
            keyword.append((parameter.name, value))
        elif parameter.index == len(positional):
            positional.append(value)
        else:
            raise ResolutionError(
                f"positional-only parameter {parameter.name!r} of {name} follows one left to "
                "its default, so it cannot be passed; register the earlier one's type too",
                details={"component": name, "parameter": parameter.name},
            )
    return positional, keyword
