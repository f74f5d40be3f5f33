"""A registered processor: how to call it, and how to type its payload."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from infrakit.jobs._backoff import Backoff, BackoffFunction, backoff_seconds
from infrakit.jobs._models import Job

__all__ = ["PayloadError", "Processor", "ProcessorFunction"]

ProcessorFunction = Callable[[Job[Any]], Any] | Callable[[Job[Any]], Awaitable[Any]]


class PayloadError(Exception):
    """The stored payload does not fit the processor's declared model (never retried)."""


@dataclass(slots=True)
class Processor:
    """A processor function with its limits; `call` validates the payload first."""

    function: ProcessorFunction
    concurrency: int
    backoff: BackoffFunction | Any | None
    data_type: type[Any] | None
    is_async: bool
    slots: asyncio.Semaphore | None = None

    @classmethod
    def create(
        cls,
        function: ProcessorFunction,
        concurrency: int,
        backoff: BackoffFunction | Any | None,
        data_type: type[Any] | None,
    ) -> Processor:
        chosen = data_type if data_type is not None else _declared_model(function)
        is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004
        )
        return cls(function, concurrency, backoff, chosen, is_async)

    def semaphore(self) -> asyncio.Semaphore:
        """The per-type limit, made on the worker's loop."""
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.concurrency)
        return self.slots

    async def call(self, job: Job[Any]) -> Any:
        typed = self._typed(job)
        if self.is_async:
            return await self.function(typed)
        result = await asyncio.to_thread(self.function, typed)
        if inspect.isawaitable(result):  # a partial or wrapper of a coroutine function
            return await result
        return result

    def retry_in(self, job: Job[Any]) -> float | None:
        """Seconds until the next attempt, or None when the attempts are spent."""
        if job.attempts >= job.max_attempts:
            return None
        if self.backoff is not None:
            return backoff_seconds(self.backoff, job.attempts)
        return Backoff.from_dict(job.backoff).seconds(job.attempts)

    def _typed(self, job: Job[Any]) -> Job[Any]:
        model = self.data_type
        if model is None:
            return job
        try:
            data = model.model_validate(job.data)
        except Exception as error:
            fields = ", ".join(
                ".".join(map(str, item.get("loc", ()))) for item in getattr(error, "errors", list)()
            )
            raise PayloadError(
                f"payload does not fit {model.__name__} (fields: {fields})"
            ) from None
        return dataclasses.replace(job, data=data)


def _declared_model(function: Callable[..., Any]) -> type[Any] | None:
    """The pydantic model in a `job: Job[Model]` annotation, if any."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        return None
    parameters = [name for name in hints if name != "return"]
    if not parameters:
        return None
    arguments = typing.get_args(hints[parameters[0]])
    candidate = arguments[0] if arguments else None
    if isinstance(candidate, type) and hasattr(candidate, "model_validate"):
        return candidate
    return None
