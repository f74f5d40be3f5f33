"""How long a failed job waits before its next attempt.

A `Backoff` is plain data, so it is stored with the job and every worker computes
the same wait. A callable (a function of the attempt number, or one of tenacity's
wait strategies) lives in the process, so it is given to `register_processor`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Backoff", "BackoffFunction", "backoff_seconds"]

BackoffFunction = Callable[[int], float]


@dataclass(frozen=True, slots=True)
class Backoff:
    """A retry delay policy.

    The original's `calculate_backoff` doubled a base delay after each failed
    attempt (`delay * 2 ** (attempt - 1)`); `Backoff.exponential()` is that, capped
    at `max_delay` and, by default, with full jitter so retries of many jobs that
    failed together do not all come back at the same instant.

    Attributes:
        kind: `"fixed"` or `"exponential"`.
        delay: seconds before the first retry.
        factor: growth per attempt (exponential only).
        max_delay: the cap, in seconds.
        jitter: draw the wait uniformly between half and all of the computed delay.
    """

    kind: Literal["fixed", "exponential"] = "exponential"
    delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 300.0
    jitter: bool = True

    @classmethod
    def fixed(cls, delay: float) -> Backoff:
        """The same wait after every failure."""
        return cls("fixed", delay=delay, factor=1.0, max_delay=delay, jitter=False)

    @classmethod
    def exponential(
        cls,
        delay: float = 1.0,
        *,
        factor: float = 2.0,
        max_delay: float = 300.0,
        jitter: bool = True,
    ) -> Backoff:
        """`delay * factor ** (attempt - 1)`, capped at `max_delay`, jittered by default."""
        return cls("exponential", delay=delay, factor=factor, max_delay=max_delay, jitter=jitter)

    def seconds(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1 for the first failure)."""
        if self.kind == "fixed":
            return self.delay
        computed = min(self.max_delay, self.delay * self.factor ** max(attempt - 1, 0))
        if self.jitter:
            return random.uniform(computed / 2, computed)
        return computed

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Backoff:
        """Read the stored form back; unknown or missing keys take the defaults."""
        known = {key: values[key] for key in cls.__dataclass_fields__ if key in values}
        return cls(**known)


def backoff_seconds(policy: Backoff | BackoffFunction | Any, attempt: int) -> float:
    """The wait for `attempt` under a `Backoff`, a function of the attempt or a tenacity wait."""
    if isinstance(policy, Backoff):
        return policy.seconds(attempt)
    if _is_tenacity_wait(policy):
        from tenacity import RetryCallState

        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        wait: Any = policy
        return max(float(wait(state)), 0.0)
    return max(float(policy(attempt)), 0.0)


def _is_tenacity_wait(policy: object) -> bool:
    from tenacity.wait import wait_base

    return isinstance(policy, wait_base)
