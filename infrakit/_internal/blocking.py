"""`drive`: run an async method of infrakit whose I/O underneath blocks, without a loop.

The blocking forms (`infrakit.db.sync`, `infrakit.cache.sync`, the builder's
`start_sync`) do not copy the async code: they give it I/O objects whose `async`
methods make a blocking call and return, so its coroutines never suspend and finish in
one `send(None)`. Something that does suspend (it needs a real event loop) is closed
and reported with the caller's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["drive"]

ResultT = TypeVar("ResultT")


def drive(
    coroutine: Coroutine[Any, Any, ResultT], needs_loop: Callable[[], BaseException]
) -> ResultT:
    """The coroutine's result; `needs_loop()` is raised if it tried to wait for a loop."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    coroutine.close()
    raise needs_loop()
