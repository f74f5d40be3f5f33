"""A circuit breaker: after a few consecutive failures, stop calling a dead server for a while.

`closed` lets every call through. `threshold` consecutive failures open it: calls are
skipped (a miss, a False) at the cost of one attribute read, for `reset_after`
seconds; then it is `half_open` and lets one probe through: a success closes it, a
failure opens it again for twice as long (capped at `max_reset_after`). Each change
of state is reported once to `on_change`, so an outage logs a few lines, not one per
call or per health probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from infrakit.cache._protocol import CircuitState

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Counts consecutive failures of one server and decides whether to call it."""

    __slots__ = (
        "_clock",
        "_failures",
        "_on_change",
        "_opened_at",
        "_wait",
        "max_reset_after",
        "reset_after",
        "state",
        "threshold",
    )

    def __init__(
        self,
        *,
        threshold: int = 3,
        reset_after: float = 1.0,
        max_reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState, CircuitState], None] | None = None,
    ) -> None:
        self.threshold = threshold
        self.reset_after = reset_after
        self.max_reset_after = max_reset_after
        self.state: CircuitState = "closed"
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at = 0.0
        self._wait = reset_after

    def allow(self) -> bool:
        """Whether a call may go to the server now (True for the one half-open probe)."""
        if self.state == "closed":
            return True
        if self._clock() - self._opened_at < self._wait:
            return False
        # open long enough (or a half-open probe that never reported back): probe again
        self._opened_at = self._clock()
        self._change("half_open")
        return True

    def succeeded(self) -> None:
        """A call worked: the server is back, or still fine."""
        self._failures = 0
        if self.state != "closed":
            self._wait = self.reset_after
            self._change("closed")

    def failed(self) -> bool:
        """A call failed; returns True when this failure changed the state."""
        self._failures += 1
        if self.state == "half_open":
            self._wait = min(self._wait * 2, self.max_reset_after)
        elif self.state == "open" or self._failures < self.threshold:
            return False
        self._opened_at = self._clock()
        self._change("open")
        return True

    def _change(self, state: CircuitState) -> None:
        previous, self.state = self.state, state
        if self._on_change is not None and previous != state:
            self._on_change(previous, state)
