"""Turning a registration and its dependencies into closures that build it.

The sync builder is generated source (like `dataclasses` does) so one resolve is
one Python call per node with its arguments inline: no loops, no dict of kwargs,
no per-call introspection. Exceptions pay the bookkeeping, the happy path pays nothing.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, NoReturn

from infrakit.di._errors import AsyncResolutionRequiredError, FactoryError
from infrakit.di._plan import Kind, Parameter
from infrakit.di._protocol import Scope
from infrakit.errors import AppError

__all__ = ["Node", "compile_async_call", "compile_call", "refuse_sync", "start_generator"]


def _refuse() -> Any:
    raise AssertionError("node not compiled")  # pragma: no cover


class Node:
    """A compiled registration: `get` builds or fetches it; `aget` when async is needed."""

    __slots__ = ("acall", "aget", "call", "get", "key", "kind", "name", "needs_async", "scope")

    def __init__(self, key: Any, name: str, kind: Kind, scope: Scope) -> None:
        self.key = key
        self.name = name
        self.kind = kind
        self.scope = scope
        self.needs_async = False
        self.get: Callable[[], Any] = _refuse
        self.call: Callable[[], Any] = _refuse
        self.aget: Callable[[], Awaitable[Any]] | None = None
        self.acall: Callable[[], Awaitable[tuple[Any, Any]]] | None = None


def compile_call(
    provider: Callable[..., Any], dependencies: list[tuple[Parameter, Node]], name: str
) -> Callable[[], Any]:
    """A function calling `provider` with each dependency's `get()` as its argument."""
    namespace: dict[str, Any] = {
        "_provider": provider,
        "_AppError": AppError,
        "_failed": _failure(name),
        "_note": f"while building {name}",
    }
    arguments: list[str] = []
    for index, (parameter, node) in enumerate(dependencies):
        namespace[f"_get{index}"] = node.get
        if parameter.position == len(arguments):
            arguments.append(f"_get{index}()")
        else:
            arguments.append(f"{parameter.name}=_get{index}()")
    source = (
        "def call():\n"
        "    try:\n"
        f"        return _provider({', '.join(arguments)})\n"
        "    except _AppError as error:\n"
        "        error.add_note(_note)\n"
        "        raise\n"
        "    except Exception as error:\n"
        "        raise _failed(error) from error\n"
    )
    exec(source, namespace)  # only parameter names from inspect.signature reach the source
    call: Callable[[], Any] = namespace["call"]
    return call


def compile_async_call(
    provider: Callable[..., Any],
    dependencies: list[tuple[Parameter, Node]],
    name: str,
    kind: Kind,
) -> Callable[[], Awaitable[tuple[Any, Any]]]:
    """An async function returning `(component, raw)`; raw is the generator to finish."""
    sources = [
        (parameter.name, parameter.positional_only, node.aget or node.get, node.aget is not None)
        for parameter, node in dependencies
    ]
    failed = _failure(name)
    note = f"while building {name}"

    async def acall() -> tuple[Any, Any]:
        try:
            positional, keyword = [], {}
            for parameter_name, positional_only, getter, awaited in sources:
                value = await getter() if awaited else getter()
                if positional_only:
                    positional.append(value)
                else:
                    keyword[parameter_name] = value
            return await _finish(kind, provider(*positional, **keyword), name)
        except AppError as error:
            error.add_note(note)
            raise
        except Exception as error:
            raise failed(error) from error

    return acall


async def _finish(kind: Kind, raw: Any, name: str) -> tuple[Any, Any]:
    if kind is Kind.COROUTINE:
        return await raw, None
    if kind is Kind.ASYNC_GENERATOR:
        return await _start_async_generator(raw, name), raw
    if kind is Kind.GENERATOR:
        return start_generator(raw, name), raw
    return raw, None


def refuse_sync(name: str) -> NoReturn:
    """What `resolve` does on reaching an async factory that has not been built yet."""
    raise AsyncResolutionRequiredError(
        f"{name} is built by an async factory, so resolve() cannot build it "
        "(nor anything that needs it); use `await container.aresolve(...)`",
        details={"component": name},
    )


def start_generator(generator: Generator[Any, None, None], name: str) -> Any:
    """Run a generator factory up to its `yield`; the value it yields is the component."""
    try:
        return next(generator)
    except StopIteration:
        raise FactoryError(f"the generator factory of {name} returned without yielding") from None
    except AppError:
        raise
    except Exception as error:
        raise _failure(name)(error) from error


async def _start_async_generator(generator: AsyncGenerator[Any, None], name: str) -> Any:
    try:
        return await anext(generator)
    except StopAsyncIteration:
        raise FactoryError(
            f"the async generator factory of {name} returned without yielding"
        ) from None


def _failure(name: str) -> Callable[[Exception], FactoryError]:
    def failed(error: Exception) -> FactoryError:
        return FactoryError(
            f"{name} could not be built: its constructor or factory raised "
            f"{type(error).__name__} (chained as the cause)",
            details={"component": name},
        )

    return failed
