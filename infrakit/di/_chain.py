"""Which builds the current flow is inside, and which builds wait on which.

A factory may resolve through the container from its body, also from another task
(`asyncio.gather`, `create_task`). The chain of builds in progress lives in a context
variable, which asyncio copies into every task a factory creates, so a factory that
reaches itself again is seen wherever the request comes from. Two builds started by
independent callers can still wait on each other (A's factory awaits B while B's
factory, started elsewhere, awaits A); the wait graph records "build X is awaiting
build Y" so that the second wait is refused as a cycle instead of hanging forever.
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from infrakit.di._errors import CircularDependencyError

__all__ = ["CHAIN", "Step", "WaitGraph", "cycle_error", "loop_in", "waiting_build"]


@dataclass(slots=True, eq=False)
class Step:
    """One build: which container (`owner`), which key, its name for messages.

    `done` turns True when the build ends: a task a factory started in the background
    keeps the chain it was created with, and must not see a finished build as a loop.
    """

    owner: object
    key: Any
    name: str
    done: bool = False


CHAIN: contextvars.ContextVar[tuple[Step, ...]] = contextvars.ContextVar(
    "infrakit_di_chain", default=()
)


def loop_in(chain: tuple[Step, ...], owner: object, key: Any) -> list[str] | None:
    """The names from the first build of `key` in `chain` to the end, or None."""
    for position, step in enumerate(chain):
        if step.owner is owner and step.key == key and not step.done:
            return [later.name for later in chain[position:] if not later.done]
    return None


def waiting_build(chain: tuple[Step, ...], owner: object) -> Step | None:
    """The innermost build of `owner` still in progress in this flow, or None."""
    for step in reversed(chain):
        if step.owner is owner and not step.done:
            return step
    return None


def cycle_error(names: list[str]) -> CircularDependencyError:
    """The error for a loop of builds; `names` starts and ends with the same component."""
    if len(names) == 2:
        message = f"{names[0]} asked for itself while being built (its factory resolves it)"
    else:
        message = "circular dependency: " + " -> ".join(names)
    return CircularDependencyError(message, details={"path": names})


class WaitGraph:
    """Edges "the build of X awaits the build of Y" for the builds of one container."""

    def __init__(self) -> None:
        self._edges: dict[Any, Counter[Any]] = {}
        self._names: dict[Any, str] = {}
        self._lock = threading.Lock()

    def add(self, waiter: Step, awaited: Any, awaited_name: str) -> None:
        """Record that `waiter` awaits `awaited`, unless that closes a loop.

        Raises:
            CircularDependencyError: `awaited` already (transitively) awaits `waiter`.
        """
        with self._lock:
            path = self._path(awaited, waiter.key)
            if path is not None:
                names = [waiter.name, *(self._names.get(key, awaited_name) for key in path)]
                raise cycle_error(names)
            self._edges.setdefault(waiter.key, Counter())[awaited] += 1
            self._names[waiter.key] = waiter.name
            self._names.setdefault(awaited, awaited_name)

    def remove(self, waiter: Step, awaited: Any) -> None:
        with self._lock:
            edges = self._edges.get(waiter.key)
            if edges is None:
                return
            edges[awaited] -= 1
            if edges[awaited] <= 0:
                del edges[awaited]
            if not edges:
                del self._edges[waiter.key]

    def _path(self, start: Any, goal: Any) -> list[Any] | None:
        """Keys from `start` to `goal` following the edges (both included), or None."""
        stack: list[tuple[Any, list[Any]]] = [(start, [start])]
        seen = {start}
        while stack:
            key, path = stack.pop()
            if key == goal:
                return path
            for following in self._edges.get(key, ()):
                if following not in seen:
                    seen.add(following)
                    stack.append((following, [*path, following]))
        return None
